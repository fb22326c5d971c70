"""Which variants to try: the built-in candidates per target, or the caller's selection
(built-in names and Candidate objects, such as a rewrite of their own)."""

from __future__ import annotations

from collections.abc import Sequence

from interop.errors import InvalidInput
from interop.optimize.result import Candidate


def builtin_candidates(target: str) -> list[Candidate]:
    """Every built-in variant for ``target`` ("onnx" or "coreml"), bases before dependents."""
    if target == "onnx":
        from interop.optimize.onnx_candidates import onnx_candidates

        return onnx_candidates()
    if target == "coreml":
        from interop.optimize.coreml_candidates import coreml_candidates

        return coreml_candidates()
    return []


def select(candidates: Sequence[str | Candidate] | None, target: str) -> list[Candidate]:
    """The candidates to try: all built-ins when None, else the named ones and the given."""
    builtins = builtin_candidates(target)
    if candidates is None:
        return builtins
    by_name = {c.name: c for c in builtins}
    chosen: list[Candidate] = []
    for item in candidates:
        if isinstance(item, Candidate):
            chosen.append(item)
        elif item in by_name:
            chosen.append(by_name[item])
        else:
            raise InvalidInput(
                f"unknown optimisation candidate {item!r} for {target}",
                "known: " + (", ".join(by_name) or "none") + "; or pass a Candidate",
            )
    return chosen
