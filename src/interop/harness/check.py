"""The check itself: inputs for both sides, run both, compare each output, time, report."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from interop import registry
from interop.harness import tolerances as tolerance_levels
from interop.harness.inputs import InputCache, batch_of, fixed_batch, from_user
from interop.harness.isolate import OK, SideJob, SideResult, run_isolated, run_side, runtime_ref
from interop.harness.report import Report
from interop.harness.rounding import has_float_inputs, output_noise, perturbed
from interop.harness.timing import TimingPlan, ratio
from interop.harness.verdict import judge_batch, missing_entry
from interop.types import Conversion

FAILED_STATUS_VERDICT = {"crash": "crash", "timeout": "timeout", "out-of-memory": "out-of-memory"}


def _runtime_reference(name: str) -> str:
    """An import string for the runtime registered as ``name`` (resolved here, so errors
    such as a missing framework are raised before any subprocess starts)."""
    cls = registry.get_runtime(name)
    entry = registry.RUNTIMES.load(name)
    return entry.value if entry.value else runtime_ref(cls)


def _portable(conversion: Conversion) -> Conversion:
    """The conversion without its model and saver, small and picklable for a subprocess."""
    return dataclasses.replace(conversion, model=None, saver=_no_saver, example_feed={})


def _no_saver(model: Any, path: Path) -> None:
    raise RuntimeError("a conversion sent to a runtime subprocess cannot be saved")


def _copy(feed: dict[str, Any]) -> dict[str, Any]:
    return {k: np.array(v, copy=True) for k, v in feed.items()}


def run_check(
    model: Any,
    converted: Any,
    *,
    inputs: Any,
    batch_sizes: tuple[int, ...],
    tolerance: Any,
    profile: str | None,
    latency: bool,
    threads: int,
    isolate: bool,
    timeout: float,
    memory_limit_mb: int | None,
    seed: int,
    warmup: int,
    repeat: int,
    time_budget_s: float,
    case: str | None,
    case_tolerance: Any,
) -> Report:
    from interop.harness.environment import environment
    from interop.harness.saved import conversion_from_path

    notes: list[str] = []
    if isinstance(converted, Conversion):
        conversion = converted
    elif isinstance(converted, (str, Path)):
        conversion, notes = conversion_from_path(converted, model)
    else:
        from interop.errors import InvalidInput

        raise InvalidInput(
            f"check() needs a Conversion or a saved model path, not {type(converted).__name__}",
            "pass the result of interop.convert(...) or the path it was saved to",
        )
    original_ref = _runtime_reference(conversion.source)
    converted_ref = _runtime_reference(conversion.runtime)

    # inputs: one draw per batch size, keyed by converted names; the original's feed is the
    # same arrays under the original's names
    if inputs is not None:
        user_feed = from_user(inputs, conversion.input_specs, conversion.input_map)
        feeds = {batch_of(user_feed): user_feed}
        notes.append("inputs given by the caller")
    else:
        fixed = fixed_batch(conversion.input_specs)
        sizes = list(dict.fromkeys(batch_sizes))
        if fixed is not None and any(b != fixed for b in sizes):
            notes.append(f"the converted model fixes the batch size at {fixed}; checked at {fixed}")
            sizes = [fixed]
        cache = InputCache(
            conversion.input_specs,
            seed=seed,
            example_feed=conversion.example_feed,
            resample=conversion.source == "sklearn",
        )
        feeds = {b: cache.feed(b) for b in sizes}
    original_feeds = {
        b: {o: feed[c] for o, c in conversion.input_map.items()} if conversion.input_map else feed
        for b, feed in feeds.items()
    }

    plan = (
        TimingPlan(warmup=warmup, repeat=repeat, budget_s=time_budget_s) if latency else None
    )
    portable = _portable(conversion)
    # the original once more per batch on rounding-perturbed floats: its own noise
    probes = {b: perturbed(f) for b, f in original_feeds.items() if has_float_inputs(f)}
    original_job = SideJob(
        original_ref, model, portable, original_feeds, threads, plan, probe_feeds=probes
    )
    converted_job = SideJob(converted_ref, conversion.model, portable, feeds, threads, plan)
    if isolate:
        original = run_isolated(original_job, timeout=timeout, memory_limit_mb=memory_limit_mb)
        converted_side = run_isolated(
            converted_job, timeout=timeout, memory_limit_mb=memory_limit_mb
        )
    else:
        original = run_side(dataclasses.replace(original_job, feeds=_copied(original_feeds)))
        converted_side = run_side(dataclasses.replace(converted_job, feeds=_copied(feeds)))

    report = Report(
        passed=False,
        verdict="failed",
        source=conversion.source,
        target=conversion.target,
        converter=conversion.converter,
        runtime=converted_side.runtime or conversion.runtime,
        original_runtime=original.runtime or conversion.source,
        case=case,
        notes=notes,
        inputs=[
            {**s.to_dict(), "generated": inputs is None} for s in conversion.input_specs
        ],
        settings={
            "batch_sizes": list(feeds),
            "threads": threads,
            "seed": seed,
            "isolate": isolate,
            "timeout_s": timeout if isolate else None,
            "memory_limit_mb": memory_limit_mb if isolate else None,
            "profile": profile,
            "latency": latency,
            "timing": dataclasses.asdict(plan) if plan else None,
        },
        load={"original_ms": original.load_ms, "converted_ms": converted_side.load_ms},
        environment=environment(conversion.source, conversion.runtime),
    )
    for side_name, side in (("original", original), ("converted", converted_side)):
        if side.status != OK or (side.cause and not side.outputs):
            report.failures.append(f"{side_name} side: {side.status}: {side.cause}")
            report.verdict = FAILED_STATUS_VERDICT.get(side.status, "error")
    if report.failures:
        return report

    if not conversion.output_map:
        _map_by_position(conversion, original, converted_side, report)
    outputs = list(conversion.output_map)
    per_output = tolerance_levels.resolve(
        outputs,
        conversion.target,
        conversion.default_tolerance,
        profile_name=profile,
        case=case_tolerance,
        call=tolerance,
    )
    report.settings["tolerance"] = {
        name: {"atol": t.atol, "rtol": t.rtol, "rel_rms": t.rel_rms, "scaled": t.scaled}
        for name, t in per_output.items()
    }
    for batch in feeds:
        _compare_batch(batch, conversion, original, converted_side, per_output, report)
        if latency:
            report.latency.append(_latency_row(batch, threads, original, converted_side))
    if latency:
        speed_note = _speed_note(report.latency)
        if speed_note:
            report.notes.append(speed_note)
    if not converted_side.measures_latency and latency:
        report.notes.append(
            f"{converted_side.runtime} does not measure latency honestly; "
            "converted latency and ratio are null"
        )
    report.passed = not report.failures and all(p["passed"] for p in report.parity)
    report.verdict = "passed" if report.passed else "failed"
    return report


def _speed_note(rows: list[dict[str, Any]]) -> str:
    """Which side is faster at each batch size, in words, from the p50 ratios."""
    parts = []
    for row in rows:
        value = row.get("ratio")
        if value is None or value <= 0:
            continue
        if value > 1:
            parts.append(f"batch {row['batch_size']}: converted {value:.2f}x the original's time")
        else:
            parts.append(f"batch {row['batch_size']}: original {1 / value:.2f}x slower")
    if not parts:
        return ""
    slower = any((row.get("ratio") or 0) > 1 for row in rows)
    hint = (
        "; the conversion is slower somewhere: interop.optimize(model, conversion) looks for a "
        "faster variant that still passes"
        if slower
        else ""
    )
    return "latency (p50, same threads): " + ", ".join(parts) + hint


def _copied(feeds: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {b: _copy(f) for b, f in feeds.items()}


def _map_by_position(
    conversion: Conversion, original: SideResult, converted: SideResult, report: Report
) -> None:
    first = next(iter(original.outputs.values()), {})
    produced = next(iter(converted.outputs.values()), {})
    names_o, names_c = list(first), list(produced)
    mapping = {n: n for n in names_o if n in produced}
    if len(mapping) != len(names_o):
        mapping = dict(zip(names_o, names_c, strict=False))
    conversion.output_map = mapping
    report.notes.append(
        "outputs matched: " + ", ".join(f"{o} -> {c}" for o, c in mapping.items())
    )


def _compare_batch(
    batch: int,
    conversion: Conversion,
    original: SideResult,
    converted: SideResult,
    per_output: dict[str, Any],
    report: Report,
) -> None:
    for side_name, side in (("original", original), ("converted", converted)):
        if batch in side.errors:
            reason = f"the {side_name} model {side.errors[batch]}"
            report.failures.append(f"batch {batch}: {reason}")
            for name, conv_name in conversion.output_map.items():
                tol = per_output[name]
                report.parity.append(missing_entry(batch, name, conv_name, tol, reason))
            return
    reference = original.outputs.get(batch, {})
    probed = original.probe_outputs.get(batch)
    verdict = judge_batch(
        batch,
        conversion,
        reference,
        converted.outputs.get(batch, {}),
        per_output,
        noise=output_noise(reference, probed) if probed is not None else None,
    )
    report.parity.extend(verdict.entries)
    report.failures.extend(verdict.failures)


def _latency_row(
    batch: int, threads: int, original: SideResult, converted: SideResult
) -> dict[str, Any]:
    row: dict[str, Any] = {"batch_size": batch, "threads": threads}
    for side_name, side in (("original", original), ("converted", converted)):
        stats = side.latency.get(batch)
        honest = side.measures_latency and stats is not None
        for field in ("min_ms", "p50_ms", "p90_ms", "p99_ms", "mean_ms"):
            row[f"{side_name}_{field}"] = getattr(stats, field) if honest else None
        row[f"{side_name}_runs"] = stats.runs if honest and stats else None
        first = side.first_run_ms.get(batch)
        row[f"{side_name}_first_run_ms"] = first if side.measures_latency else None
        row[f"{side_name}_load_ms"] = side.load_ms if side.measures_latency else None
    row["ratio"] = ratio(row["converted_p50_ms"], row["original_p50_ms"])
    return row
