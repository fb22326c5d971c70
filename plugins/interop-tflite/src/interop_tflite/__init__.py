"""interop plugin: Keras/TensorFlow models to TFLite, run on LiteRT (ai_edge_litert)."""

__version__ = "0.1.0"
