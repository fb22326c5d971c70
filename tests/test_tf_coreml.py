"""tensorflow.coreml: every Keras/TF case converts and matches through the reference executor."""

from __future__ import annotations

import copy

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("coremltools")

from conftest import assert_parity, conversion_cache  # noqa: E402

import interop  # noqa: E402
from conformance.cases.keras_models import CASES  # noqa: E402
from interop.converters._coreml import TOLERANCES, program_ops  # noqa: E402
from interop.errors import ConversionError  # noqa: E402

CASE_NAMES = [c.name for c in CASES]


@pytest.fixture(scope="module")
def converted():
    """(case, precision) -> (model, conversion), each converted once per module."""
    return conversion_cache(CASES, "coreml")


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("name", CASE_NAMES)
def test_case_converts_and_matches(converted, name, precision):
    model, conv = converted(name, precision)
    assert conv.converter == "tensorflow.coreml" and conv.runtime == "coreml"
    figures = assert_parity(model, conv, batch_sizes=(1, 8), max_abs=TOLERANCES[precision].atol)
    worst = max(v for per_batch in figures.values() for v in per_batch.values())
    if precision == "fp32":
        assert worst < 1e-5, worst
    else:
        assert worst > 1e-6, "an fp16 program that matches to fp32 precision was not run in fp16"
    assert ("cast" in program_ops(conv.model)) == (precision == "fp16")
    print(name, precision, figures)


def test_model_names_are_kept(converted):
    _, conv = converted("keras_two_in_two_out", "fp32")
    assert set(conv.output_map) == set(conv.output_map.values())
    assert {s.name for s in conv.output_specs} == set(conv.output_map)
    assert [s.shape[0] for s in conv.input_specs] == ["batch"] * len(conv.input_specs)


def test_exact_gelu_lowers_through_erf(converted):
    _, conv = converted("keras_gelu_mlp", "fp32")
    assert "erf" in program_ops(conv.model)


def test_keras_rnn_is_unrolled_and_says_so(converted):
    _, conv = converted("keras_lstm", "fp32")
    assert any("unrolled" in w for w in conv.warnings)
    assert "while_loop" not in program_ops(conv.model)


def test_exported_saved_model_with_two_signatures(converted):
    path, conv = converted("tf_saved_model", "fp32")
    import tensorflow as tf

    # Keras 3 model.export() writes two signatures, which coremltools refuses as such
    assert {"serve", "serving_default"} <= set(tf.saved_model.load(str(path)).signatures)
    assert list(conv.input_map) == ["features"]
    assert conv.validation["passed"]


def test_changed_original_fails_against_earlier_conversion(converted):
    model, conv = converted("keras_mlp", "fp32")
    changed = copy.deepcopy(model)
    changed.set_weights([w * 1.05 for w in model.get_weights()])
    with pytest.raises(ConversionError, match="different numbers"):
        interop.api.validate(changed, conv)


def test_op_without_core_ml_lowering_is_named():
    import tensorflow as tf

    class Bessel(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def __call__(self, x):
            return tf.math.bessel_i0e(x)

    with pytest.raises(ConversionError, match="BesselI0e"):
        interop.convert(Bessel(), to="coreml", example_inputs=np.ones((2, 4), np.float32))


def test_grouped_convolution_converts_through_the_inlined_graph():
    """Keras 3 runs a Conv2D with groups > 1 (ConvNeXt's depthwise 7x7) in a nested XLA-only
    function; coremltools stops at its StatefulPartitionedCall unless interop inlines it."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(22)
    model = keras.Sequential(
        [keras.Input((6, 6, 4), name="image"), keras.layers.Conv2D(4, 3, groups=2, name="dw")]
    )
    x = np.random.default_rng(22).standard_normal((8, 6, 6, 4)).astype(np.float32)
    conv = interop.convert(model, to="coreml", example_inputs=x, precision="fp32")
    figures = assert_parity(model, conv, batch_sizes=(1, 8), max_abs=1e-5)
    assert max(figures[8].values()) < 1e-5
    assert "conv" in program_ops(conv.model)
    # an independent oracle for the model itself: each group convolves its own channels
    kernel, bias = model.get_weights()
    halves = [
        tf.nn.conv2d(x[..., 2 * g : 2 * g + 2], kernel[..., 2 * g : 2 * g + 2], 1, "VALID")
        for g in range(2)
    ]
    expected = tf.concat(halves, axis=-1).numpy() + bias
    assert np.abs(model(x).numpy() - expected).max() < 1e-5


def test_inference_batchnorm_keeps_its_scale_without_a_second_epsilon():
    """A BatchNormalization no convolution absorbs (DenseNet's, after a concat) traces to a
    per-channel mul + add; coremltools' fuse_elementwise_to_batchnorm made that
    batch_norm(mean=0, variance=1) with the default epsilon 1e-5, dividing every scale by
    sqrt(1 + 1e-5) again (the error compounded to 6e-4 relative at DenseNet121's output).
    interop drops that pass, so the mul and add stay and the numbers match."""
    import keras

    from interop import registry
    from interop.coreml_ref import load_executor

    keras.utils.set_random_seed(5)
    layers = keras.layers
    image = keras.Input((8, 8, 3), name="image")
    a = layers.Conv2D(8, 3, padding="same")(image)
    x = layers.Concatenate()([a, layers.Conv2D(11, 1)(a)])
    x = layers.BatchNormalization(epsilon=1.001e-5, name="bn")(x)
    x = layers.Conv2D(4, 1)(layers.ReLU()(x))
    model = keras.Model(image, x)
    rng = np.random.default_rng(5)
    gamma, beta = rng.uniform(0.5, 2, 19), rng.uniform(-1, 1, 19)
    mean, variance = rng.uniform(1, 2, 19), rng.uniform(0.05, 0.5, 19)
    model.get_layer("bn").set_weights([gamma, beta, mean, variance])
    inputs = rng.uniform(0, 4, (2, 8, 8, 3)).astype(np.float32)

    conv = registry.resolve("tensorflow", "coreml", None).convert(
        model, inputs, precision="fp32"
    )
    (got,) = load_executor(conv.model).run(conv.example_feed).values()
    expected = model(inputs).numpy()
    assert np.abs(got - expected).max() < 1e-6 * np.abs(expected).max()
    ops = program_ops(conv.model)
    assert "batch_norm" not in ops and {"mul", "add"} <= set(ops)
