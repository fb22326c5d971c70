"""Keras models to TFLite through the plugin's entry points; parity and latency via the harness."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras", reason="the plugins session installs interop[tensorflow]")
pytest.importorskip("ai_edge_litert", reason="the plugins session installs ai-edge-litert")

import interop  # noqa: E402
from interop.testing import (  # noqa: E402
    check_converter_contract,
    check_entry_points,
    check_runtime_contract,
    run_conformance,
)


def _normal(seed, *shape):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def mlp():
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((12,), name="features"),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(16, activation="tanh"),
            keras.layers.Dense(4, name="logits"),
        ]
    )
    return model, _normal(1, 8, 12)


def cnn_batchnorm():
    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3), name="image"),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(12, 3, padding="same"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(5),
        ]
    )
    x = _normal(2, 8, 16, 16, 3)
    # Non-trivial batch-norm statistics, so that folding them is actually exercised.
    bn = model.layers[1]
    rng = np.random.default_rng(3)
    bn.moving_mean.assign(rng.normal(size=8).astype(np.float32))
    bn.moving_variance.assign(rng.uniform(0.5, 2.0, size=8).astype(np.float32))
    return model, x


def two_in_two_out():
    keras.utils.set_random_seed(4)
    left = keras.Input((6,), name="left")
    right = keras.Input((3,), name="right")
    hidden = keras.layers.Dense(16, activation="relu")(keras.layers.Concatenate()([left, right]))
    score = keras.layers.Dense(2, name="score")(hidden)
    prob = keras.layers.Dense(1, activation="sigmoid", name="prob")(hidden)
    return keras.Model([left, right], [score, prob]), (_normal(4, 8, 6), _normal(5, 8, 3))


CASES = [("mlp", mlp), ("cnn_batchnorm", cnn_batchnorm), ("two_in_two_out", two_in_two_out)]


@pytest.fixture(scope="module")
def results():
    return run_conformance("tensorflow.tflite", CASES, batch_sizes=(1, 8), latency=True)


def test_entry_points_satisfy_the_contract():
    found = check_entry_points("interop-tflite")
    assert found == {"converters": ["tensorflow.tflite"], "runtimes": ["tflite"]}
    from interop_tflite.converter import TensorflowToTflite
    from interop_tflite.runtime import TfliteRuntime

    check_converter_contract(TensorflowToTflite)  # also: importing it pulls in no framework
    check_runtime_contract(TfliteRuntime)


def test_three_keras_models_match_at_every_batch_size(results):
    assert [r.name for r in results] == ["mlp", "cnn_batchnorm", "two_in_two_out"]
    for result in results:
        assert result.passed, result.reason
        for batch in (1, 8):
            errors = list(result.max_abs_error[batch].values())
            assert errors and all(e is not None and e < 1e-5 for e in errors), (
                result.name,
                batch,
                errors,
            )
    assert set(results[2].max_abs_error[8]) == {"score", "prob"}


def test_check_reports_tflite_latency(results):
    for result in results:
        report = result.report.to_dict()
        assert report["target"] == "tflite" and report["converter"] == "tensorflow.tflite"
        for batch in (1, 8):
            row = result.latency_ms[batch]
            assert row["original_p50_ms"] > 0 and row["converted_p50_ms"] > 0, (result.name, row)


def test_saved_model_directory_converts_and_file_runs(tmp_path):
    model, x = mlp()
    saved = tmp_path / "saved"
    model.export(str(saved), verbose=False)
    conv = interop.convert(str(saved), to="tflite", example_inputs=x)
    assert conv.converter == "tensorflow.tflite" and conv.validation["passed"]
    path = conv.save(tmp_path / "mlp.tflite")
    from interop_tflite.runtime import TfliteRuntime

    with TfliteRuntime(path) as rt:
        (name,) = [s.name for s in rt.input_specs()]
        out = rt.run({name: x})
    expected = np.asarray(model(x))
    (got,) = out.values()
    assert np.abs(got - expected).max() < 1e-5


def test_recurrent_layer_failure_is_a_clear_error(capsys):
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((10, 4)), keras.layers.LSTM(8), keras.layers.Dense(3)])
    with pytest.raises(interop.ConversionError, match="TensorList") as info:
        interop.convert(model, to="tflite", example_inputs=_normal(6, 8, 10, 4))
    assert "unroll=True" in info.value.hint
    assert capsys.readouterr().out == ""  # Keras' export chatter went to the log, not stdout


def test_fixed_batch_is_refused():
    model, x = mlp()
    with pytest.raises(interop.InvalidInput, match="dynamic"):
        interop.convert(model, to="tflite", example_inputs=x, dynamic_batch=False)
