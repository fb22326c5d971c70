"""Reading ONNX graphs: interface specs of inputs and outputs, for converters and runtimes."""

from __future__ import annotations

from typing import Any

from interop.types import TensorSpec


def _elem_dtype(elem_type: int) -> str:
    import onnx

    if elem_type == onnx.TensorProto.STRING:
        return "object"
    try:
        return str(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:
        return f"onnx:{elem_type}"


def value_specs(values: Any) -> tuple[TensorSpec, ...]:
    """TensorSpecs from ONNX graph inputs or outputs (symbolic dims kept by name)."""
    specs = []
    for v in values:
        t = v.type.tensor_type
        shape: list[int | str | None] = []
        if t.HasField("shape"):
            for d in t.shape.dim:
                if d.HasField("dim_value"):
                    shape.append(int(d.dim_value))
                elif d.HasField("dim_param"):
                    shape.append(d.dim_param)
                else:
                    shape.append(None)
        specs.append(TensorSpec(v.name, tuple(shape), _elem_dtype(t.elem_type)))
    return tuple(specs)


def graph_inputs(model: Any) -> list[Any]:
    """The graph inputs a caller feeds: those that are not initializers."""
    initializers = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in initializers]
