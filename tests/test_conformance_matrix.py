"""The support-matrix page: the main table and the generated sections each owner writes."""

from __future__ import annotations

import json
from pathlib import Path

from conformance import runner


def _results(path: Path, cells: list[dict]) -> Path:
    path.write_text(json.dumps({
        "created": "2026-11-30T12:00:00+00:00", "wall_s": 12.0,
        "environment": {"platform": "Linux", "cpus": 2, "python": "3.11.7", "torch": "2.13.0"},
        "summary": runner.summarize(cells), "cells": cells,
    }))
    return path


def _cell(case: str, target: str, verdict: str, tag: str, **extra) -> dict:
    return {"case": case, "framework": "torch", "tags": [tag], "target": target,
            "verdict": verdict, "reason": extra.pop("reason", ""), "worst_abs_error": 1e-7,
            "convert_s": 3.0, "check_s": 0.5, "latency_ratio": 0.5, **extra}


def test_sections_survive_the_main_table_and_the_zoo_section_counts(tmp_path: Path) -> None:
    page = tmp_path / "support-matrix.md"
    page.write_text("# old\n\n<!-- sklearn-coverage:begin -->\nSKLEARN TABLE\n"
                    "<!-- sklearn-coverage:end -->\n")
    main = _results(tmp_path / "latest.json", [_cell("mlp", "onnx", "passed", "mlp")])
    runner.write_matrix(main, page)
    text = page.read_text()
    assert text.startswith("# Support matrix") and "SKLEARN TABLE" in text and "# old" not in text
    zoo = _results(tmp_path / "zoo.json", [
        _cell("hf_bert", "onnx", "passed", "encoder"),
        _cell("hf_bert", "coreml", "failed", "encoder", reason="max abs error 0.3"),
        _cell("hf_vit", "onnx", "passed", "vision"),
    ])
    runner.write_zoo_section(zoo, page)
    text = page.read_text()
    assert text.startswith("# Support matrix") and "SKLEARN TABLE" in text
    assert "| torch: encoder | 0/1 | 1/1 |" in text
    assert "| **all** | **0/1 (0 %)** | **2/2 (100 %)** |" in text
    assert "| hf_bert | coreml | failed | 1.0e-07 | 3.0 | 0.5 | – | max abs error 0.3 |" in text
    runner.write_matrix(main, page)  # the main table again: the zoo section stays
    assert "## Zoo tier" in page.read_text() and "SKLEARN TABLE" in page.read_text()


def test_every_case_pickles_into_the_case_subprocess() -> None:
    import pickle

    from conformance.cases import FAMILIES, ZOO_FAMILIES, all_cases

    cases = all_cases(FAMILIES + ZOO_FAMILIES)
    assert len(cases) > 100
    for case in cases:
        assert pickle.loads(pickle.dumps(case)).name == case.name
