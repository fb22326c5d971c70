"""Interleaved latency: the original, the plain conversion and every passing variant are
loaded once and run in turn, one call each per sweep, with the same thread count and feeds.

On a shared machine the load drifts over seconds. Timing each model for a second in turn
(as two ``check`` calls would) lets that drift decide which is "faster"; interleaving single
calls spreads every model's samples over the same stretch of time, so they see the same
interference and their medians compare.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from interop import registry
from interop.harness.inputs import InputCache, batch_of, fixed_batch, from_user
from interop.harness.timing import summarize, time_once
from interop.types import Conversion


@dataclass(frozen=True)
class Timed:
    """One model to time: a registered runtime name, the model, the conversion, and its feeds
    per batch size (keyed by the names that runtime expects)."""

    runtime: str
    model: Any
    conversion: Any
    feeds: dict[int, dict[str, Any]]


@dataclass
class PairedTimes:
    """p50 per model and batch size, and each model's p50 relative to ``baseline``'s. Models
    whose runtime cannot be timed honestly (the Core ML reference executor) are absent."""

    p50_ms: dict[str, dict[int, float]]
    ratio: dict[str, dict[int, float]]
    runs: dict[str, dict[int, int]]


def time_paired(
    models: dict[str, Timed],
    *,
    baseline: str,
    threads: int,
    rounds: int = 5,
    budget_s: float = 1.0,
    max_sweeps: int = 500,
) -> PairedTimes:
    """Sweeps of one call per model until each model has had about ``budget_s`` seconds per
    batch size and at least ``rounds`` sweeps are done (at most ``max_sweeps``)."""
    samples: dict[str, dict[int, list[float]]] = {}
    with contextlib.ExitStack() as stack:
        runners: dict[str, Any] = {}
        for name, timed in models.items():
            cls = registry.get_runtime(timed.runtime)
            runtime = cls(timed.model, conversion=timed.conversion, threads=threads)
            entered = stack.enter_context(runtime)
            rt = entered if entered is not None else runtime
            if getattr(rt, "measures_latency", True):
                runners[name] = rt
        batches = sorted({b for name in runners for b in models[name].feeds})
        for batch in batches:
            names = [n for n in runners if batch in models[n].feeds]
            calls = {n: partial(runners[n].run, models[n].feeds[batch]) for n in names}
            for call in calls.values():  # first runs allocate and optimise: not timed
                call()
                call()
            deadline = time.perf_counter() + budget_s * len(names)
            sweep = 0
            while sweep < max_sweeps and (sweep < rounds or time.perf_counter() < deadline):
                shift = sweep % max(len(names), 1)
                for name in names[shift:] + names[:shift]:
                    elapsed, _ = time_once(calls[name])
                    samples.setdefault(name, {}).setdefault(batch, []).append(elapsed)
                sweep += 1
    p50 = {
        name: {b: summarize(v).p50_ms for b, v in per_batch.items()}
        for name, per_batch in samples.items()
    }
    runs = {name: {b: len(v) for b, v in per_batch.items()} for name, per_batch in samples.items()}
    base = p50.get(baseline, {})
    ratios = {
        name: {b: v / base[b] for b, v in per_batch.items() if base.get(b)}
        for name, per_batch in p50.items()
    }
    return PairedTimes(p50, ratios, runs)


def feeds_like_check(
    conversion: Conversion, inputs: Any, batch_sizes: Sequence[int], seed: int
) -> dict[int, dict[str, Any]]:
    """The feeds ``check`` generates for the same arguments, so timing sees its inputs."""
    if inputs is not None:
        feed = from_user(inputs, conversion.input_specs, conversion.input_map)
        return {batch_of(feed): feed}
    fixed = fixed_batch(conversion.input_specs)
    sizes = [fixed] if fixed is not None else list(dict.fromkeys(batch_sizes))
    cache = InputCache(
        conversion.input_specs,
        seed=seed,
        example_feed=conversion.example_feed,
        resample=conversion.source == "sklearn",
    )
    return {b: cache.feed(b) for b in sizes}
