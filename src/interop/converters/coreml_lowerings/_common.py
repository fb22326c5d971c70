"""What the lowerings share: a node's inputs, torch dtypes as MIL cast names, constants."""

from __future__ import annotations

from typing import Any

import numpy as np
from coremltools.converters.mil import Builder as mb
from coremltools.converters.mil.frontend.torch.ops import _get_inputs, _get_kwinputs
from coremltools.converters.mil.frontend.torch.utils import NUM_TO_DTYPE_STRING, TORCH_DTYPE_TO_NUM
from coremltools.converters.mil.mil import Var, types

# MIL scalar types -> the dtype names mb.cast takes
_CAST_NAMES = {
    types.fp16: "fp16",
    types.fp32: "fp32",
    types.int32: "int32",
    types.int8: "int8",
    types.uint8: "uint8",
    types.int16: "int16",
    types.bool: "bool",
}


def inputs(context: Any, node: Any, **expect: Any) -> list[Any]:
    return list(_get_inputs(context, node, **expect))


def keyword(context: Any, node: Any, name: str) -> Any:
    found = _get_kwinputs(context, node, name, default=[None])
    return found[0] if found else None


def cast_name_of_var(var: Any) -> str:
    return _CAST_NAMES.get(var.dtype, "fp32")


def cast_name_of_torch_dtype(value: Any) -> str | None:
    """A torch dtype (or coremltools' number for one) as a MIL cast name; None if unset."""
    if isinstance(value, Var):
        value = value.val
    if value is None:
        return None
    if not isinstance(value, (int, np.integer)):
        value = TORCH_DTYPE_TO_NUM.get(value)
    return NUM_TO_DTYPE_STRING.get(int(value)) if value is not None else None


def shape_var(size: Any) -> Any:
    """A size argument (a Var, or a list of scalar Vars when dynamic) as an int32 shape."""
    if isinstance(size, (list, tuple)):
        parts = [mb.expand_dims(x=s, axes=[0]) if isinstance(s, Var) and s.rank == 0 else s
                 for s in size]
        size = mb.concat(values=parts, axis=0)
    if types.is_float(size.dtype):
        size = mb.cast(x=size, dtype="int32")
    return size


def cast_to(var: Any, name: str, node_name: str | None = None) -> Any:
    if cast_name_of_var(var) == name:
        return var if node_name is None else mb.identity(x=var, name=node_name)
    if node_name is None:
        return mb.cast(x=var, dtype=name)
    return mb.cast(x=var, dtype=name, name=node_name)


__all__ = ["cast_name_of_torch_dtype", "cast_name_of_var", "cast_to", "inputs", "keyword",
           "mb", "shape_var", "types"]
