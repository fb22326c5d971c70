"""Runs an original PyTorch model (nn.Module, TorchScript or ExportedProgram) for inference."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from interop.errors import InvalidInput
from interop.frameworks import torch as torch_fw
from interop.runtimes.base import Runtime
from interop.types import TensorSpec

if TYPE_CHECKING:  # numpy is imported where it is used: --list loads this module
    import numpy as np


class TorchRuntime(Runtime):
    """Feeds are keyed by the original's input names; outputs are named as the converter names
    them: output_0, output_1... for a tensor or a tuple, the keys of a dict or ``ModelOutput``
    (``logits``, ``last_hidden_state``). A conversion whose ``input_layout`` is ``"named"``
    calls the model with keyword tensors, as Hugging Face models are called."""

    name = "torch"
    format = "torch"
    requires = ("torch",)
    install_hint = "pip install 'interop[torch]'"

    def __init__(self, model: Any, *, conversion: Any = None, threads: int | None = 1) -> None:
        super().__init__(model, conversion=conversion, threads=threads)
        self._module: Any = None
        self._modes = contextlib.ExitStack()
        self._previous_threads: int | None = None

    def load(self) -> None:
        import torch

        if isinstance(self.model, torch.export.ExportedProgram):
            # An ExportedProgram's module has no train/eval switch; it runs as exported.
            self._module = self.model.module()
        elif isinstance(self.model, torch.nn.Module):
            # nn.Module and TorchScript (ScriptModule is an nn.Module, with its own modes):
            # eval for inference; every submodule's own mode is put back in close()
            self._modes.enter_context(torch_fw.eval_mode(self.model))
            self._module = self.model
        else:
            raise InvalidInput(
                f"the torch runtime runs an nn.Module, a TorchScript module or an "
                f"ExportedProgram, not a {type(self.model).__name__}",
                "pass the original torch model",
            )
        if self.threads:
            self._previous_threads = torch.get_num_threads()
            torch.set_num_threads(int(self.threads))

    def close(self) -> None:
        import torch

        self._modes.close()
        if self._previous_threads is not None:
            torch.set_num_threads(self._previous_threads)
            self._previous_threads = None
        self._module = None

    def _input_names(self, feed: dict[str, Any]) -> list[str]:
        if self.conversion is not None and self.conversion.input_map:
            return list(self.conversion.input_map)
        return list(feed)

    def input_specs(self) -> tuple[TensorSpec, ...]:
        if self.conversion is None:
            raise InvalidInput(
                "the torch runtime cannot tell a model's inputs without its conversion",
                "pass conversion= (the result of interop.convert)",
            )
        converted = {s.name: s for s in self.conversion.input_specs}
        specs = []
        for original, onnx_name in self.conversion.input_map.items():
            spec = converted.get(onnx_name)
            if spec is None:
                raise InvalidInput(
                    f"the conversion has no input spec for {onnx_name!r}",
                    "the converter's input map is wrong; report it",
                )
            specs.append(TensorSpec(original, spec.shape, spec.dtype))
        return tuple(specs)

    def run(self, feed: dict[str, Any]) -> dict[str, np.ndarray]:
        import torch

        names = self._input_names(feed)
        missing = [n for n in names if n not in feed]
        if missing:
            raise InvalidInput(
                f"the feed has no value for input(s) {', '.join(missing)}",
                "key the feed by the original model's input names: " + ", ".join(names),
            )
        keywords = self.conversion is not None and self.conversion.input_layout == "named"
        call = torch_fw.ExampleCall(
            tuple(names), tuple(torch_fw.to_tensor(feed[n]) for n in names), keywords
        )
        with torch.inference_mode():
            result = torch_fw.call_model(self._module, call)
        named = torch_fw.named_outputs(result)
        if len({name for name, _ in named}) != len(named):
            named = [(f"output_{i}", leaf) for i, (_, leaf) in enumerate(named)]
        return {name: leaf.detach().cpu().numpy() for name, leaf in named}

