"""``torch.diff(x, n, dim, prepend, append)``: n-th forward difference along ``dim``.

Booleans difference as ``x[i+1] xor x[i]``, as torch does; other dtypes subtract.
"""

from __future__ import annotations

from typing import Any

from interop.converters.coreml_lowerings._common import inputs, keyword, mb, types


def _arg(args: list[Any], index: int, context: Any, node: Any, name: str) -> Any:
    value = args[index] if len(args) > index else None
    return value if value is not None else keyword(context, node, name)


def _shifted(x: Any, axis: int, first: bool) -> Any:
    """x[1:] (first=False) or x[:-1] (first=True) along ``axis``."""
    rank = x.rank
    begin = [0] * rank
    end = [0] * rank
    begin_mask = [True] * rank
    end_mask = [True] * rank
    if first:
        end[axis], end_mask[axis] = -1, False
    else:
        begin[axis], begin_mask[axis] = 1, False
    return mb.slice_by_index(x=x, begin=begin, end=end, begin_mask=begin_mask, end_mask=end_mask)


def lower(context: Any, node: Any) -> None:
    args = inputs(context, node, min_expected=1)
    x = args[0]
    n_var = _arg(args, 1, context, node, "n")
    dim_var = _arg(args, 2, context, node, "dim")
    n = 1 if n_var is None else int(n_var.val)
    axis = -1 if dim_var is None else int(dim_var.val)
    axis = axis % x.rank
    prepend = _arg(args, 3, context, node, "prepend")
    append = _arg(args, 4, context, node, "append")
    pieces = [v for v in (prepend, x, append) if v is not None]
    if len(pieces) > 1:
        x = mb.concat(values=pieces, axis=axis)
    for step in range(n):
        later, earlier = _shifted(x, axis, False), _shifted(x, axis, True)
        name = node.name if step == n - 1 else None
        kwargs = {"name": name} if name else {}
        if types.is_bool(x.dtype):
            x = mb.logical_xor(x=later, y=earlier, **kwargs)
        else:
            x = mb.sub(x=later, y=earlier, **kwargs)
    if n == 0:
        x = mb.identity(x=x, name=node.name)
    context.add(x, node.name)
