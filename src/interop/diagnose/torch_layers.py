"""The original torch model's module outputs, by qualified name, in the order they finish."""

from __future__ import annotations

from typing import Any

import numpy as np

from interop.diagnose.probes import leaves
from interop.frameworks import torch as torch_fw


def torch_args(model: Any, conversion: Any, original_feed: dict[str, Any]) -> list[Any]:
    names = list(conversion.input_map) or list(original_feed)
    return [torch_fw.to_tensor(original_feed[n]) for n in names]


def module_outputs(
    model: Any, args: list[Any], notes: list[str]
) -> list[tuple[str, list[np.ndarray]]]:
    """(qualified name, output arrays) per submodule, first call only, in completion order.

    Forward hooks see the eager model exactly as users run it; a module called twice is
    compared at its first call (noted).
    """
    import torch

    if isinstance(model, torch.export.ExportedProgram):
        model = model.module()
    if isinstance(model, torch.jit.ScriptModule):
        notes.append("TorchScript modules take no forward hooks: only outputs are compared")
        return []
    seen: dict[str, list[np.ndarray]] = {}
    calls: dict[str, int] = {}
    handles = []

    def hook(name: str) -> Any:
        def record(module: Any, inputs: Any, output: Any) -> None:
            calls[name] = calls.get(name, 0) + 1
            if name not in seen:
                seen[name] = [np.array(a, copy=True) for a in leaves(output)]

        return record

    for name, module in model.named_modules():
        if name:
            handles.append(module.register_forward_hook(hook(name)))
    try:
        with torch_fw.eval_mode(model), torch.inference_mode():
            model(*args)
    finally:
        for handle in handles:
            handle.remove()
    repeated = sorted(n for n, c in calls.items() if c > 1)
    if repeated:
        notes.append(
            "compared at their first call only (called more than once): " + ", ".join(repeated)
        )
    return list(seen.items())
