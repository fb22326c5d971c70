"""`import interop` stays light: no framework, no onnx, and little time."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "tensorflow", "keras", "sklearn", "onnx", "onnxruntime", "coremltools",
         "tf2onnx", "skl2onnx")


def _python(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout


def test_import_interop_loads_no_framework():
    out = json.loads(_python(
        "import json, sys, interop; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    ))
    assert out == []


def test_import_interop_costs_under_a_tenth_of_a_second():
    # best of several fresh interpreters, each timed from inside, against a bare one
    timer = (
        "import time; t=time.perf_counter(); {stmt}; print(time.perf_counter()-t)"
    )
    bare = min(float(_python(timer.format(stmt="import json"))) for _ in range(5))
    ours = min(float(_python(timer.format(stmt="import interop"))) for _ in range(5))
    assert ours - bare < 0.1, (ours, bare)
