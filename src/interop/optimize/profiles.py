"""Optimisation profiles: which kinds of variant each allows, and when a variant passes.

The numbers and their reasons are documented in docs/tolerances.md ("Optimisation profiles").
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from interop.errors import InvalidInput
from interop.optimize.result import PRECISION, QUANTIZE, REWRITE

# int8 changes every weight by up to half a quantisation step, so elementwise tolerances are
# the wrong test: a quantised model is judged on the direction and the size of its error.
# cosine >= 0.999: the output vector points the same way (BERT dynamic int8 measured 0.99995).
# relative RMS <= 2%: rms(converted - original) / max|original|, i.e. PSNR >= 34 dB.
INT8_MIN_COSINE = 0.999
INT8_MAX_RELATIVE_RMS = 0.02
# With data=(X, y): the variant's labels agree with the original's on >= 98% of rows and its
# accuracy against y is at most 1 percentage point below the original's.
MIN_LABEL_AGREEMENT = 0.98
MAX_ACCURACY_DROP = 0.01


@dataclass(frozen=True)
class Profile:
    """``allowed``: candidate kinds this profile may choose. ``tolerance``: the check profile
    (elementwise atol/rtol) a variant must pass, or None for the int8 rules."""

    name: str
    allowed: frozenset[str]
    tolerance: str | None
    description: str


PROFILES = {
    "fp32": Profile(
        "fp32", frozenset({REWRITE}), "fp32", "graph rewrites only, under the fp32 tolerance"
    ),
    "fp16": Profile(
        "fp16",
        frozenset({REWRITE, PRECISION}),
        "fp16",
        "rewrites and half precision, under the fp16 tolerance",
    ),
    "int8": Profile(
        "int8",
        frozenset({REWRITE, PRECISION, QUANTIZE}),
        None,
        f"may quantise; cosine >= {INT8_MIN_COSINE}, relative RMS error <= "
        f"{INT8_MAX_RELATIVE_RMS:.0%}",
    ),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise InvalidInput(
            f"unknown optimisation profile {name!r}",
            "use one of: " + ", ".join(PROFILES),
        )
    return PROFILES[name]


def relative_rms(entry: dict[str, Any]) -> float | None:
    """rms error / peak |original| of one parity entry, from its PSNR (peak^2 / mse in dB)."""
    psnr = entry.get("psnr_db")
    if psnr == "inf" or (isinstance(psnr, float) and math.isinf(psnr)):
        return 0.0
    if not isinstance(psnr, (int, float)):
        return None
    return float(10 ** (-psnr / 20))


def judge(
    parity: Iterable[dict[str, Any]], failures: list[str], profile: Profile
) -> tuple[bool, str, dict[str, Any]]:
    """(passed, reason, metrics) of a variant from its check's parity entries and failures."""
    entries = list(parity)
    metrics: dict[str, Any] = {
        "max_rel_error": _worst(entries, "max_rel_error", max),
        "min_cosine": _worst(entries, "cosine_similarity", min),
    }
    if profile.tolerance is not None:
        metrics["required_atol"] = _worst(entries, "required_atol", max)
        passed = not failures and bool(entries) and all(e.get("passed") for e in entries)
        return (
            passed,
            "" if passed else (failures[0] if failures else "no outputs compared"),
            (metrics),
        )
    rel = [r for r in (relative_rms(e) for e in entries) if r is not None]
    metrics["max_relative_rms"] = max(rel) if rel else None
    for entry in entries:
        where = f"batch {entry.get('batch_size')}: output {entry.get('output')!r}"
        agreement = entry.get("label_agreement")
        if entry.get("kind") == "label":
            if agreement is None or agreement < MIN_LABEL_AGREEMENT:
                return False, f"{where}: labels agree on {_pct(agreement)}", metrics
            continue
        cosine = entry.get("cosine_similarity")
        if cosine is None:
            return False, f"{where}: {entry.get('reason') or 'not comparable'}", metrics
        if cosine < INT8_MIN_COSINE:
            return False, f"{where}: cosine {cosine:.6f} < {INT8_MIN_COSINE}", metrics
        rms = relative_rms(entry)
        if rms is None or rms > INT8_MAX_RELATIVE_RMS:
            return (
                False,
                f"{where}: relative RMS error {_pct(rms)} > " + (f"{INT8_MAX_RELATIVE_RMS:.0%}"),
                metrics,
            )
    # elementwise, relative-RMS and label failures are judged above by the int8 rules;
    # others (missing outputs, shapes, non-finite values) still count
    judged_here = ("max abs error", "labels agree", "relative RMS error")
    structural = [f for f in failures if not any(text in f for text in judged_here)]
    if structural or not entries:
        return False, structural[0] if structural else "no outputs compared", metrics
    return True, "", metrics


def judge_accuracy(agreement: float, accuracy: float, original_accuracy: float) -> str:
    """'' when a variant's task accuracy is acceptable, else why not."""
    if agreement < MIN_LABEL_AGREEMENT:
        return f"labels agree with the original on {agreement:.2%} of rows (< " + (
            f"{MIN_LABEL_AGREEMENT:.0%})"
        )
    drop = original_accuracy - accuracy
    if drop > MAX_ACCURACY_DROP:
        return (
            f"accuracy {accuracy:.2%} is {drop * 100:.2f} points below the original's "
            f"{original_accuracy:.2%} (at most {MAX_ACCURACY_DROP * 100:g} allowed)"
        )
    return ""


def _worst(entries: list[dict[str, Any]], key: str, pick: Any) -> float | None:
    values = [e[key] for e in entries if isinstance(e.get(key), (int, float))]
    return pick(values) if values else None


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"
