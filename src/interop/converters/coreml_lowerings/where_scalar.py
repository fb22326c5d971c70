"""``torch.where(cond, tensor, scalar)`` and ``torch.where(cond, scalar, scalar)``.

The scalar takes the tensor's dtype (torch's type promotion keeps a tensor's dtype against
a Python scalar); two scalars give fp32, or int32 when both are integers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from interop.converters.coreml_lowerings._common import cast_to, inputs, mb, types


def lower(context: Any, node: Any) -> None:
    cond, a, b = inputs(context, node, expected=3)
    if not types.is_bool(cond.dtype):
        cond = mb.cast(x=cond, dtype="bool")
    tensors = [v for v in (a, b) if v.rank > 0 or v.val is None]
    if tensors:
        like = tensors[0]
        a = a if a in tensors else _scalar_like(a, like)
        b = b if b in tensors else _scalar_like(b, like)
    elif all(types.is_int(v.dtype) for v in (a, b)):
        a, b = (cast_to(v, "int32") for v in (a, b))
    else:
        a, b = (cast_to(v, "fp32") for v in (a, b))
    context.add(mb.select(cond=cond, a=a, b=b, name=node.name))


def _scalar_like(value: Any, like: Any) -> Any:
    dtype = types.nptype_from_builtin(like.dtype)
    return mb.const(val=np.array(value.val).astype(dtype))
