"""The one table of ML program ops: op type -> implementation, merged from the ops_* modules.

Each ops_* module exposes its own ``OPS``; a name defined by two modules is an error at import,
so no module silently overrides another's op.
"""

from __future__ import annotations

from interop.coreml_ref.base import OpFn
from interop.coreml_ref.ops_math import OPS as MATH_OPS
from interop.coreml_ref.ops_nn import OPS as NN_OPS
from interop.coreml_ref.ops_tensor import OPS as TENSOR_OPS


def _merge(*tables: dict[str, OpFn]) -> dict[str, OpFn]:
    merged: dict[str, OpFn] = {}
    for table in tables:
        clash = sorted(set(merged) & set(table))
        if clash:
            raise RuntimeError(f"ML program ops defined twice: {', '.join(clash)}")
        merged.update(table)
    return merged


OPS: dict[str, OpFn] = _merge(MATH_OPS, NN_OPS, TENSOR_OPS)


def all_ops() -> dict[str, OpFn]:
    """A copy of the op table (callers may extend their copy)."""
    return dict(OPS)


__all__ = ["OPS", "all_ops"]
