"""Runs ONNX models on onnxruntime's CPU provider with an explicit thread count."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from interop.frameworks.onnx import ExternalOnnx, graph_inputs, value_specs
from interop.runtimes.base import Runtime
from interop.types import TensorSpec

if TYPE_CHECKING:  # numpy is imported where it is used: --list loads this module
    import numpy as np


class OnnxRuntime(Runtime):
    """A loaded onnxruntime session. ``model`` is an onnx.ModelProto, bytes, a path, or an
    ExternalOnnx (loaded from its path, so the weights are read once, by onnxruntime)."""

    name = "onnxruntime"
    format = "onnx"
    requires = ("onnxruntime", "onnx")
    install_hint = "pip install 'interop[onnx]'"

    def __init__(self, model: Any, *, conversion: Any = None, threads: int | None = 1) -> None:
        super().__init__(model, conversion=conversion, threads=threads)
        self.session: Any = None

    def load(self) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if self.threads:
            opts.intra_op_num_threads = int(self.threads)
            opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        model = self.model
        if isinstance(model, ExternalOnnx):
            source: Any = str(model.path)
        elif isinstance(model, (str, Path)):
            source = str(model)
        elif isinstance(model, bytes):
            source = model
        else:
            source = model.SerializeToString()
        self.session = ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])

    def close(self) -> None:
        self.session = None

    def input_specs(self) -> tuple[TensorSpec, ...]:
        import onnx

        if isinstance(self.model, (onnx.ModelProto, ExternalOnnx)):
            return value_specs(graph_inputs(self.model))
        specs = []
        for i in self.session.get_inputs():
            dtype = _ORT_TYPES.get(i.type, i.type)
            shape = tuple(d if isinstance(d, int) else (d or None) for d in i.shape)
            specs.append(TensorSpec(i.name, shape, dtype))
        return tuple(specs)

    def output_names(self) -> list[str]:
        return [o.name for o in self.session.get_outputs()]

    def run(self, feed: dict[str, Any]) -> dict[str, np.ndarray]:
        import numpy as np

        names = self.output_names()
        values = self.session.run(names, {k: np.asarray(v) for k, v in feed.items()})
        return dict(zip(names, values, strict=True))


_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
    "tensor(string)": "object",
}
