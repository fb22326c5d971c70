"""Quiet: converting and checking a zoo model writes nothing to file descriptors 1 and 2.

Run in a fresh interpreter with no logging configured, as a user's script would be: that is
where torch.onnx's progress lines, torch's "torchvision is not installed" warnings and
onnxscript's "Evaluation failed: cannot reshape array ..." (a warning through logging's
last-resort handler) used to reach the terminal. The child points descriptors 1 and 2 at
temporary files with os.dup2 for the conversion and the check, so C++ prints are caught too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("transformers")

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import json, os, sys, tempfile
    import interop
    from conformance.cases import zoo_hf

    case = next(c for c in zoo_hf.CASES if c.name == sys.argv[1])
    model, example = case.build()
    sinks = [tempfile.TemporaryFile() for _ in (1, 2)]
    saved = [os.dup(1), os.dup(2)]
    sys.stdout.flush(); sys.stderr.flush()
    os.dup2(sinks[0].fileno(), 1); os.dup2(sinks[1].fileno(), 2)
    try:
        conv = interop.convert(model, to="onnx", example_inputs=example)
        report = interop.check(model, conv, batch_sizes=(1, 8), latency=False, isolate=False)
    finally:
        sys.stdout.flush(); sys.stderr.flush()
        os.dup2(saved[0], 1); os.dup2(saved[1], 2)
    written = []
    for sink in sinks:
        sink.seek(0)
        written.append(sink.read().decode("utf-8", "replace"))
    print(json.dumps({"stdout": written[0], "stderr": written[1], "passed": report.passed,
                      "route": conv.provenance["interop.route"]}))
    """
)


def run_child(case: str, **env: str) -> dict:
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTEROP_")}
    environment.update(env)
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), environment.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", CHILD, case], cwd=ROOT, env=environment,
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_convert_and_check_write_nothing_to_fd_1_and_2():
    # BERT takes the dynamo route: progress lines, "torchvision is not installed" and
    # onnxscript's constant-folding "Evaluation failed" warnings all used to print
    result = run_child("hf_bert")
    assert result["passed"]
    assert result["stdout"] == ""
    assert result["stderr"] == ""


def test_the_text_still_reaches_logging_at_debug():
    import logging

    import torch

    import interop

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("interop")
    handler, level = Keep(logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()).eval()
        interop.convert(model, to="onnx", example_inputs=(torch.randn(2, 4),))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    messages = [r.getMessage() for r in records if r.levelno == logging.DEBUG]
    assert any("[torch.onnx]" in m for m in messages), messages[:20]
