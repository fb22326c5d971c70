"""``tensor.new_ones(size, dtype=...)``: ones of ``size``, in ``dtype`` or the tensor's own."""

from __future__ import annotations

from typing import Any

from interop.converters.coreml_lowerings._common import (
    cast_name_of_torch_dtype,
    cast_name_of_var,
    cast_to,
    inputs,
    keyword,
    mb,
    shape_var,
)


def lower(context: Any, node: Any) -> None:
    args = inputs(context, node, min_expected=2)
    source, size = args[0], args[1]
    dtype = cast_name_of_torch_dtype(keyword(context, node, "dtype"))
    if dtype is None and len(args) > 2:
        dtype = cast_name_of_torch_dtype(args[2])
    dtype = dtype or cast_name_of_var(source)
    ones = mb.fill(shape=shape_var(size), value=1.0)
    context.add(cast_to(ones, dtype, node.name))
