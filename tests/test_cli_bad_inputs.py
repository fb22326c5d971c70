"""The bad-input corpus: every case exits with its documented code and two clear lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from interop.cli import main
from tests.bad_inputs.corpus import CASES

ROOT = Path(__file__).resolve().parents[1]
FILES = ROOT / "tests" / "bad_inputs" / "files"


def test_corpus_is_large_and_covers_every_failure_code():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.exit_code for c in CASES} == {2, 3, 4}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)  # factories are named from the repository root
    existing = tmp_path / "existing.onnx"
    existing.write_bytes(b"an older model")
    out = tmp_path / "out.onnx"
    values = {"f": str(FILES), "out": str(out), "tmp": str(tmp_path), "existing": str(existing)}
    argv = [arg.format(**values) for arg in case.argv]

    code = main(argv)

    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    hints = [line for line in captured.err.splitlines() if line.startswith("hint:")]
    assert code == case.exit_code, captured.err
    assert len(errors) == 1 and len(hints) == 1, captured.err
    assert case.phrase in errors[0], errors[0]
    assert len(hints[0]) > len("hint: ")
    assert "Traceback" not in captured.err + captured.out
    assert captured.out == ""  # nothing but results on stdout, and there are none
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.onnx"]
    assert existing.read_bytes() == b"an older model"


def test_debug_shows_the_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code = main(["tests.bad_inputs.factories:raises", "--to", "onnx", "-o",
                 str(tmp_path / "m.onnx"), "--debug"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" in err and "the factory was asked to fail" in err


def test_json_error_summary(tmp_path, capsys):
    import json

    code = main([str(FILES / "model.pkl"), "--to", "onnx", "-o", str(tmp_path / "m.onnx"),
                 "--json"])
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert code == 2
    assert summary["status"] == "error" and summary["exit_code"] == 2
    assert "pickle" in summary["error"] and "--allow-pickle" in summary["hint"]
