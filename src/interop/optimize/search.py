"""The search: build each variant the profile allows, check it against the original, time the
ones that pass against the plain conversion, and return the fastest as an Optimization."""

from __future__ import annotations

import dataclasses
import math
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from interop.errors import InvalidInput, first_line
from interop.harness.check import run_check
from interop.harness.inputs import from_user
from interop.optimize.accuracy import TaskJudge
from interop.optimize.catalog import select
from interop.optimize.latency import Timed, feeds_like_check, time_paired
from interop.optimize.profiles import Profile, get_profile, judge
from interop.optimize.result import (
    BuildContext,
    Candidate,
    CandidateResult,
    NotApplicable,
    Optimization,
)
from interop.types import Conversion

PLAIN = "plain"
# A variant replaces the plain conversion only if it is at least this much faster: smaller
# differences are inside the run-to-run spread of paired rounds on a shared machine.
MIN_GAIN = 0.03


def _split_data(data: Any) -> tuple[Any, Any]:
    if data is None:
        return None, None
    if isinstance(data, tuple) and len(data) == 2:
        return data
    raise InvalidInput("data= must be a pair (X, y)", "pass data=(X, y): inputs and true labels")


def _size(conversion: Conversion, workdir: Path, name: str) -> int:
    from interop.frameworks.onnx import ExternalOnnx

    model = conversion.model
    if isinstance(model, ExternalOnnx):  # what it saves as, without copying the weights
        return int(model.path.stat().st_size) + model.data_bytes()
    folder = Path(tempfile.mkdtemp(dir=workdir))
    path = conversion.save(folder / f"{name.replace('+', '_')}{conversion.suffix}")
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    shutil.rmtree(folder, ignore_errors=True)
    return size


def _variant(conversion: Conversion, model: Any, name: str) -> Conversion:
    return dataclasses.replace(
        conversion,
        model=model,
        provenance={**conversion.provenance, "optimization": name},
        validation={},
        warnings=list(conversion.warnings),
    )


def _conversion_of(conversion: Any, model: Any) -> tuple[Conversion, list[str]]:
    if isinstance(conversion, Conversion):
        return conversion, []
    if isinstance(conversion, (str, Path)):
        from interop.harness.saved import conversion_from_path

        return conversion_from_path(conversion, model)
    raise InvalidInput(
        f"optimize() needs a Conversion or a saved model path, not {type(conversion).__name__}",
        "pass the result of interop.convert(...) or the path it was saved to",
    )


def _held_whole(candidate: Candidate, base: Any) -> str:
    """Why ``candidate`` cannot build from ``base``: a model whose weights stay in a data file
    that the builder would read into one ModelProto; "" when it can."""
    from interop.frameworks.onnx import THRESHOLD_ENV, ExternalOnnx, external_threshold

    if candidate.external_data or not isinstance(base, ExternalOnnx):
        return ""
    return (
        f"weights past the external-data threshold ({base.data_bytes()} > "
        f"{external_threshold()} bytes, {THRESHOLD_ENV}): this builder would hold them all "
        "in one in-memory ModelProto"
    )


def optimize(
    model: Any,
    conversion: Conversion | str | Path,
    *,
    profile: str = "fp32",
    inputs: Any = None,
    data: Any = None,
    threads: int = 1,
    candidates: Sequence[str | Candidate] | None = None,
    batch_sizes: Sequence[int] = (1, 8),
    rounds: int = 5,
    time_budget_s: float = 1.0,
    seed: int = 0,
) -> Optimization:
    """Try the variants ``profile`` allows; return the fastest that passes (see package doc).

    ``conversion`` is a Conversion or a saved model path (an ONNX model with its data file
    beside it included)."""
    conversion, path_notes = _conversion_of(conversion, model)
    chosen_profile = get_profile(profile)
    pool = select(candidates, conversion.target)
    x_data, y_data = _split_data(data)
    calibration = (
        from_user(x_data, conversion.input_specs, conversion.input_map)
        if x_data is not None
        else None
    )
    workdir = Path(tempfile.mkdtemp(prefix="interop-optimize-"))
    try:
        search = _Search(model, conversion, chosen_profile, inputs, threads, batch_sizes, seed)
        search.notes.extend(path_notes)
        search.task = TaskJudge(y_data, calibration) if calibration is not None else None
        ctx = BuildContext(model, conversion, calibration, workdir)
        search.add_plain(workdir)
        for candidate in pool:
            search.add(candidate, ctx, workdir)
        return search.finish(rounds, time_budget_s)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class _Search:
    """The state of one optimize() call: the results so far and the models built."""

    def __init__(
        self,
        model: Any,
        conversion: Conversion,
        profile: Profile,
        inputs: Any,
        threads: int,
        batch_sizes: Sequence[int],
        seed: int,
    ) -> None:
        self.model, self.conversion, self.profile = model, conversion, profile
        self.inputs, self.threads, self.seed = inputs, threads, seed
        self.batch_sizes = tuple(batch_sizes)
        self.results: list[CandidateResult] = []
        self.built: dict[str, Any] = {PLAIN: conversion.model}
        self.notes: list[str] = []
        self.task: TaskJudge | None = None

    def _check(self, variant: Conversion) -> Any:
        return run_check(
            self.model,
            variant,
            inputs=self.inputs,
            batch_sizes=self.batch_sizes,
            tolerance=None,
            # int8 is judged on the parity entries' cosine and PSNR; the fp16 profile is
            # only the elementwise yardstick the entries carry
            profile=self.profile.tolerance or "fp16",
            latency=False,
            threads=self.threads,
            isolate=False,
            timeout=600.0,
            memory_limit_mb=None,
            seed=self.seed,
            warmup=0,
            repeat=1,
            time_budget_s=1.0,
            case=None,
            case_tolerance=None,
        )

    def _judge(self, result: CandidateResult, variant: Conversion, workdir: Path) -> None:
        report = self._check(variant)
        passed, reason, metrics = judge(report.parity, report.failures, self.profile)
        result.report, result.conversion = report, variant
        result.worst_abs_error = report.worst_abs_error()
        result.metrics.update(metrics)
        if passed and self.task is not None:
            reason = self.task.judge(self.model, variant, result.metrics, self.threads)
            passed = not reason
        result.passed, result.reason = passed, reason
        result.status = "passed" if passed else "failed"
        try:
            result.size_bytes = _size(variant, workdir, result.name)
        except Exception as exc:
            result.passed, result.status = False, "error"
            result.reason = f"cannot be saved: {first_line(exc)}"

    def add_plain(self, workdir: Path) -> None:
        result = CandidateResult(PLAIN, "none", "failed", False, description="the conversion")
        self._judge(result, self.conversion, workdir)
        result.conversion = self.conversion
        self.results.append(result)

    def add(self, candidate: Candidate, ctx: BuildContext, workdir: Path) -> None:
        result = CandidateResult(
            candidate.name, candidate.kind, "skipped", False, description=candidate.description
        )
        self.results.append(result)
        if candidate.target != self.conversion.target:
            result.status = "not applicable"
            result.reason = (
                f"a {candidate.target} variant; the conversion is {ctx.conversion.target}"
            )
            return
        if candidate.kind not in self.profile.allowed:
            result.reason = f"profile {self.profile.name!r} does not allow {candidate.kind}"
            return
        if candidate.needs_data and ctx.calibration is None:
            result.reason = "needs calibration data: pass data=(X, y)"
            return
        base_name = candidate.base or PLAIN
        held_whole = _held_whole(candidate, self.built.get(base_name, self.conversion.model))
        if held_whole:
            result.reason = held_whole
            return
        if base_name not in self.built:
            result.reason = f"its base {base_name!r} was not built"
            return
        start = time.perf_counter()
        try:
            built = candidate.build(self.built[base_name], ctx)
        except NotApplicable as exc:
            result.status, result.reason = "not applicable", str(exc)
            return
        except Exception as exc:
            result.status, result.reason = "error", f"build failed: {first_line(exc)}"
            return
        finally:
            result.build_s = time.perf_counter() - start
        self.built[candidate.name] = built
        try:
            self._judge(result, _variant(self.conversion, built, candidate.name), workdir)
        except Exception as exc:
            result.passed, result.status = False, "error"
            result.reason = f"check failed to run: {first_line(exc)}"

    def finish(self, rounds: int, budget_s: float) -> Optimization:
        conversion = self.conversion
        feeds = feeds_like_check(conversion, self.inputs, self.batch_sizes, self.seed)
        original_feeds = {
            b: {o: f[c] for o, c in conversion.input_map.items()} or f for b, f in feeds.items()
        }
        timed = {"original": Timed(conversion.source, self.model, conversion, original_feeds)}
        for result in self.results:
            if result.passed and result.conversion is not None:
                timed[result.name] = Timed(
                    conversion.runtime, result.conversion.model, result.conversion, feeds
                )
        if PLAIN not in timed:
            timed[PLAIN] = Timed(conversion.runtime, conversion.model, conversion, feeds)
        times = time_paired(
            timed, baseline=PLAIN, threads=self.threads, rounds=rounds, budget_s=budget_s
        )
        for result in self.results:
            result.p50_ms = times.p50_ms.get(result.name, {})
            per_batch = times.ratio.get(result.name)
            if per_batch and result.name in timed:
                result.latency_ratio = math.exp(
                    sum(math.log(r) for r in per_batch.values()) / len(per_batch)
                )
        best = self._best()
        speedup = 1.0 / best.latency_ratio if best.latency_ratio else None
        if not any(r.latency_ratio for r in self.results):
            self.notes.append(
                f"{conversion.runtime} latency cannot be measured honestly here; the best "
                "variant is the smallest that passed"
            )
        from interop.harness.environment import environment

        return Optimization(
            profile=self.profile.name,
            target=conversion.target,
            best=best.conversion or conversion,
            best_name=best.name,
            candidates=self.results,
            speedup=speedup,
            threads=self.threads,
            batch_sizes=sorted(feeds),
            original_p50_ms=times.p50_ms.get("original", {}),
            plain_p50_ms=times.p50_ms.get(PLAIN, {}),
            notes=self.notes,
            environment=environment(conversion.source, conversion.runtime),
        )

    def _best(self) -> CandidateResult:
        plain = self.results[0]
        passed = [r for r in self.results if r.passed and r.conversion is not None]
        if not passed:
            self.notes.append(
                "no variant passed, not even the plain conversion: " + (plain.reason or "")
            )
            return plain
        timed = [r for r in passed if r.latency_ratio is not None]
        if timed:
            fastest = min(timed, key=lambda r: r.latency_ratio or math.inf)
            if fastest is plain or not plain.passed:
                return fastest
            return fastest if (fastest.latency_ratio or 1.0) <= 1.0 - MIN_GAIN else plain
        return min(passed, key=lambda r: (r.size_bytes or math.inf, r is not plain))
