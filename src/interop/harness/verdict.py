"""One verdict for one batch: every mapped output compared, label ties judged, failures named.

``interop.convert`` (its validation at the example batch) and ``interop.check`` (at every
batch size) both judge through :func:`judge_batch`, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from interop.harness.compare import OutputComparison, compare_output, excuse_label_ties
from interop.types import Conversion, Tolerance


@dataclass
class BatchVerdict:
    """What one batch showed: one parity entry per mapped output, and why any failed."""

    batch_size: int
    entries: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    comparisons: dict[str, OutputComparison] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.failures and all(e["passed"] for e in self.entries)


def missing_entry(
    batch: int, name: str, converted_name: str, tolerance: Tolerance, reason: str
) -> dict[str, Any]:
    """A parity entry for an output that could not be compared at all."""
    return {
        "batch_size": batch,
        "output": name,
        "converted_output": converted_name,
        "passed": False,
        "reason": reason,
        "atol": tolerance.atol,
        "rtol": tolerance.rtol,
        "max_abs_error": None,
        "required_atol": None,
    }


def judge_batch(
    batch: int,
    conversion: Conversion,
    reference: Mapping[str, Any],
    produced: Mapping[str, Any],
    per_output: Mapping[str, Tolerance],
    noise: Mapping[str, float] | None = None,
) -> BatchVerdict:
    """Compare the original's outputs (``reference``) with the converted model's.

    Outputs are matched through ``conversion.output_map``. A label that differs only on rows
    where the original's two best probabilities tie (within the probabilities output's
    tolerance) is excused: float rounding alone may pick either class there. ``noise`` maps
    the original's output names to its own rounding noise (``harness.rounding``).
    """
    verdict = BatchVerdict(batch)
    for name, conv_name in conversion.output_map.items():
        tol = per_output[name]
        if name not in reference:
            reason = f"the original produced no output {name!r}"
            verdict.entries.append(missing_entry(batch, name, conv_name, tol, reason))
            verdict.failures.append(f"batch {batch}: {reason}")
            continue
        if conv_name not in produced:
            reason = (
                f"the converted model has no output {conv_name!r} (for the original's {name!r}); "
                f"it has {', '.join(sorted(produced)) or 'none'}"
            )
            verdict.entries.append(missing_entry(batch, name, conv_name, tol, reason))
            verdict.failures.append(f"batch {batch}: output {name!r} missing: {reason}")
            continue
        verdict.comparisons[name] = compare_output(
            name,
            conv_name,
            reference[name],
            produced[conv_name],
            tol,
            conversion.kind_of(name),
            noise=(noise or {}).get(name),
        )
    probabilities = [n for n in verdict.comparisons if conversion.kind_of(n) == "probabilities"]
    for name, cmp in verdict.comparisons.items():
        if conversion.kind_of(name) == "label" and not cmp.passed and probabilities:
            prob = probabilities[0]
            excuse_label_ties(
                cmp,
                reference[name],
                produced[conversion.output_map[name]],
                reference[prob],
                per_output[prob],
            )
        verdict.entries.append({"batch_size": batch, **cmp.to_dict()})
        if not cmp.passed:
            verdict.failures.append(f"batch {batch}: output {name!r}: {cmp.reason}")
    return verdict
