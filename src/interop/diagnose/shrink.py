"""A smaller input that still fails: one row first, then simpler values.

Both sides stay loaded while shrinking; every try is one run of each, judged on the
model's outputs exactly as ``check`` judges them.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from interop import registry
from interop.harness import tolerances as tolerance_levels
from interop.harness.verdict import judge_batch
from interop.types import Conversion

MAX_TRIES = 48
MAX_ROWS = 16


class OutputJudge:
    """Both runtimes, loaded once: ``passes(feed)`` says whether the outputs match."""

    def __init__(self, model: Any, conversion: Conversion, tolerance: Any) -> None:
        self.conversion = conversion
        self._stack = contextlib.ExitStack()
        original_cls = registry.get_runtime(conversion.source)
        converted_cls = registry.get_runtime(conversion.runtime)
        self.original = self._stack.enter_context(
            original_cls(model, conversion=conversion, threads=1)
        )
        self.converted = self._stack.enter_context(
            converted_cls(conversion.model, conversion=conversion, threads=1)
        )
        self.tolerance = tolerance
        self.per_output: dict[str, Any] = {}
        self.runs = 0

    def original_feed(self, feed: dict[str, Any]) -> dict[str, Any]:
        mapping = self.conversion.input_map
        return {o: feed[c] for o, c in mapping.items()} if mapping else dict(feed)

    @property
    def layer_tolerance(self) -> Any:
        return next(iter(self.per_output.values()), self.conversion.default_tolerance)

    def passes(self, feed: dict[str, Any]) -> bool:
        self.runs += 1
        reference = self.original.run(self.original_feed(feed))
        produced = self.converted.run(dict(feed))
        if not self.conversion.output_map:  # a saved model without interop's metadata
            names = [n for n in produced if n in reference]
            self.conversion.output_map = (
                {n: n for n in names} if len(names) == len(reference)
                else dict(zip(reference, produced, strict=False))
            )
        if not self.per_output:
            self.per_output = tolerance_levels.resolve(
                list(self.conversion.output_map),
                self.conversion.target,
                self.conversion.default_tolerance,
                call=self.tolerance,
            )
        verdict = judge_batch(0, self.conversion, reference, produced, self.per_output)
        return verdict.passed

    def close(self) -> None:
        self._stack.close()


def _size(feed: dict[str, Any]) -> tuple[int, int]:
    batch = int(next(iter(feed.values())).shape[0]) if feed else 0
    nonzero = sum(int(np.count_nonzero(v)) for v in feed.values() if v.dtype.kind in "biuf")
    return batch, nonzero


def shrink(judge: OutputJudge, feed: dict[str, Any]) -> tuple[dict[str, Any] | None, dict]:
    """(the smallest failing feed found, how it was found), or (None, {}) when ``feed``
    passes. Keyed by the converted model's input names."""
    if judge.passes(feed):
        return None, {}
    start = _size(feed)
    current = {k: np.array(v, copy=True) for k, v in feed.items()}
    tries = 0

    def fails(candidate: dict[str, Any]) -> bool:
        nonlocal tries
        tries += 1
        return not judge.passes(candidate)

    if start[0] > 1:  # batch 1: the first failing row
        for row in range(min(start[0], MAX_ROWS)):
            one = {k: v[row : row + 1] for k, v in current.items()}
            if fails(one):
                current = one
                break
    floats = [k for k, v in current.items() if v.dtype.kind == "f"]
    for decimals in (0, 1):  # round where rounding keeps the failure
        if tries >= MAX_TRIES or not floats:
            break
        rounded = {k: (np.round(v, decimals) if k in floats else v) for k, v in current.items()}
        if fails(rounded):
            current = rounded
            break
    parts = 2
    while floats and tries < MAX_TRIES and parts <= 64:  # zero chunks that do not matter
        for name in floats:
            flat = current[name].reshape(-1)
            for chunk in np.array_split(np.arange(flat.size), parts):
                if tries >= MAX_TRIES or not chunk.size or not np.any(flat[chunk]):
                    continue
                trial = flat.copy()
                trial[chunk] = 0
                candidate = {**current, name: trial.reshape(current[name].shape)}
                if fails(candidate):
                    current, flat = candidate, trial
        parts *= 2
    end = _size(current)
    info = {
        "started_batch": start[0],
        "batch": end[0],
        "started_nonzero": start[1],
        "nonzero": end[1],
        "tries": tries,
    }
    return current, info
