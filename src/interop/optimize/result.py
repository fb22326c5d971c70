"""What optimize returns: a Candidate (how to build a variant), its CandidateResult, and the
Optimization that holds them all and saves like a Report."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from interop.types import Conversion

SCHEMA = "interop.optimization/1"

# What a candidate does to the numbers; a profile allows some of these kinds (profiles.py).
REWRITE = "rewrite"  # exact-arithmetic graph rewrites: fusion, folding, slimming
PRECISION = "precision"  # lower float precision: fp16 weights or compute
QUANTIZE = "quantize"  # integer weights or activations: int8, palettization
KINDS = (REWRITE, PRECISION, QUANTIZE)

Builder = Callable[[Any, "BuildContext"], Any]
"""Takes the model to transform (an onnx.ModelProto or a coremltools MLModel) and the
context; returns the transformed model, or raises NotApplicable."""


class NotApplicable(Exception):
    """A candidate that has nothing to do on this model (no pattern, already fp16, ...)."""


@dataclass(frozen=True)
class BuildContext:
    """What a builder may need beyond the model: the original, the plain conversion, the
    calibration data (a feed keyed by converted input names, or None) and a scratch folder."""

    original: Any
    conversion: Conversion
    calibration: dict[str, Any] | None
    workdir: Path


@dataclass(frozen=True)
class Candidate:
    """One variant to try: ``build`` makes it from the model of ``base`` (a candidate's name)
    or, when ``base`` is None, from the plain conversion's model.

    ``external_data``: the builder takes a ``frameworks.onnx.ExternalOnnx`` (an ONNX model
    whose weights stay in a data file, past ``external_threshold()``) and returns one, never
    building a proto with the weights. Other candidates are skipped on such a model, with
    the reason in their result.
    """

    name: str
    kind: str
    target: str
    build: Builder
    description: str = ""
    base: str | None = None
    needs_data: bool = False
    external_data: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"candidate kind {self.kind!r} is not one of {', '.join(KINDS)}")


@dataclass
class CandidateResult:
    """The outcome for one variant. ``status`` is "passed", "failed" (parity or accuracy),
    "skipped" (not allowed by the profile, no calibration data, or a builder that would hold
    the weights of a model past the external-data threshold in memory) or "not applicable" /
    "error" (could not be built). ``latency_ratio`` is candidate p50 / plain p50 at the
    largest batch size, from paired rounds; None where it was not measured."""

    name: str
    kind: str
    status: str
    passed: bool
    reason: str = ""
    description: str = ""
    worst_abs_error: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    latency_ratio: float | None = None
    p50_ms: dict[int, float] = field(default_factory=dict)
    size_bytes: int | None = None
    build_s: float | None = None
    conversion: Conversion | None = field(default=None, repr=False)
    report: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("conversion")
        data.pop("report")
        data["p50_ms"] = {str(b): v for b, v in self.p50_ms.items()}
        if self.report is not None:
            data["check"] = {"verdict": self.report.verdict, "failures": self.report.failures}
        return data


@dataclass
class Optimization:
    """Every variant tried, the fastest that passed (``best``) and how much faster it is.

    ``speedup`` is plain p50 / best p50 at the largest batch size timed (1.0 when the plain
    conversion stays best; None when latency could not be measured, e.g. Core ML on Linux).
    ``original_p50_ms`` is the original framework's p50 per batch size, timed in the same
    rounds as the candidates.
    """

    profile: str
    target: str
    best: Conversion
    best_name: str
    candidates: list[CandidateResult]
    speedup: float | None = None
    threads: int = 1
    batch_sizes: list[int] = field(default_factory=list)
    original_p50_ms: dict[int, float] = field(default_factory=dict)
    plain_p50_ms: dict[int, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)

    def candidate(self, name: str) -> CandidateResult:
        for result in self.candidates:
            if result.name == name:
                return result
        raise KeyError(name)

    @property
    def best_result(self) -> CandidateResult:
        return self.candidate(self.best_name)

    def original_ratio(self, batch_size: int | None = None) -> float | None:
        """best p50 / original p50 (below 1: the optimised model is faster than the original)."""
        batch = batch_size if batch_size is not None else max(self.batch_sizes, default=0)
        best = self.best_result.p50_ms.get(batch)
        original = self.original_p50_ms.get(batch)
        return best / original if best and original else None

    def to_dict(self) -> dict[str, Any]:
        from interop.harness.report import _clean

        return _clean(
            {
                "schema": SCHEMA,
                "profile": self.profile,
                "target": self.target,
                "best": self.best_name,
                "speedup": self.speedup,
                "threads": self.threads,
                "batch_sizes": self.batch_sizes,
                "original_p50_ms": {str(b): v for b, v in self.original_p50_ms.items()},
                "plain_p50_ms": {str(b): v for b, v in self.plain_p50_ms.items()},
                "best_vs_original": self.original_ratio(),
                "candidates": [c.to_dict() for c in self.candidates],
                "notes": self.notes,
                "environment": self.environment,
            }
        )

    def table(self) -> str:
        """The candidate table as plain text (what ``interop-convert --optimize`` prints)."""
        from interop.optimize.render import text_table

        return text_table(self)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the optimisation report; the format follows the suffix (.json .md .html)."""
        from interop.optimize.render import save

        return save(self, Path(path))

    def __str__(self) -> str:
        return self.table()
