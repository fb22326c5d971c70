"""Paired latency rounds: the original, the plain conversion and every passing variant are
loaded once and timed in turn, round after round, with the same thread count and feeds.

On a shared machine the load drifts over seconds; timing every model in each round and
taking the median of the per-round ratios to the plain conversion cancels most of that drift,
which separate back-to-back measurements (as two ``check`` calls would make) do not.
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from interop import registry
from interop.harness.inputs import InputCache, batch_of, fixed_batch, from_user
from interop.harness.timing import TimingPlan, measure
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
    """p50 per model and batch size (median of the rounds' p50s), and each model's median
    per-round ratio to ``baseline``. Models whose runtime cannot be timed honestly (the Core
    ML reference executor) are absent."""

    p50_ms: dict[str, dict[int, float]]
    ratio: dict[str, dict[int, float]]


def time_paired(
    models: dict[str, Timed],
    *,
    baseline: str,
    threads: int,
    rounds: int = 5,
    budget_s: float = 0.25,
) -> PairedTimes:
    plan = TimingPlan(warmup=1, repeat=50, budget_s=budget_s, min_repeat=3)
    per_round: dict[str, dict[int, list[float]]] = {}
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
            for round_index in range(rounds):
                shift = round_index % max(len(names), 1)
                for name in names[shift:] + names[:shift]:
                    stats = measure(calls[name], plan)
                    per_round.setdefault(name, {}).setdefault(batch, []).append(stats.p50_ms)
    p50 = {
        name: {b: statistics.median(v) for b, v in batches_.items()}
        for name, batches_ in per_round.items()
    }
    ratios: dict[str, dict[int, float]] = {}
    base = per_round.get(baseline, {})
    for name, batches_ in per_round.items():
        for batch, values in batches_.items():
            if batch in base:
                pairs = [v / b for v, b in zip(values, base[batch], strict=True) if b > 0]
                if pairs:
                    ratios.setdefault(name, {})[batch] = statistics.median(pairs)
    return PairedTimes(p50, ratios)


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
