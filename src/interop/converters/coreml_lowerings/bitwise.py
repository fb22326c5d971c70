"""``&``, ``|`` and ``^`` on bool or integer tensors (attention masks combined).

coremltools lowers these for booleans only. Booleans map to MIL's logical ops; integers
that hold 0/1 masks are what models combine, and MIL has no bitwise integer op, so an
integer operand is lowered as (x != 0) combined logically, cast back to the integer dtype:
exact for 0/1 masks, which is the use the zoo has; see the module test.
"""

from __future__ import annotations

from typing import Any

from interop.converters.coreml_lowerings._common import cast_name_of_var, inputs, mb, types

_LOGICAL = {"and": mb.logical_and, "or": mb.logical_or, "xor": mb.logical_xor}


def _kind(node: Any) -> str:
    kind = str(node.kind).lower().strip("_")
    for word in ("and", "or", "xor"):
        if kind in (word, f"bitwise_{word}", f"logical_{word}") or kind.startswith(word + "."):
            return word
    raise ValueError(f"interop's bitwise lowering got an unexpected node kind {node.kind!r}")


def _as_bool(value: Any) -> Any:
    return value if types.is_bool(value.dtype) else mb.not_equal(x=value, y=0)


def lower(context: Any, node: Any) -> None:
    x, y = inputs(context, node, expected=2)
    op = _LOGICAL[_kind(node)]
    if types.is_bool(x.dtype) and types.is_bool(y.dtype):
        context.add(op(x=x, y=y, name=node.name))
        return
    if types.is_float(x.dtype) or types.is_float(y.dtype):
        raise ValueError(f"bitwise {_kind(node)} of a floating-point tensor is not defined")
    combined = op(x=_as_bool(x), y=_as_bool(y))
    integer = x if not types.is_bool(x.dtype) else y
    context.add(mb.cast(x=combined, dtype=cast_name_of_var(integer), name=node.name))
