"""Conversions in a ProcessPoolExecutor with the spawn and forkserver start methods (issue 16).

Each child process imports its own torch, TensorFlow and coremltools, so nothing is shared;
the children convert and check real models and send back figures. ``fork`` is not tested as
supported: torch and TensorFlow are not fork-safe once initialised (docs/architecture.md,
"Threads").
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("coremltools")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from thread_models import convert_and_check  # noqa: E402

# one torch model to both targets, one scikit-learn model to both targets
JOBS = (("torch_mlp", ("onnx", "coreml")), ("sklearn_forest", ("onnx", "coreml")))


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_process_pool_converts_and_checks(method: str) -> None:
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"{method} is not available on this platform")
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        # the server process imports this much before forking children (faster starts)
        context.set_forkserver_preload(["interop"])
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        futures = [pool.submit(convert_and_check, name, targets) for name, targets in JOBS]
        results = [f.result(timeout=600) for f in futures]
    for (name, targets), result in zip(JOBS, results, strict=True):
        assert result["pid"] != os.getpid()
        for target in targets:
            figures = result[target]
            assert figures["passed"], (method, name, target, figures)
            assert figures["max_abs_error"] is not None
            assert figures["max_abs_error"] < 0.05, (method, name, target, figures)
