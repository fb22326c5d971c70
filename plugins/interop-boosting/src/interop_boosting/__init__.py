"""interop plugin: XGBoost and LightGBM models to ONNX, checked against their native predict."""

__version__ = "0.1.0"
