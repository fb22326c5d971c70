"""Where in the user's torch model an export failed: the op, the module path, file:line.

The exporter names the failing FX node (``%linalg_eig``) or op (``aten.linalg_eig``) but
not where it came from; ``torch.export`` records that per node (``nn_module_stack``,
``stack_trace``), so the model is captured once more, here, only after a failure.
"""

from __future__ import annotations

import re
from typing import Any

_NODE = re.compile(r"translating node %(\w+)")
_OP = re.compile(r"op='([\w.]+)'")
_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\w+)')


def _user_frame(stack_trace: str) -> str | None:
    """The innermost frame of the user's code (not torch's) in a recorded stack trace."""
    frames = [
        (path, line) for path, line, _ in _FRAME.findall(stack_trace or "")
        if "/torch/" not in path and "site-packages" not in path
    ]
    return f"{frames[-1][0]}:{frames[-1][1]}" if frames else None


def failure_site(
    exc: BaseException, model: Any, args: tuple[Any, ...] = (), kwargs: Any = None
) -> dict[str, str | None]:
    """``{"op", "layer", "source_location"}`` for an exporter error (None where unknown)."""
    text = str(exc)
    op_match, node_match = _OP.search(text), _NODE.search(text)
    site: dict[str, str | None] = {
        "op": op_match.group(1) if op_match else None, "layer": None, "source_location": None
    }
    if site["op"] is None and node_match is None:
        frame = _user_frame(text)
        site["source_location"] = frame
        return site
    try:
        import torch

        program = (
            model if isinstance(model, torch.export.ExportedProgram)
            else torch.export.export(model, tuple(args), kwargs=kwargs or None, strict=False)
        )
    except Exception:
        return site
    for node in program.graph.nodes:
        target = str(getattr(node, "target", ""))
        named = node_match is not None and node.name == node_match.group(1)
        if not named and not (site["op"] and target.startswith(site["op"] + ".")):
            continue
        stack = node.meta.get("nn_module_stack") or {}
        site["layer"] = str(list(stack.values())[-1][0]) if stack else ""
        site["source_location"] = _user_frame(node.meta.get("stack_trace") or "")
        site["op"] = site["op"] or target
        break
    return site
