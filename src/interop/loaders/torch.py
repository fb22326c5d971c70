"""torch model files -> LoadedModel: ExportedProgram (.pt2), TorchScript, torch.save pickles.

torch is imported inside each function, never at module level.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from interop.errors import InvalidInput
from interop.loaders.base import LoadedModel, require, unreadable
from interop.loaders.specs import program_specs


def load_exported_program(path: Path, trust: bool = False) -> LoadedModel:
    """A ``torch.export.save`` file, with its input specs and stored example inputs."""
    torch = require("torch")
    try:
        program = torch.export.load(str(path))
    except Exception as exc:
        raise unreadable(path, "torch ExportedProgram (.pt2)", exc) from None
    specs = program_specs(program)
    example = None
    stored = getattr(program, "example_inputs", None)
    if stored and stored[0] and not stored[1]:
        example = tuple(stored[0])
    return LoadedModel(program, "torch.export", "torch", str(path), example, specs)


def load_torchscript(path: Path, trust: bool = False) -> LoadedModel:
    """A ``torch.jit.save`` module, in eval mode; it declares no input signature."""
    torch = require("torch")
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise unreadable(path, "TorchScript module (.pt)", exc) from None
    module.eval()
    # The torch.onnx converter takes the ScriptModule as it is (see converters/torch_onnx.py).
    return LoadedModel(module, "torchscript", "torch", str(path))


def load_torch_pickle(path: Path, trust: bool = False) -> LoadedModel:
    """A whole model saved with ``torch.save`` (unpickled: the caller has opted in)."""
    torch = require("torch")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as exc:
        raise unreadable(path, "torch.save file", exc) from None
    if isinstance(obj, dict):
        raise InvalidInput(
            f"{path} holds a state dict (weights only), not a model",
            "use a factory (package.module:function) that builds the model and loads the weights",
        )
    if hasattr(obj, "eval"):
        obj.eval()
    return LoadedModel(obj, "torch.pickle", "torch", str(path))


def dry_run(loaded: LoadedModel, example_inputs: Any) -> None:
    """Run a torch model without a signature once, so a wrong input shape is bad input (2).

    TorchScript modules and pickled modules do not declare their inputs; the only honest
    check is to call them. Models of other frameworks, or with a signature, are left alone.
    """
    if loaded.source != "torch" or loaded.input_specs:
        return
    torch = require("torch")
    args = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    tensors = [torch.as_tensor(a) for a in args]
    try:
        with torch.no_grad():
            loaded.model(*tensors)
    except Exception as exc:
        shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
        # TorchScript wraps the cause in an interpreter trace whose last line names it.
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        cause = lines[-1] if lines else type(exc).__name__
        raise InvalidInput(
            f"the model does not accept inputs of shape {shapes}: {cause[:300]}",
            "give a sample or --input whose shape fits the model's input",
        ) from None
