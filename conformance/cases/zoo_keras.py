"""Zoo tier: every Keras Applications family (Keras 3), random weights, small inputs, logits.

``weights=None`` downloads nothing. Each model gets the smallest input its family accepts
(32 px; 75 px for InceptionV3 and InceptionResNetV2, 71 px for Xception), 10 classes and
``classifier_activation=None``, so the check compares logits rather than softmax outputs that
would hide errors. Images are uniform in [0, 255) for the families that include their own
preprocessing (ConvNeXt, EfficientNet, EfficientNetV2, MobileNetV3) and in [-1, 1) for the
rest. Keras 3.15 has no RegNet application (tf.keras 2.9 had), so RegNet is not here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from conformance.cases import Case

BATCH = 8
CALIBRATION = 32
"""Images the BatchNorm statistics come from: their own draw, not the example batch."""
CLASSES = 10
TAGS = ("keras-app", "cnn")


def _build(application: str, size: int, seed: int, pixels: bool, batch: int,
           kwargs: dict[str, Any]) -> tuple[Any, Any]:
    import keras

    keras.utils.set_random_seed(seed)
    factory = getattr(keras.applications, application)
    model = factory(
        weights=None,
        input_shape=(size, size, 3),
        classes=CLASSES,
        classifier_activation=None,
        **kwargs,
    )
    rng = np.random.default_rng(seed)
    low, high = (0.0, 255.0) if pixels else (-1.0, 1.0)
    images = rng.uniform(low, high, (batch, size, size, 3)).astype(np.float32)
    calibration = rng.uniform(low, high, (CALIBRATION, size, size, 3)).astype(np.float32)
    _calibrate_batch_norms(model, calibration)
    return model, images


def _builder(
    application: str,
    size: int,
    seed: int,
    *,
    pixels: bool,
    batch: int = BATCH,
    **kwargs: Any,
) -> Callable[[], tuple[Any, Any]]:
    """A build() for ``keras.applications.<application>`` at ``size`` x ``size`` px.

    A module-level function bound with functools.partial, so that the case pickles into the
    suite's case subprocess (a closure does not).
    """
    build = functools.partial(_build, application, size, seed, pixels, batch, kwargs)
    build.application = application  # type: ignore[attr-defined]  # the family, for tests
    return build


def _calibrate_batch_norms(model: Any, images: np.ndarray) -> None:
    """Give every BatchNormalization the statistics of its input on ``images``.

    Fresh BatchNormalization layers hold mean 0 and variance 1, so in inference mode they
    normalise nothing and a deep random network's activations collapse: the logits of
    MobileNet (alpha 0.5) were 2e-19, ResNet-style outputs 1e-11, and any converted model
    "matched" within an absolute tolerance. One training-mode pass with momentum 0 sets the
    moving statistics to the batch's own, as a trained network's would be; outputs are then
    of order one and a wrong layer shows.

    ``images`` must not be the example batch. Calibrated on the 4 examples themselves,
    InceptionV3's deepest maps (1x1 at 75 px) had each channel's variance from 4 values,
    and on exactly those images every normalisation subtracted a mean nearly equal to its
    input: the original Keras model in float32 was 0.6 % (relative RMS) away from the same
    model in float64, and the ONNX conversion, as far from float64 as the original, failed.
    With 32 separate images the original's own float32 error is 1.4e-4.
    """
    import keras

    norms = [
        layer
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    if not norms:
        return
    saved = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0
    model(images, training=True)
    for layer, momentum in zip(norms, saved, strict=True):
        layer.momentum = momentum


def _case(name: str, build: Callable[[], tuple[Any, Any]], notes: str = "") -> Case:
    return Case(name, "tensorflow", build, tags=TAGS, notes=notes)


CASES = [
    _case(
        "keras_convnext_tiny",
        _builder("ConvNeXtTiny", 32, 101, pixels=True),
        "grouped 7x7 Conv2D runs through an XLA-only nested function; exact GELU (Erfc)",
    ),
    _case("keras_densenet121", _builder("DenseNet121", 32, 102, pixels=False)),
    _case(
        "keras_efficientnet_b0",
        _builder("EfficientNetB0", 32, 103, pixels=True),
        "Normalization layer constants are captured tensors",
    ),
    _case("keras_efficientnet_b1", _builder("EfficientNetB1", 32, 104, pixels=True)),
    _case("keras_efficientnetv2_b0", _builder("EfficientNetV2B0", 32, 105, pixels=True)),
    _case(
        "keras_inception_resnet_v2",
        _builder("InceptionResNetV2", 75, 106, pixels=False, batch=4),
    ),
    _case("keras_inception_v3", _builder("InceptionV3", 75, 107, pixels=False, batch=4)),
    _case("keras_mobilenet", _builder("MobileNet", 32, 108, pixels=False)),
    _case("keras_mobilenet_a050", _builder("MobileNet", 32, 109, pixels=False, alpha=0.5)),
    _case("keras_mobilenet_v2", _builder("MobileNetV2", 32, 110, pixels=False)),
    _case("keras_mobilenet_v3_small", _builder("MobileNetV3Small", 32, 111, pixels=True)),
    _case("keras_mobilenet_v3_large", _builder("MobileNetV3Large", 32, 112, pixels=True)),
    _case("keras_nasnet_mobile", _builder("NASNetMobile", 32, 113, pixels=False, batch=4)),
    _case("keras_resnet50", _builder("ResNet50", 64, 114, pixels=False)),
    _case("keras_resnet50_v2", _builder("ResNet50V2", 32, 115, pixels=False)),
    _case("keras_vgg16", _builder("VGG16", 32, 116, pixels=False)),
    _case("keras_vgg19", _builder("VGG19", 32, 117, pixels=False)),
    _case("keras_xception", _builder("Xception", 71, 118, pixels=False, batch=4)),
]

SMOKE = ["keras_mobilenet_v3_small", "keras_efficientnet_b0", "keras_mobilenet_a050"]
