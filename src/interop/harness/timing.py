"""The latency protocol: warm-up, then repeated runs up to a count or a time budget.

Load time and the first run are measured apart from the steady state, since both include
one-off work (graph optimisation, allocation, tracing). Imports no framework.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class TimingPlan:
    """How long to measure: ``warmup`` untimed runs, then ``repeat`` runs or ``budget_s``."""

    warmup: int = 3
    repeat: int = 100
    budget_s: float = 1.0
    min_repeat: int = 5

    def __post_init__(self) -> None:
        if self.repeat < 1 or self.min_repeat < 1 or self.warmup < 0 or self.budget_s <= 0:
            raise ValueError(f"invalid timing plan {self}")


@dataclass(frozen=True)
class LatencyStats:
    """Steady-state run times in milliseconds, and how many runs they come from."""

    runs: int
    min_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile of an ascending list (as numpy's default method)."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


def summarize(times_ms: list[float]) -> LatencyStats:
    ordered = sorted(times_ms)
    return LatencyStats(
        runs=len(ordered),
        min_ms=ordered[0],
        p50_ms=percentile(ordered, 50),
        p90_ms=percentile(ordered, 90),
        p99_ms=percentile(ordered, 99),
        mean_ms=sum(ordered) / len(ordered),
    )


def time_once(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(milliseconds, result) of one call."""
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1e3, result


def measure(fn: Callable[[], Any], plan: TimingPlan = TimingPlan()) -> LatencyStats:
    """Warm up, then time ``fn`` until ``plan.repeat`` runs or ``plan.budget_s`` is spent.

    At least ``plan.min_repeat`` runs are timed even when they overrun the budget, so a slow
    model still gets a median of several runs.
    """
    for _ in range(plan.warmup):
        fn()
    times: list[float] = []
    clock = time.perf_counter
    deadline = clock() + plan.budget_s
    while len(times) < plan.repeat:
        start = clock()
        fn()
        end = clock()
        times.append((end - start) * 1e3)
        if end >= deadline and len(times) >= plan.min_repeat:
            break
    return summarize(times)


def ratio(converted_ms: float | None, original_ms: float | None) -> float | None:
    """converted / original; None when either side has no honest figure."""
    if converted_ms is None or original_ms is None or original_ms <= 0:
        return None
    return converted_ms / original_ms
