"""Numerical comparison of one output: checks in order, then metrics. Imports no framework."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from interop.harness.rounding import NOISE_FACTOR, noise_floor
from interop.types import Tolerance


@dataclass
class OutputComparison:
    """The verdict and metrics for one output at one batch size."""

    output: str
    converted_output: str
    kind: str
    passed: bool
    reason: str = ""
    atol: float = 0.0
    rtol: float = 0.0
    rel_rms: float | None = None
    scale: float = 1.0
    shape: list[int] = field(default_factory=list)
    converted_shape: list[int] = field(default_factory=list)
    dtype: str = ""
    converted_dtype: str = ""
    max_abs_error: float | None = None
    mean_abs_error: float | None = None
    max_rel_error: float | None = None
    p99_abs_error: float | None = None
    fraction_within: float | None = None
    cosine_similarity: float | None = None
    psnr_db: float | None = None
    required_atol: float | None = None
    rel_rms_error: float | None = None
    label_agreement: float | None = None
    top_k_agreement: float | None = None
    abs_error_sample: list[float] = field(default_factory=list)
    error_histogram: dict[str, list[float]] = field(default_factory=dict)
    ties_excused: int = 0
    rounding_noise: float | None = None
    noise_floor: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("abs_error_sample")
        return {k: _jsonable(v) for k, v in d.items()}


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def _is_numeric(a: np.ndarray) -> bool:
    return a.dtype.kind in "biufc"


def _dtype_family(a: np.ndarray) -> str:
    if a.dtype.kind in "US" or a.dtype == object:
        return "string"
    if a.dtype.kind == "b":
        return "bool"
    if a.dtype.kind in "iu":
        return "int"
    return "float"


def _incomparable(ref: np.ndarray, got: np.ndarray) -> str:
    return f"dtype {got.dtype} is not comparable with the original's {ref.dtype}"


def required_atol(ref: np.ndarray, got: np.ndarray, rtol: float, scale: float = 1.0) -> float:
    """The smallest atol that makes every element pass at ``rtol`` (in units of ``scale``)."""
    diff = np.abs(got - ref) - rtol * np.abs(ref)
    return float(max(0.0, np.max(diff)) / scale) if diff.size else 0.0


def output_scale(ref: np.ndarray, tolerance: Tolerance) -> float:
    """The scale ``S`` that multiplies atol: 1, or ``max(1, RMS(ref))`` for a scaled tolerance."""
    if not tolerance.scaled or not ref.size:
        return 1.0
    return max(1.0, float(np.sqrt(np.mean(np.square(ref)))))


def relative_rms_error(ref: np.ndarray, got: np.ndarray) -> float:
    """``||got - ref|| / ||ref||``: 0 for identical outputs, inf for a nonzero error on zeros."""
    err = float(np.linalg.norm(got - ref))
    norm = float(np.linalg.norm(ref))
    if norm > 0:
        return err / norm
    return 0.0 if err == 0 else math.inf


def largest_relative_change(
    reference: Mapping[str, Any], moved: Mapping[str, Any]
) -> float | None:
    """The largest :func:`relative_rms_error` over the numeric outputs both runs have (None
    without one): how far ``moved`` (the original on changed inputs) strayed."""
    changes = [
        relative_rms_error(np.asarray(ref, np.float64), np.asarray(moved[name], np.float64))
        for name, ref in reference.items()
        if name in moved and np.asarray(ref).dtype.kind in "fc"
    ]
    return max(changes) if changes else None


def compare_output(
    name: str,
    converted_name: str,
    ref: Any,
    got: Any,
    tolerance: Tolerance,
    kind: str = "values",
    top_k: int = 3,
    sample: int = 2000,
    noise: float | None = None,
) -> OutputComparison:
    """Compare one converted output with the original's.

    Checks run in order and stop at the first failure: shape, dtype family, non-finite
    values, then values (or label agreement for labels). ``noise`` is the original's own
    rounding noise on this output (``harness.rounding``): an elementwise error within the
    floor it buys passes the elementwise test; the relative RMS test is unchanged.
    """
    ref_a = np.asarray(ref)
    got_a = np.asarray(got)
    result = OutputComparison(
        output=name,
        converted_output=converted_name,
        kind=kind,
        passed=False,
        atol=tolerance.atol,
        rtol=tolerance.rtol,
        rel_rms=tolerance.rel_rms,
        shape=list(ref_a.shape),
        converted_shape=list(got_a.shape),
        dtype=str(ref_a.dtype),
        converted_dtype=str(got_a.dtype),
    )
    if ref_a.shape != got_a.shape:
        result.reason = (
            f"shape {list(got_a.shape)} differs from the original's {list(ref_a.shape)}"
        )
        return result
    if kind == "label" or not (_is_numeric(ref_a) and _is_numeric(got_a)):
        fam_r, fam_g = _dtype_family(ref_a), _dtype_family(got_a)
        if fam_r != fam_g and not (fam_r in ("int", "bool") and fam_g in ("int", "bool")):
            result.reason = _incomparable(ref_a, got_a)
            return result
        same = ref_a.astype(str) == got_a.astype(str) if fam_r == "string" else ref_a == got_a
        agreement = float(np.mean(same)) if same.size else 1.0
        result.label_agreement = agreement
        result.passed = agreement == 1.0
        if not result.passed:
            result.reason = f"labels agree on {agreement:.2%} of rows"
        return result
    families = (_dtype_family(ref_a), _dtype_family(got_a))
    if families[0] != families[1] and "float" in families and ({"int", "bool"} & set(families)):
        # integer vs float outputs compute different things (a label vs a score)
        result.reason = _incomparable(ref_a, got_a)
        return result
    ref_f = ref_a.astype(np.float64)
    got_f = got_a.astype(np.float64)
    ref_bad = ~np.isfinite(ref_f)
    got_bad = ~np.isfinite(got_f)
    if np.any(got_bad & ~ref_bad) or np.any(ref_bad != got_bad):
        count = int(np.sum(got_bad != ref_bad))
        result.reason = (
            f"{count} non-finite value(s) where the original has finite ones (or the reverse)"
        )
        return result
    both = ~ref_bad
    if np.any(ref_bad) and not np.array_equal(ref_f[ref_bad], got_f[ref_bad], equal_nan=True):
        result.reason = "non-finite values differ from the original's"
        return result
    r = ref_f[both]
    g = got_f[both]
    abs_err = np.abs(g - r)
    if abs_err.size:
        result.max_abs_error = float(abs_err.max())
        result.mean_abs_error = float(abs_err.mean())
        result.p99_abs_error = float(np.percentile(abs_err, 99))
        denom = np.abs(r)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(denom > 0, abs_err / denom, np.where(abs_err > 0, np.inf, 0.0))
        result.max_rel_error = float(rel.max())
        scale = output_scale(r, tolerance)
        result.scale = scale
        within = abs_err <= tolerance.atol * scale + tolerance.rtol * denom
        result.fraction_within = float(within.mean())
        result.rel_rms_error = relative_rms_error(r, g)
        norm = float(np.linalg.norm(r) * np.linalg.norm(g))
        result.cosine_similarity = float(np.dot(r, g) / norm) if norm > 0 else (
            1.0 if not np.any(abs_err) else 0.0
        )
        mse = float(np.mean(abs_err**2))
        peak = float(np.max(np.abs(r))) or 1.0
        result.psnr_db = float("inf") if mse == 0 else float(10 * np.log10(peak**2 / mse))
        result.required_atol = required_atol(r, g, tolerance.rtol, scale)
        if abs_err.size > sample:
            idx = np.random.default_rng(0).choice(abs_err.size, sample, replace=False)
            result.abs_error_sample = [float(x) for x in abs_err[idx]]
        else:
            result.abs_error_sample = [float(x) for x in abs_err]
        result.error_histogram = error_histogram(abs_err)
        passed = bool(np.all(within))
        result.rounding_noise = noise
        if not passed and kind != "label":
            if tolerance.rounding_floor:
                result.noise_floor = noise_floor(noise, tolerance.rel_rms, scale)
            if result.noise_floor is not None and result.max_abs_error <= result.noise_floor:
                passed = True
        spread_too_far = (
            tolerance.rel_rms is not None and result.rel_rms_error > tolerance.rel_rms
        )
    else:
        result.fraction_within = 1.0
        result.required_atol = 0.0
        passed, spread_too_far = True, False
    if kind == "probabilities" and ref_a.ndim == 2 and ref_a.shape[1] > 1:
        k = min(top_k, ref_a.shape[1])
        ref_top = np.argsort(-ref_f, axis=1)[:, :k]
        got_top = np.argsort(-got_f, axis=1)[:, :k]
        result.label_agreement = float(np.mean(ref_top[:, 0] == got_top[:, 0]))
        result.top_k_agreement = float(
            np.mean([set(a) == set(b) for a, b in zip(ref_top, got_top, strict=True)])
        )
    result.passed = passed and not spread_too_far
    if not passed:
        unit = f"*{result.scale:.3g} (the output's scale)" if result.scale != 1.0 else ""
        result.reason = (
            f"max abs error {result.max_abs_error:.3g} exceeds atol {tolerance.atol:g}{unit} + "
            f"rtol {tolerance.rtol:g}*|ref|; atol {result.required_atol:.3g} would pass"
        )
        if result.noise_floor is not None and noise is not None:
            capped = NOISE_FACTOR * noise > result.noise_floor
            result.reason += (
                f" (the original's own rounding noise is {noise:.3g}; the floor it allows, "
                f"{NOISE_FACTOR:g}x{' capped at rel_rms*S' if capped else ''}, "
                f"is {result.noise_floor:.3g})"
            )
            worst = result.max_abs_error or 0.0
            if capped and worst <= NOISE_FACTOR * noise:
                result.reason += (
                    "; the original moves this much under rounding alone, so this profile "
                    "cannot tell a fault from noise on this model"
                )
    elif spread_too_far:
        result.reason = (
            f"relative RMS error {result.rel_rms_error:.3g} exceeds rel_rms "
            f"{tolerance.rel_rms:g}: the whole output is off, not a few elements"
        )
    return result


# log10 bins for absolute errors: exact zeros get their own bucket, then one bin per decade
HISTOGRAM_DECADES = (-12, 2)


def error_histogram(abs_err: np.ndarray) -> dict[str, list[float]]:
    """Counts of absolute errors per decade: ``{"edges": [...], "counts": [...], "zeros": [n]}``.

    ``edges`` are log10 bin edges; errors below the first edge fall in the first bin and
    above the last in the last, so every nonzero error is counted.
    """
    low, high = HISTOGRAM_DECADES
    edges = np.arange(low, high + 1, dtype=np.float64)
    values = np.asarray(abs_err, dtype=np.float64).ravel()
    zeros = int(np.sum(values == 0))
    nonzero = values[values > 0]
    logs = np.clip(np.log10(nonzero), low, high - 1e-9) if nonzero.size else nonzero
    counts, _ = np.histogram(logs, bins=edges)
    return {
        "edges": [float(e) for e in edges],
        "counts": [int(c) for c in counts],
        "zeros": [zeros],
    }


def excuse_label_ties(
    labels: OutputComparison,
    ref_labels: Any,
    got_labels: Any,
    ref_probabilities: Any,
    tolerance: Tolerance,
) -> OutputComparison:
    """Forgive label disagreements on rows whose two top original probabilities tie.

    When the original's two best classes are within the probability tolerance of each
    other, float rounding alone may pick either, so such a row is not evidence of a wrong
    conversion. The number forgiven is recorded in ``ties_excused``.
    """
    if labels.passed or labels.label_agreement is None:
        return labels
    probs = np.asarray(ref_probabilities, dtype=np.float64)
    ref_l = np.asarray(ref_labels)
    got_l = np.asarray(got_labels)
    if probs.ndim != 2 or probs.shape[0] != ref_l.shape[0] or probs.shape[1] < 2:
        return labels
    top2 = -np.sort(-probs, axis=1)[:, :2]
    tied = np.abs(top2[:, 0] - top2[:, 1]) <= tolerance.atol + tolerance.rtol * top2[:, 0]
    differ = ref_l.astype(str) != got_l.astype(str)
    unexplained = differ & ~tied
    labels.ties_excused = int(np.sum(differ & tied))
    if labels.ties_excused and not np.any(unexplained):
        labels.passed = True
        labels.reason = ""
    return labels
