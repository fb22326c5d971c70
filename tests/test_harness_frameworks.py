"""interop.check on real conversions: scikit-learn and torch through the public API."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import interop
from interop.harness.report import Report


@pytest.fixture(scope="module")
def sklearn_classifier():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    sample = X[::19][:8]
    return model, interop.convert(model, to="onnx", example_inputs=sample)


@pytest.fixture(scope="module")
def torch_mlp():
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(10, 32), torch.nn.Tanh(), torch.nn.Linear(32, 4)
    ).eval()
    return model, interop.convert(model, to="onnx", example_inputs=(torch.randn(8, 10),))


def test_sklearn_classifier_labels_and_probabilities(sklearn_classifier, tmp_path):
    model, conv = sklearn_classifier
    report = interop.check(model, conv, batch_sizes=(1, 8, 64), time_budget_s=0.05)
    assert report.passed, report.failures
    kinds = {(p["output"], p["kind"]) for p in report.parity}
    assert kinds == {("label", "label"), ("probabilities", "probabilities")}
    for entry in report.parity:
        if entry["kind"] == "label":
            assert entry["label_agreement"] == 1.0
        else:
            assert entry["max_abs_error"] < 1e-5 and entry["top_k_agreement"] == 1.0
    assert report.original_runtime == "sklearn" and report.runtime == "onnxruntime"
    assert report.environment["scikit-learn"] and report.environment["skl2onnx"]
    assert [row["batch_size"] for row in report.latency] == [1, 8, 64]
    assert all(row["ratio"] > 0 for row in report.latency)
    # inputs were resampled from the example rows, column by column
    assert report.inputs[0]["generated"] is True


def test_sklearn_check_in_a_subprocess_matches_in_process(sklearn_classifier):
    model, conv = sklearn_classifier
    here = interop.check(model, conv, latency=False)
    there = interop.check(model, conv, latency=False, isolate=True, timeout=120)
    assert there.passed and there.settings["isolate"]
    pick = [(p["output"], p["batch_size"], p["max_abs_error"]) for p in here.parity]
    assert pick == [(p["output"], p["batch_size"], p["max_abs_error"]) for p in there.parity]


def test_torch_weights_scaled_by_1_01_in_the_onnx_model_are_caught(torch_mlp):
    import copy

    from onnx import numpy_helper

    model, conv = torch_mlp
    assert interop.check(model, conv, latency=False).passed
    tampered = copy.deepcopy(conv.model)
    scaled = 0
    for init in tampered.graph.initializer:
        array = numpy_helper.to_array(init)
        if array.ndim == 2:  # the Linear weights, not the biases
            init.CopyFrom(numpy_helper.from_array(array * np.float32(1.01), init.name))
            scaled += 1
    assert scaled == 2
    bad = interop.check(model, conv.__class__(**{**conv.__dict__, "model": tampered}),
                        latency=False)
    assert not bad.passed and bad.failing_outputs() == ["output_0"]
    worst = max(p["required_atol"] for p in bad.parity)
    assert worst > 1e-3 and all(p["required_atol"] > p["atol"] for p in bad.parity)


def test_torch_saved_model_checks_from_its_path(torch_mlp, tmp_path):
    model, conv = torch_mlp
    report = interop.check(model, conv.save(tmp_path / "mlp.onnx"), latency=False)
    assert report.passed and report.converter == "torch.onnx" and report.source == "torch"
    assert {p["output"] for p in report.parity} == {"output_0"}


def test_report_formats_round_trip(torch_mlp, tmp_path):
    model, conv = torch_mlp
    report = interop.check(model, conv, time_budget_s=0.05, case="torch_mlp_demo")
    data = json.loads(report.save(tmp_path / "r.json").read_text())
    assert data["schema"] == "interop.report/1" and data["passed"] is True
    assert data["source"] == "torch" and data["converter"] == "torch.onnx"
    assert data["runtime"] == "onnxruntime" and data["case"] == "torch_mlp_demo"
    assert data["environment"]["torch"].startswith("2.13")
    assert {"original_p50_ms", "converted_p50_ms", "ratio", "threads"} <= set(data["latency"][0])
    assert Report.from_dict(data).to_dict() == data
    markdown = report.save(tmp_path / "r.md").read_text()
    assert "**Verdict: passed**" in markdown and "| 8 | output_0 → " in markdown
    suite = ET.parse(report.save(tmp_path / "r.xml")).getroot().find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "0"
    assert [c.get("name") for c in suite] == ["output_0[batch=1]", "output_0[batch=8]"]
    with pytest.raises(interop.InvalidInput, match="cannot tell the report format"):
        report.save(tmp_path / "r.txt")
