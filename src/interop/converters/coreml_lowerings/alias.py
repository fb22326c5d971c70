"""``aten.alias``: a view of the whole tensor, which torch.export leaves in decoder graphs
(GPT-2, Llama, Mistral: the causal-mask helpers); in a value graph it is the identity."""

from __future__ import annotations

from typing import Any

from interop.converters.coreml_lowerings._common import inputs, mb


def lower(context: Any, node: Any) -> None:
    (x,) = inputs(context, node, expected=1)
    context.add(mb.identity(x=x, name=node.name))
