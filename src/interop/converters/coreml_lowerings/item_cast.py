"""``int(t)`` / ``bool(t)`` of a one-element tensor on the jit.trace route.

coremltools folds a constant operand with ``int(x.val)``, which numpy >= 2.4 refuses for an
array of shape (1,) ("only 0-dimensional arrays can be converted to Python scalars"). This
lowering takes the element with ``.item()`` first; the rest follows coremltools.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from interop.converters.coreml_lowerings._common import inputs, mb

_TYPES = {"int": (int, "int32"), "bool": (bool, "bool")}


def lower(context: Any, node: Any) -> None:
    (x,) = inputs(context, node, expected=1)
    kind = str(node.kind).lower().strip("_")
    python_type, dtype = _TYPES["bool" if kind.startswith("bool") else "int"]
    if x.shape and not all(d == 1 for d in x.shape):
        raise ValueError(f"{kind}() of a tensor needs a single element, got shape {x.shape}")
    if x.can_be_folded_to_const():
        context.add(mb.const(val=python_type(np.asarray(x.val).reshape(-1)[0].item()),
                             name=node.name))
        return
    if x.rank > 0:
        x = mb.squeeze(x=x)
    context.add(mb.cast(x=x, dtype=dtype, name=node.name))
