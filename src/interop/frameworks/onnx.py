"""ONNX models as converters, runtimes and plugins share them: interface specs, validity
checks, provenance stamps and saving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from interop.errors import ConversionError, first_line
from interop.types import TensorSpec
from interop.util import provenance


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


TWO_GB = 2**31 - 1


def unsupported_ops(model: Any) -> list[str]:
    """Op types in the graph (and subgraphs) that no registered ONNX schema defines."""
    import onnx

    imports = {o.domain: o.version for o in model.opset_import}
    local = {(f.domain, f.name) for f in model.functions}
    found: set[str] = set()

    def walk(graph: Any) -> None:
        for node in graph.node:
            if (node.domain, node.op_type) in local:
                pass
            else:
                version = imports.get(node.domain, imports.get("", 1))
                try:
                    onnx.defs.get_schema(node.op_type, version, node.domain)
                except Exception:
                    found.add(node.op_type if not node.domain else f"{node.domain}.{node.op_type}")
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)
                for g in attr.graphs:
                    walk(g)

    walk(model.graph)
    return sorted(found)


def check_onnx(model: Any, converter: str) -> None:
    """Fail with the cause when the model is not a valid ONNX model onnxruntime can load."""
    import onnx

    bad_ops = unsupported_ops(model)
    if bad_ops:
        raise ConversionError(
            f"{converter} produced a model with unsupported op(s): {', '.join(bad_ops)}",
            "these ops have no ONNX equivalent in this converter; replace the layer, "
            "or write a converter plugin that lowers it",
        )
    try:
        if model.ByteSize() < TWO_GB:
            onnx.checker.check_model(model, full_check=True)
        else:
            onnx.checker.check_model(model)
    except Exception as exc:
        raise ConversionError(
            f"{converter} produced an invalid ONNX model: {first_line(exc)}",
            "report this with the model; try another opset with opset=",
        ) from exc


def stamp_provenance(model: Any, fields: dict[str, Any]) -> dict[str, str]:
    """Write :func:`provenance` into an ONNX model's metadata_props and return it."""
    prov = provenance(fields)
    existing = {p.key: p for p in model.metadata_props}
    for key, value in prov.items():
        if key in existing:
            existing[key].value = value
        else:
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
    return prov


def opset_of(model: Any) -> int:
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return int(o.version)
    return 0


def save_onnx(model: Any, path: Path) -> None:
    """One self-contained file below 2 GB; above, tensors go to ``NAME.data`` beside it."""
    import onnx

    if model.ByteSize() < TWO_GB:
        onnx.save_model(model, str(path), save_as_external_data=False)
    else:
        onnx.save_model(
            model,
            str(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=path.name + ".data",
        )
