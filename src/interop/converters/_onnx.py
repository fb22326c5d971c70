"""What every ONNX converter shares: validity checks, interface specs, provenance, saving."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from interop.errors import ConversionError, first_line

# sklearn_onnx and the test fixtures import these two from here
from interop.frameworks.onnx import graph_inputs, value_specs  # noqa: F401

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


def stamp_provenance(model: Any, fields: dict[str, str]) -> dict[str, str]:
    """Write provenance into the model's metadata_props and return it."""
    from interop import __version__

    prov = {
        "interop.version": __version__,
        "interop.converted_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **{f"interop.{k}": str(v) for k, v in fields.items()},
    }
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
