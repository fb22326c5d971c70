"""Shared test helpers: parity at several batch sizes through the public API."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # conformance/ is a top-level package beside src/
    sys.path.insert(0, str(ROOT))


def slice_feed(feed: dict[str, Any], batch: int) -> dict[str, Any]:
    """The first ``batch`` rows of every input (the example feed is built at batch 8)."""
    return {k: np.asarray(v)[:batch] for k, v in feed.items()}


def assert_parity(model: Any, conversion: Any, batch_sizes=(1, 8), max_abs=1e-4) -> dict:
    """Re-run convert-time validation at each batch size; every output within ``max_abs``.

    Returns {batch_size: {output: max_abs_error}} so tests can report the figures.
    """
    from interop.api import validate
    from interop.types import Tolerance

    figures: dict[int, dict[str, float]] = {}
    for batch in batch_sizes:
        conv = dataclasses.replace(
            conversion, example_feed=slice_feed(conversion.example_feed, batch)
        )
        validate(model, conv, Tolerance(atol=max_abs, rtol=0.0))
        assert conv.validation["passed"], conv.validation
        figures[batch] = {}
        for name, out in conv.validation["outputs"].items():
            if out["max_abs_error"] is not None:
                assert out["max_abs_error"] <= max_abs, (batch, name, out)
                figures[batch][name] = out["max_abs_error"]
            else:
                assert out["label_agreement"] == 1.0, (batch, name, out)
    return figures


def conversion_cache(cases: Any, to: str) -> Any:
    """``get(case_name, precision) -> (model, conversion)``, converting each pair once."""
    import interop

    cache: dict[tuple[str, str], tuple] = {}

    def get(name: str, precision: str) -> tuple:
        if (name, precision) not in cache:
            case = next(c for c in cases if c.name == name)
            model, example = case.build()
            conv = interop.convert(model, to=to, example_inputs=example, precision=precision)
            cache[(name, precision)] = (model, conv)
        return cache[(name, precision)]

    return get


def pytest_sessionfinish(session, exitstatus):
    """Under ``make test`` (INTEROP_NO_SKIPS=1) every framework is installed: a skip is a bug.

    The importorskip guards exist for the nox sessions that install one extra at a time;
    in the full environment they must never fire, so a skipped test fails the run.
    """
    import os

    if os.environ.get("INTEROP_NO_SKIPS") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        where = sorted({str(getattr(r, "nodeid", "?")) for r in skipped})[:5]
        reporter.write_line(
            f"error: {len(skipped)} test(s) skipped with INTEROP_NO_SKIPS=1: {', '.join(where)}",
            red=True,
        )
        session.exitstatus = 1
