"""SIGKILL during a conversion leaves no output file and no temporary file behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("interop-convert")


def test_sigkill_while_converting_leaves_nothing(tmp_path):
    out = tmp_path / "model.onnx"
    process = subprocess.Popen(
        [str(SCRIPT), "tests.bad_inputs.factories:slow_torch", "--to", "onnx", "-o", str(out),
         "-v"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    seen = []
    try:
        deadline = time.monotonic() + 120
        assert process.stderr is not None
        for line in process.stderr:  # wait until the converter is at work
            seen.append(line)
            if "converting torch model to onnx" in line or time.monotonic() > deadline:
                break
        time.sleep(1.0)
        assert process.poll() is None, "".join(seen)  # still converting when killed
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    assert any("converting torch model to onnx" in line for line in seen), "".join(seen)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file or directory either
