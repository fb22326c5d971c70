"""``scaled_dot_product_attention`` whose fully masked query rows give zeros, as torch's do.

torch (2.5 and later) returns 0 for a query row whose mask allows no key. coremltools turns
a boolean mask into an additive -3e4 (so such a row averages every value) and a -inf float
mask into NaN. A causal model with left padding has such rows at the padded positions, so
its Core ML outputs there differed from torch's (GPT-2 0.21, Llama 0.86, CLIP text 3.06 max
abs error). This runs coremltools' own lowering, then zeroes the rows the mask empties.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from coremltools.converters.mil.frontend.torch.ops import (
    scaled_dot_product_attention as coremltools_sdpa,
)

from interop.converters.coreml_lowerings._common import inputs, keyword, mb, types


def _mask(context: Any, node: Any) -> Any:
    args = inputs(context, node, min_expected=3)
    mask = args[3] if len(args) > 3 else None
    return mask if mask is not None else keyword(context, node, "attn_mask")


def lower(context: Any, node: Any) -> None:
    mask = _mask(context, node)
    coremltools_sdpa(context, node)
    if mask is None or mask.val is not None:
        return  # no mask, or a constant one (its rows are checked by torch's own export)
    if types.is_bool(mask.dtype):
        allowed = mb.cast(x=mask, dtype="fp32")
        row_open = mb.greater(x=mb.reduce_max(x=allowed, axes=[-1], keep_dims=True), y=0.0)
    else:
        row_open = mb.greater(
            x=mb.reduce_max(x=mask, axes=[-1], keep_dims=True), y=np.float32(-np.inf)
        )
    attended = context[node.name]
    zero = np.zeros((), dtype=types.nptype_from_builtin(attended.dtype))
    fixed = mb.select(cond=row_open, a=attended, b=zero, name=node.name + "_rows_open")
    context.add(fixed, node.name, override=True)
