"""TensorFlow/Keras -> ONNX: every Keras case matches at batch 1 and 8; names, GELU, errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the tensorflow extra is not installed")
pytest.importorskip("tf2onnx", reason="the tensorflow extra is not installed")

from conftest import assert_parity  # noqa: E402

import interop  # noqa: E402
from conformance.cases import keras_models  # noqa: E402
from interop.errors import ConversionError, InvalidInput  # noqa: E402

CASES = {case.name: case for case in keras_models.CASES}
_CONVERTED: dict[str, tuple[Any, Any, Any]] = {}


def converted(name: str) -> tuple[Any, Any, Any]:
    """(model, example_inputs, conversion) for a case, converted once per test module."""
    if name not in _CONVERTED:
        model, example = CASES[name].build()
        _CONVERTED[name] = (
            model,
            example,
            interop.convert(model, to="onnx", example_inputs=example),
        )
    return _CONVERTED[name]


@pytest.fixture(scope="module", autouse=True)
def _forget_conversions():
    yield
    _CONVERTED.clear()


def test_there_are_enough_cases():
    assert len(CASES) >= 8
    assert all(case.framework == "tensorflow" for case in CASES.values())


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_matches_at_batch_1_and_8(name):
    model, _, conv = converted(name)
    assert conv.converter == "tensorflow.onnx"
    assert conv.source == "tensorflow" and conv.target == "onnx" and conv.runtime == "onnx"
    figures = assert_parity(model, conv, batch_sizes=(1, 8), max_abs=1e-4)
    assert set(figures) == {1, 8}
    for batch, per_output in figures.items():
        assert set(per_output) == set(conv.output_map), (batch, per_output)
        assert all(error <= 1e-4 for error in per_output.values())


def test_batch_dimension_is_dynamic():
    _, _, conv = converted("keras_lstm")
    assert conv.input_specs[0].shape == ("batch", 10, 6)
    assert conv.output_specs[0].shape == ("batch", 3)


def test_exact_gelu_is_lowered_to_erf_and_valid():
    import onnx

    _, _, conv = converted("keras_gelu_mlp")
    ops = {node.op_type for node in conv.model.graph.node}
    assert "Erf" in ops and "Erfc" not in ops
    onnx.checker.check_model(conv.model, full_check=True)
    assert conv.validation["passed"]
    assert conv.validation["outputs"]["logits"]["max_abs_error"] <= 1e-4


def test_input_and_output_names_are_the_models_own():
    _, _, conv = converted("keras_two_in_two_out")
    assert [i.name for i in conv.model.graph.input] == ["left", "right"]
    assert [o.name for o in conv.model.graph.output] == ["score", "aux"]
    assert conv.input_map == {"left": "left", "right": "right"}
    assert conv.output_map == {"score": "score", "aux": "aux"}
    assert set(conv.example_feed) == {"left", "right"}

    _, _, dict_conv = converted("keras_dict_io")
    assert {i.name for i in dict_conv.model.graph.input} == {"numeric", "embedding"}
    assert dict_conv.output_map == {"mean": "mean", "log_var": "log_var"}

    _, _, module_conv = converted("tf_module_function")
    assert [i.name for i in module_conv.model.graph.input] == ["x"]  # the Python argument
    assert list(module_conv.output_map) == ["output_0"]


def test_tensorflow_runtime_uses_original_names():
    from interop.runtimes.tensorflow import TensorflowRuntime

    model, example, conv = converted("keras_two_in_two_out")
    with TensorflowRuntime(model, conversion=conv) as runtime:
        assert [s.name for s in runtime.input_specs()] == ["left", "right"]
        out = runtime.run({"left": example[0], "right": example[1]})
    assert set(out) == {"score", "aux"}
    assert out["score"].shape == (8, 3) and out["aux"].shape == (8, 1)
    np.testing.assert_allclose(out["score"].sum(axis=1), 1.0, rtol=1e-5)
    eager = model([example[0], example[1]], training=False)
    np.testing.assert_allclose(out["aux"], np.asarray(eager[1]), atol=1e-6)


def test_saved_model_directory_converts_and_saves(tmp_path):
    import onnx

    directory, _, conv = converted("tf_saved_model")
    assert Path(directory, "saved_model.pb").exists()
    assert conv.source == "tensorflow"
    saved = conv.save(tmp_path / "model.onnx")
    reloaded = onnx.load(str(saved))
    props = {p.key: p.value for p in reloaded.metadata_props}
    assert props["interop.converter"] == "tensorflow.onnx"
    assert props["interop.source_framework"] == "tensorflow"
    assert props["interop.opset"] == "17"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_example_inputs_may_be_omitted_where_a_signature_exists():
    directory, _, _ = converted("tf_saved_model")
    conv = interop.convert(Path(directory), to="onnx")  # feed generated from serving_default
    (name,) = conv.example_feed
    assert conv.example_feed[name].shape == (8, 9)
    assert conv.validation["passed"] and conv.validation["batch_size"] == 8


def test_loaded_saved_model_object_converts():
    import tensorflow as tf

    from interop.runtimes.tensorflow import TensorflowRuntime

    directory, example, _ = converted("tf_saved_model")
    loaded = tf.saved_model.load(directory)
    conv = interop.convert(loaded, to="onnx", example_inputs=example)
    assert list(conv.input_map) == ["features"] and list(conv.output_map) == ["output_0"]
    assert_parity(loaded, conv)
    with TensorflowRuntime(directory) as runtime:  # no conversion: names from the signature
        assert [(s.name, s.shape) for s in runtime.input_specs()] == [("features", ("batch", 9))]
        out = runtime.run({"features": example})
    assert list(out) == ["output_0"] and out["output_0"].shape == (8, 2)


def test_keras_file_path_converts(tmp_path):
    model, example, _ = converted("keras_two_in_two_out")
    path = tmp_path / "two.keras"
    model.save(path)
    conv = interop.convert(str(path), to="onnx", example_inputs=example)
    assert conv.output_map == {"score": "score", "aux": "aux"}
    assert_parity(str(path), conv)


def test_dynamic_batch_off_fixes_the_batch_size():
    model, example, _ = converted("keras_mlp")
    conv = interop.convert(model, to="onnx", example_inputs=example, dynamic_batch=False)
    assert conv.input_specs[0].shape == (8, 12)
    assert conv.validation["passed"]


def test_module_with_its_own_input_signature():
    import tensorflow as tf

    rng = np.random.default_rng(12)

    class Projector(tf.Module):
        def __init__(self) -> None:
            self.w = tf.Variable(rng.standard_normal((5, 2)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 5], tf.float32, name="feat")])
        def __call__(self, x: Any) -> Any:
            return {"projection": tf.matmul(x, self.w)}

    module = Projector()
    conv = interop.convert(module, to="onnx")  # no example inputs: taken from the signature
    assert [i.name for i in conv.model.graph.input] == ["feat"]
    assert conv.output_map == {"projection": "projection"}
    assert_parity(module, conv)
    # Passing example inputs as well must not hand tf2onnx a second signature.
    conv2 = interop.convert(module, to="onnx", example_inputs=rng.standard_normal((3, 5)))
    assert conv2.example_feed["feat"].dtype == np.float32
    assert_parity(module, conv2, batch_sizes=(1, 3))


def test_opset_above_tf2onnx_maximum_is_a_clear_error():
    model, example, _ = converted("keras_mlp")
    with pytest.raises(InvalidInput) as info:
        interop.convert(model, to="onnx", example_inputs=example, opset=19)
    assert "opset 19" in info.value.message and "18" in info.value.message
    assert "opset=18" in info.value.hint


def test_opset_18_is_accepted():
    model, example, _ = converted("keras_mlp")
    conv = interop.convert(model, to="onnx", example_inputs=example, opset=18)
    assert {o.version for o in conv.model.opset_import if o.domain in ("", "ai.onnx")} == {18}


def test_unknown_option_lists_known_ones():
    model, example, _ = converted("keras_mlp")
    with pytest.raises(InvalidInput) as info:
        interop.convert(model, to="onnx", example_inputs=example, options={"nchw": True})
    assert "nchw" in info.value.message
    assert "dynamic_batch" in info.value.hint and "opset" in info.value.hint


def test_wrong_number_of_example_inputs_is_invalid_input():
    model, example, _ = converted("keras_two_in_two_out")
    with pytest.raises(InvalidInput, match="takes 2 input"):
        interop.convert(model, to="onnx", example_inputs=example[0])


def test_unconvertible_op_names_it_and_writes_nothing(tmp_path, monkeypatch, capfd):
    import tempfile

    import tensorflow as tf

    class LogGamma(tf.Module):
        """tf.math.lgamma lowers to Lgamma, which tf2onnx 1.17 has no handler for."""

        # autograph=False: autograph caches its rewrite of user code as a file in the temp
        # directory whenever TensorFlow traces the function, conversion or not.
        @tf.function(autograph=False)
        def __call__(self, x: Any) -> Any:
            return tf.math.lgamma(x) * 2.0

    work = tmp_path / "work"
    scratch = tmp_path / "tmp"
    work.mkdir()
    scratch.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    x = np.linspace(0.5, 4.0, 24, dtype=np.float32).reshape(8, 3)
    capfd.readouterr()
    with pytest.raises(ConversionError) as info:
        interop.convert(LogGamma(), to="onnx", example_inputs=x)
    assert "Lgamma" in info.value.message
    assert info.value.hint
    assert list(work.iterdir()) == [] and list(scratch.iterdir()) == []
    assert capfd.readouterr().out == ""


def test_convert_prints_nothing_to_stdout(capfd):
    case = CASES["keras_gru"]
    model, example = case.build()
    capfd.readouterr()
    conv = interop.convert(model, to="onnx", example_inputs=example)
    captured = capfd.readouterr()
    assert captured.out == ""
    assert conv.validation["passed"]


def test_example_of_the_wrong_shape_is_invalid_input():
    model, example, _ = converted("keras_mlp")
    with pytest.raises(InvalidInput, match=r"shape \[8, 5\], the model expects \[None, 12\]"):
        interop.convert(model, to="onnx", example_inputs=example[:, :5])


def test_module_without_a_function_is_invalid_input():
    import tensorflow as tf

    with pytest.raises(InvalidInput, match="no tf.function"):
        interop.convert(tf.Module(), to="onnx", example_inputs=np.zeros((1, 2), np.float32))


def test_importing_the_modules_does_not_import_tensorflow():
    import subprocess
    import sys

    code = (
        "import sys, interop.converters.tf_onnx, interop.runtimes.tensorflow;"
        "print(sorted(m for m in ('tensorflow', 'keras', 'tf2onnx', 'onnx') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(interop.__file__).parents[1])}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "[]"


def _normalization_model() -> tuple[Any, np.ndarray]:
    """The smallest model with EfficientNet's trigger: Normalization given mean and variance."""
    import keras

    keras.utils.set_random_seed(21)
    model = keras.Sequential(
        [
            keras.Input((4, 4, 3), name="image"),
            keras.layers.Normalization(mean=[0.4, 0.5, 0.6], variance=[0.05, 0.06, 0.07]),
            keras.layers.Conv2D(2, 3, name="logits"),
        ]
    )
    x = np.random.default_rng(21).uniform(0.0, 1.0, (8, 4, 4, 3)).astype(np.float32)
    return model, x


def _grouped_conv_model() -> tuple[Any, np.ndarray]:
    """The smallest model with ConvNeXt's trigger: a Conv2D with groups > 1 (Keras runs it in
    a nested jit_compile function that neither converter can see into)."""
    import keras

    keras.utils.set_random_seed(22)
    model = keras.Sequential(
        [keras.Input((6, 6, 4), name="image"), keras.layers.Conv2D(4, 3, groups=2, name="dw")]
    )
    x = np.random.default_rng(22).standard_normal((8, 6, 6, 4)).astype(np.float32)
    return model, x


def _direct_from_function(model: Any, spec: Any) -> Any:
    """tf2onnx called directly on the model's inference function (what interop repairs)."""
    import tensorflow as tf
    import tf2onnx

    function = tf.function(lambda image: model(image, training=False), autograph=False)
    onnx_model, _ = tf2onnx.convert.from_function(function, input_signature=spec, opset=17)
    return onnx_model


def test_repair_table_says_why_for_each_repair():
    from interop.converters.tf2onnx_repairs import REPAIRS

    names = [r.name for r in REPAIRS]
    assert names == ["erfc-as-one-minus-erf", "fold-captured-constants", "inline-xla-functions"]
    assert all(len(r.why) > 80 for r in REPAIRS)


def test_captured_normalization_constants_are_folded_not_inputs():
    import tensorflow as tf

    model, x = _normalization_model()
    # The failure being repaired, called directly: the constants become graph inputs.
    spec = (tf.TensorSpec((None, 4, 4, 3), tf.float32, name="image"),)
    direct = _direct_from_function(model, spec)
    assert len(direct.graph.input) == 3

    conv = interop.convert(model, to="onnx", example_inputs=x)
    assert [i.name for i in conv.model.graph.input] == ["image"]
    assert "fold-captured-constants" in conv.provenance["interop.tf2onnx_repairs"]
    figures = assert_parity(model, conv, batch_sizes=(1, 8), max_abs=1e-5)
    assert max(figures[8].values()) < 1e-5


def test_grouped_convolution_function_is_inlined():
    import tensorflow as tf

    model, x = _grouped_conv_model()
    spec = (tf.TensorSpec((None, 6, 6, 4), tf.float32, name="image"),)
    direct = _direct_from_function(model, spec)
    assert "StatefulPartitionedCall" in {n.op_type for n in direct.graph.node}

    conv = interop.convert(model, to="onnx", example_inputs=x)
    ops = {n.op_type for n in conv.model.graph.node}
    assert "StatefulPartitionedCall" not in ops and "Conv" in ops
    assert "inline-xla-functions" in conv.provenance["interop.tf2onnx_repairs"]
    # an independent oracle: each group is an ordinary convolution over its own channels
    kernel, bias = model.get_weights()
    halves = [
        tf.nn.conv2d(x[..., 2 * g : 2 * g + 2], kernel[..., 2 * g : 2 * g + 2], 1, "VALID")
        for g in range(2)
    ]
    expected = tf.concat(halves, axis=-1).numpy() + bias
    import onnxruntime as ort

    session = ort.InferenceSession(conv.model.SerializeToString())
    (got,) = session.run(None, {"image": x})
    assert np.abs(got - expected).max() < 1e-5
