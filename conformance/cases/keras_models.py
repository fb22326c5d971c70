"""Keras 3 and TensorFlow conformance cases: small real models, fixed seeds, batch 8 inputs."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from typing import Any

import numpy as np

from conformance.cases import Case

BATCH = 8


def _seed(seed: int) -> np.random.Generator:
    import keras

    keras.utils.set_random_seed(seed)
    return np.random.default_rng(seed)


def _normal(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal((BATCH, *shape)).astype(np.float32)


def mlp() -> tuple[Any, Any]:
    import keras

    rng = _seed(1)
    model = keras.Sequential(
        [
            keras.Input((12,), name="features"),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(16, activation="tanh"),
            keras.layers.Dense(4, name="logits"),
        ],
        name="mlp",
    )
    return model, _normal(rng, 12)


def cnn_batchnorm() -> tuple[Any, Any]:
    import keras

    rng = _seed(2)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3), name="image"),
            keras.layers.Conv2D(8, 3, padding="same"),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(16, 3),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(5, name="logits"),
        ],
        name="cnn_bn",
    )
    # Fresh BatchNormalization is the identity (mean 0, variance 1); give it real statistics
    # so that a converter that drops or misfolds them is caught.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, n).astype(np.float32),
                    rng.normal(0.0, 0.3, n).astype(np.float32),
                    rng.normal(0.0, 0.5, n).astype(np.float32),
                    rng.uniform(0.5, 2.0, n).astype(np.float32),
                ]
            )
    return model, _normal(rng, 16, 16, 3)


def two_in_two_out() -> tuple[Any, Any]:
    import keras

    rng = _seed(3)
    left = keras.Input((6,), name="left")
    right = keras.Input((4,), name="right")
    merged = keras.layers.Concatenate()(
        [
            keras.layers.Dense(8, activation="relu")(left),
            keras.layers.Dense(8, activation="relu")(right),
        ]
    )
    score = keras.layers.Dense(3, activation="softmax", name="score")(merged)
    aux = keras.layers.Dense(1, name="aux")(merged)
    model = keras.Model([left, right], [score, aux], name="two_in_two_out")
    return model, (_normal(rng, 6), _normal(rng, 4))


def dict_io() -> tuple[Any, Any]:
    import keras

    rng = _seed(4)
    num = keras.Input((5,), name="numeric")
    emb = keras.Input((3,), name="embedding")
    hidden = keras.layers.Dense(8, activation="relu")(keras.layers.Concatenate()([num, emb]))
    model = keras.Model(
        {"numeric": num, "embedding": emb},
        {"mean": keras.layers.Dense(2)(hidden), "log_var": keras.layers.Dense(2)(hidden)},
        name="dict_io",
    )
    return model, {"numeric": _normal(rng, 5), "embedding": _normal(rng, 3)}


def _sequence_model(name: str, recurrent: Any, seed: int) -> tuple[Any, Any]:
    import keras

    rng = _seed(seed)
    model = keras.Sequential(
        [keras.Input((10, 6), name="sequence"), recurrent, keras.layers.Dense(3, name="logits")],
        name=name,
    )
    return model, _normal(rng, 10, 6)


def lstm() -> tuple[Any, Any]:
    import keras

    return _sequence_model("lstm", keras.layers.LSTM(12), 5)


def gru() -> tuple[Any, Any]:
    import keras

    return _sequence_model("gru", keras.layers.GRU(12), 6)


def bidirectional_lstm() -> tuple[Any, Any]:
    import keras

    return _sequence_model("bilstm", keras.layers.Bidirectional(keras.layers.LSTM(8)), 7)


def attention_block() -> tuple[Any, Any]:
    import keras

    rng = _seed(8)
    tokens = keras.Input((6, 16), name="tokens")
    attended = keras.layers.MultiHeadAttention(num_heads=2, key_dim=8)(tokens, tokens)
    x = keras.layers.LayerNormalization()(tokens + attended)
    ffn = keras.layers.Dense(16)(keras.layers.Dense(32, activation="relu")(x))
    out = keras.layers.LayerNormalization(name="encoded")(x + ffn)
    model = keras.Model(tokens, out, name="attention_block")
    return model, _normal(rng, 6, 16)


def gelu_mlp() -> tuple[Any, Any]:
    import keras

    rng = _seed(9)
    model = keras.Sequential(
        [
            keras.Input((10,), name="features"),
            keras.layers.Dense(24, activation="gelu"),  # exact GELU: TensorFlow lowers it to Erfc
            keras.layers.Dense(4, name="logits"),
        ],
        name="gelu_mlp",
    )
    return model, 3.0 * _normal(rng, 10)  # wide range: exercises both Erfc tails


def tf_module() -> tuple[Any, Any]:
    import tensorflow as tf

    rng = _seed(10)

    class Scorer(tf.Module):
        """A hand-written tf.Module: one dense layer with a softplus, no input signature."""

        def __init__(self) -> None:
            super().__init__(name="scorer")
            self.kernel = tf.Variable(rng.standard_normal((7, 3)).astype(np.float32))
            self.bias = tf.Variable(rng.standard_normal(3).astype(np.float32))

        @tf.function
        def __call__(self, x: Any) -> Any:
            return tf.nn.softplus(tf.matmul(x, self.kernel) + self.bias)

    return Scorer(), _normal(rng, 7)


def saved_model() -> tuple[Any, Any]:
    import keras

    rng = _seed(11)
    model = keras.Sequential(
        [
            keras.Input((9,), name="features"),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(2, name="logits"),
        ],
        name="saved",
    )
    directory = tempfile.mkdtemp(prefix="interop-savedmodel-")
    atexit.register(shutil.rmtree, directory, True)
    model.export(directory, format="tf_saved_model", verbose=False)
    return directory, _normal(rng, 9)


CASES = [
    Case("keras_mlp", "tensorflow", mlp),
    Case("keras_cnn_batchnorm", "tensorflow", cnn_batchnorm, tags=("cnn", "batchnorm")),
    Case("keras_two_in_two_out", "tensorflow", two_in_two_out, tags=("multi-io",)),
    Case("keras_dict_io", "tensorflow", dict_io, tags=("multi-io", "dict")),
    Case("keras_lstm", "tensorflow", lstm, tags=("rnn",)),
    Case("keras_gru", "tensorflow", gru, tags=("rnn",)),
    Case("keras_bidirectional_lstm", "tensorflow", bidirectional_lstm, tags=("rnn",)),
    Case("keras_attention_block", "tensorflow", attention_block, tags=("attention",)),
    Case("keras_gelu_mlp", "tensorflow", gelu_mlp, tags=("gelu",)),
    Case("tf_module_function", "tensorflow", tf_module, tags=("tf.function",)),
    Case("tf_saved_model", "tensorflow", saved_model, tags=("savedmodel",)),
]
