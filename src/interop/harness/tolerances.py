"""Tolerance profiles in one readable place, and how a check's tolerance is resolved.

Precedence, lowest first: the converter's default < a named profile < the case's override
< the call's ``tolerance=``. Each level may give one Tolerance for every output or a mapping
of output name -> Tolerance; a level that sets only ``atol`` (or only ``rtol``) keeps the
other from the level below.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from interop.errors import InvalidInput
from interop.types import FP16_TOLERANCE, FP32_TOLERANCE, Tolerance

ANY_TARGET = "*"

# Elementwise: |converted - original| <= atol + rtol * |original|.
# fp32: a different but exact-arithmetic lowering (op fusion, reordered sums) stays well
#       inside 1e-4 on activations of order 1 (measured 6e-8 .. 1.4e-6, facts.md).
# fp16: half precision has a 2^-11 ~ 4.9e-4 unit roundoff; a few layers accumulate to 1e-2.
# strict: for conversions that should be bit-close (same kernels, fp32, shallow graphs).
# A profile may be keyed per target: {"onnx": ..., "coreml": ..., "*": fallback}.
PROFILES: dict[str, dict[str, Tolerance]] = {
    "fp32": {ANY_TARGET: FP32_TOLERANCE},
    "fp16": {ANY_TARGET: FP16_TOLERANCE},
    "strict": {ANY_TARGET: Tolerance(atol=1e-6, rtol=1e-5)},
}


def profile(name: str, target: str = ANY_TARGET) -> Tolerance:
    """The tolerance a named profile gives for ``target``."""
    entry = PROFILES.get(name)
    if entry is None:
        raise InvalidInput(
            f"unknown tolerance profile {name!r}",
            "use one of: " + ", ".join(sorted(PROFILES)) + ", or pass atol/rtol numbers",
        )
    return entry.get(target, entry[ANY_TARGET])


TOLERANCE_KEYS = {"atol", "rtol", "rel_rms"}


def _partial(value: Any, where: str) -> tuple[float | None, float | None, float | None]:
    """(atol, rtol, rel_rms) from a Tolerance or a dict of some of them; None = not given."""
    if isinstance(value, Tolerance):
        return value.atol, value.rtol, value.rel_rms
    if isinstance(value, Mapping) and set(value) <= TOLERANCE_KEYS and value:
        return value.get("atol"), value.get("rtol"), value.get("rel_rms")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), None, None
    raise InvalidInput(
        f"{where}: {value!r} is not a tolerance",
        "give a profile name, a Tolerance, {'atol': .., 'rtol': ..}, or {output: tolerance}",
    )


def _is_per_output(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and bool(value)
        and not set(value) <= TOLERANCE_KEYS
    )


def _apply(
    current: dict[str, Tolerance], level: Any, target: str, where: str
) -> dict[str, Tolerance]:
    if level is None:
        return current
    if isinstance(level, str):
        base = profile(level, target)
        return {name: base for name in current}
    if _is_per_output(level):
        unknown = sorted(set(level) - set(current))
        if unknown:
            raise InvalidInput(
                f"{where} names output(s) the model does not have: {', '.join(unknown)}",
                "known outputs: " + ", ".join(current),
            )
        updated = dict(current)
        for name, value in level.items():
            updated[name] = _apply({name: current[name]}, value, target, where)[name]
        return updated
    if isinstance(level, Tolerance):  # a whole Tolerance replaces the level below
        return {name: level for name in current}
    atol, rtol, rel_rms = _partial(level, where)
    return {name: tol.with_overrides(atol, rtol, rel_rms) for name, tol in current.items()}


def resolve(
    outputs: list[str],
    target: str,
    converter_default: Tolerance,
    *,
    profile_name: str | None = None,
    case: Any = None,
    call: Any = None,
) -> dict[str, Tolerance]:
    """The tolerance for each output, applying the levels in order of precedence."""
    tolerances = {name: converter_default for name in outputs}
    tolerances = _apply(tolerances, profile_name, target, "profile")
    tolerances = _apply(tolerances, case, target, "the case's tolerance")
    return _apply(tolerances, call, target, "tolerance=")
