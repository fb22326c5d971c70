"""The suite runner: cases isolated, a crashing case recorded, results and matrix written."""

from __future__ import annotations

import json

from conformance import runner
from conformance.cases import Case, by_name


def test_suite_records_a_crash_and_goes_on(tmp_path):
    crashing = Case("aborting_case", "sklearn", _aborting_build(), tags=("fault",))
    cases = [crashing, by_name("sk_ridge")]
    options = runner.Options(latency=False, timeout_s=300)
    cells = runner.run_suite(cases, ["onnx"], options, jobs=1)
    by_case = {c["case"]: c for c in cells}
    assert by_case["aborting_case"]["verdict"] == "crash"
    assert "SIGABRT" in by_case["aborting_case"]["reason"]
    ridge = by_case["sk_ridge"]
    assert ridge["verdict"] == "passed" and ridge["converter"] == "sklearn.onnx"
    assert ridge["worst_abs_error"] < 1e-3 and ridge["report"]["schema"] == "interop.report/1"

    results = runner.write_results(cells, 1.0, options, tmp_path / "latest.json")
    data = json.loads(results.read_text())
    assert data["summary"] == {"cases": 2, "cells": 2, "verdicts": {"crash": 1, "passed": 1}}
    matrix = runner.write_matrix(results, tmp_path / "matrix.md").read_text()
    assert "| sk_ridge | sklearn | ✅ " in matrix
    assert "| aborting_case | sklearn | ❌ crash: the process died with SIGABRT" in matrix


def _aborting_build():
    from tests.harness_fixtures import build_aborting_case

    return build_aborting_case
