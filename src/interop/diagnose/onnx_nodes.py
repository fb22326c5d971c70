"""ONNX graphs as scoped nodes: torch module paths from the dynamo exporter's metadata,
Keras layer names from tf2onnx's node names."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

from interop.diagnose.scoped import Node

NAME_SCOPES = "pkg.torch.onnx.name_scopes"
STACK_TRACE = "pkg.torch.onnx.stack_trace"


def nodes_of(model: Any) -> list[Node]:
    return [
        Node(n.name or (n.output[0] if n.output else ""), tuple(n.input), tuple(n.output))
        for n in model.graph.node
    ]


def metadata(model: Any) -> dict[str, dict[str, str]]:
    return {n.name: {p.key: p.value for p in n.metadata_props} for n in model.graph.node}


def module_path(props: dict[str, str]) -> str | None:
    """The torch module path a node was exported from: ``name_scopes`` is
    ``['', 'encoder', 'encoder.0', ..., op]``; the last entry names the op, not a module."""
    raw = props.get(NAME_SCOPES)
    if raw:
        try:
            scopes = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            scopes = []
        if isinstance(scopes, list) and len(scopes) >= 2:
            return str(scopes[-2])
    namespace = props.get("namespace", "")
    parts = [p.split(":")[0].strip() for p in namespace.split("/")]
    return parts[-2] if len(parts) >= 2 else None


def torch_owner(model: Any) -> Callable[[Node], str | None]:
    props = metadata(model)
    return lambda node: module_path(props.get(node.name, {}))


def keras_owner(layer_names: list[str], separator: str = "/") -> Callable[[Node], str | None]:
    """A Keras layer owns a node whose name has the layer's scope as a whole path part
    (``sequential_1/dense_2_1/MatMul``: Keras 3 suffixes ``_1`` to name scopes). The
    longest layer name that fits wins, so ``dense_1`` is not taken for ``dense``."""
    by_length = sorted(layer_names, key=len, reverse=True)
    patterns = [
        (name, re.compile(
            rf"(^|{re.escape(separator)}){re.escape(name)}(_\d+)?({re.escape(separator)}|$)"
        ))
        for name in by_length
    ]

    def owner(node: Node) -> str | None:
        text = node.name
        hits = [(m.start(), name) for name, p in patterns if (m := p.search(text))]
        # the innermost scope is the one furthest right
        return max(hits)[1] if hits else None

    return owner
