"""interop.check on hand-built ONNX models: planted faults are caught and named."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import interop
from interop.errors import InvalidInput, ParityError
from interop.types import Tolerance
from tests.harness_fixtures import mlp_onnx, mlp_weights, onnx_conversion

WEIGHTS = mlp_weights()


@pytest.fixture(scope="module")
def original():
    return mlp_onnx(WEIGHTS)


def test_identical_model_passes_with_zero_error_and_latency(original):
    report = interop.check(original, onnx_conversion(mlp_onnx(WEIGHTS)), time_budget_s=0.05)
    assert report.passed and report.verdict == "passed"
    assert [p["batch_size"] for p in report.parity] == [1, 8]
    for entry in report.parity:
        assert entry["max_abs_error"] == 0.0 and entry["cosine_similarity"] > 0.999999
    assert [row["batch_size"] for row in report.latency] == [1, 8]
    for row in report.latency:
        assert row["threads"] == 1
        assert 0 < row["original_min_ms"] <= row["original_p50_ms"] <= row["original_p99_ms"]
        assert row["converted_p50_ms"] > 0 and row["ratio"] == pytest.approx(
            row["converted_p50_ms"] / row["original_p50_ms"]
        )
        assert row["original_runs"] >= 5 and row["original_first_run_ms"] > 0
    assert report.load["original_ms"] > 0 and report.load["converted_ms"] > 0
    assert report.runtime == "onnxruntime" and report.original_runtime == "onnxruntime"
    assert report.environment["onnxruntime"] and report.environment["python"]


def test_weights_scaled_by_1_01_are_caught(original):
    # the last layer's weights and bias scaled by 1.01: every output is 1 % off
    factor = np.float32(1.01)
    scaled = {**WEIGHTS, "w2": WEIGHTS["w2"] * factor, "b2": WEIGHTS["b2"] * factor}
    report = interop.check(original, onnx_conversion(mlp_onnx(scaled)), latency=False)
    assert not report.passed and report.verdict == "failed"
    assert report.failing_outputs() == ["y"]
    for entry in report.parity:
        assert entry["output"] == "y" and not entry["passed"]
        # 1 % of outputs of order 1..10: far above atol 1e-5; the atol that would pass is
        # the worst deviation less rtol * |ref|
        assert 1e-3 < entry["max_abs_error"] < 1.0
        assert entry["required_atol"] == pytest.approx(entry["max_abs_error"], rel=0.01)
        assert entry["max_rel_error"] == pytest.approx(0.01, rel=1e-3)
        assert f"atol {entry['required_atol']:.3g} would pass" in entry["reason"]
    assert any("output 'y'" in f for f in report.failures)
    # and the reported atol indeed passes
    needed = max(p["required_atol"] for p in report.parity)
    again = interop.check(
        original, onnx_conversion(mlp_onnx(scaled)), latency=False,
        tolerance={"atol": needed * 1.0001},
    )
    assert again.passed


def test_nan_output_fails_as_non_finite(original):
    report = interop.check(original, onnx_conversion(mlp_onnx(WEIGHTS, nan_output=True)),
                           latency=False)
    assert not report.passed
    assert all("non-finite" in p["reason"] for p in report.parity)
    assert report.parity[1]["reason"].startswith("24 non-finite")  # 8 rows x 3 outputs


def test_wrong_shape_fails_with_both_shapes(original):
    report = interop.check(original, onnx_conversion(mlp_onnx(WEIGHTS, wrong_shape=True)),
                           latency=False)
    assert not report.passed
    assert report.parity[1]["reason"] == "shape [8, 2] differs from the original's [8, 3]"


def test_missing_output_fails_naming_it(original):
    report = interop.check(original, onnx_conversion(mlp_onnx(WEIGHTS, output_name="z")),
                           latency=False)
    assert not report.passed and report.failing_outputs() == ["y"]
    assert "has no output 'y'" in report.parity[0]["reason"]
    assert "it has z" in report.parity[0]["reason"]


def test_raise_on_failure_carries_the_report(original):
    scaled = {**WEIGHTS, "w1": WEIGHTS["w1"] * np.float32(1.01)}
    with pytest.raises(ParityError) as info:
        interop.check(original, onnx_conversion(mlp_onnx(scaled)), latency=False,
                      raise_on_failure=True)
    assert info.value.report.failing_outputs() == ["y"]
    assert info.value.exit_code == 1 and "output 'y'" in info.value.message


def test_tolerance_precedence_converter_profile_case_call(original):
    scaled = {**WEIGHTS, "w2": WEIGHTS["w2"] * np.float32(1.0001)}
    conv = onnx_conversion(mlp_onnx(scaled))  # converter default atol 1e-5: fails
    assert not interop.check(original, conv, latency=False).passed
    fp16 = interop.check(original, conv, latency=False, profile="fp16")
    applied = fp16.settings["tolerance"]["y"]
    assert fp16.passed and (applied["atol"], applied["rtol"]) == (1e-2, 1e-2)
    case = interop.check(original, conv, latency=False, profile="fp16",
                         case_tolerance={"atol": 1e-7, "rtol": 0.0})
    assert not case.passed  # the case is stricter than the profile and wins
    call = interop.check(original, conv, latency=False, profile="fp16",
                         case_tolerance={"atol": 1e-7, "rtol": 0.0}, tolerance="fp16")
    assert call.passed  # the call wins over the case
    per_output = interop.check(original, conv, latency=False,
                               tolerance={"y": Tolerance(atol=0.5, rtol=0.0)})
    assert per_output.passed and per_output.settings["tolerance"]["y"]["atol"] == 0.5
    with pytest.raises(InvalidInput, match="unknown tolerance profile 'fp8'"):
        interop.check(original, conv, latency=False, tolerance="fp8")
    with pytest.raises(InvalidInput, match="does not have: nope"):
        interop.check(original, conv, latency=False, tolerance={"nope": 1e-3})


def test_user_inputs_are_used_on_both_sides(original):
    data = np.linspace(-1, 1, 5 * 6, dtype=np.float64).reshape(5, 6)
    report = interop.check(original, onnx_conversion(mlp_onnx(WEIGHTS)), inputs=data,
                           latency=False)
    assert report.passed and [p["batch_size"] for p in report.parity] == [5]
    assert "inputs given by the caller" in report.notes
    with pytest.raises(InvalidInput, match="gives 2 array"):
        interop.check(original, onnx_conversion(mlp_onnx(WEIGHTS)), inputs=(data, data))


def test_reference_runtime_gets_null_converted_latency(original):
    from interop import registry

    registry.RUNTIMES.register("reference-test", "tests.harness_fixtures:ReferenceOnlyRuntime",
                               clobber=True)
    try:
        conv = onnx_conversion(mlp_onnx(WEIGHTS), runtime="reference-test")
        report = interop.check(original, conv, time_budget_s=0.05)
    finally:
        registry.RUNTIMES.unregister("reference-test")
    assert report.passed and report.runtime == "reference-test"
    for row in report.latency:
        assert row["original_p50_ms"] > 0
        assert row["converted_p50_ms"] is None and row["ratio"] is None
    assert any("does not measure latency" in n for n in report.notes)


def test_saved_path_is_checked_through_its_io_metadata(original, tmp_path):
    conv = onnx_conversion(mlp_onnx(WEIGHTS))
    path = conv.save(tmp_path / "m.onnx")
    report = interop.check(original, path, latency=False)
    assert report.passed and report.converter == "test.onnx"
    assert any("interop.io metadata" in n for n in report.notes)
    # a file converted elsewhere (no metadata) is matched by name
    bare = mlp_onnx(WEIGHTS)
    import onnx

    onnx.save(bare, str(tmp_path / "bare.onnx"))
    report = interop.check(original, tmp_path / "bare.onnx", latency=False)
    assert report.passed and any("matched by name" in n for n in report.notes)


def test_label_ties_are_excused_only_where_probabilities_tie():
    from interop.harness.compare import compare_output, excuse_label_ties

    tol = Tolerance(atol=1e-6, rtol=1e-6)
    probs = np.array([[0.5, 0.5], [0.9, 0.1], [0.3, 0.7]])
    ref = np.array([0, 0, 1])
    tie_flip = np.array([1, 0, 1])
    cmp = excuse_label_ties(compare_output("label", "l", ref, tie_flip, tol, "label"),
                            ref, tie_flip, probs, tol)
    assert cmp.passed and cmp.ties_excused == 1 and cmp.label_agreement == pytest.approx(2 / 3)
    real_flip = np.array([0, 1, 1])
    cmp = excuse_label_ties(compare_output("label", "l", ref, real_flip, tol, "label"),
                            ref, real_flip, probs, tol)
    assert not cmp.passed and "labels agree on 66.67%" in cmp.reason


def test_portable_conversion_drops_model_and_saver():
    from interop.harness.check import _portable

    conv = onnx_conversion(mlp_onnx(WEIGHTS))
    light = _portable(conv)
    assert light.model is None and light.example_feed == {}
    assert dataclasses.replace(light).output_map == {"y": "y"}
