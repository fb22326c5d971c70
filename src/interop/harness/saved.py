"""A Conversion rebuilt from a saved model file, so ``check(model, "model.onnx")`` works.

The interface mapping comes from the ``interop.io`` metadata entry that interop stores in
every ONNX model it converts. A file without it (converted elsewhere) is mapped by name
where the original's names match and otherwise by position; the report says so.

An ONNX file saves again (``frameworks.onnx.save_onnx``: a model whose weights stay in a
data file beside it as the ``.onnx`` + ``.data`` pair), so ``optimize`` on a path returns a
variant that can be saved; a Core ML file, held as its path, does not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from interop import registry
from interop.detect import converted_format, detect_source
from interop.errors import InvalidInput
from interop.types import FP32_TOLERANCE, IO_METADATA_KEY, Conversion, Tolerance


def _unsaveable(model: Any, path: Path) -> None:
    raise InvalidInput("a model loaded from a file for checking cannot be saved again", "")


def _onnx_metadata(path: Path) -> tuple[Any, dict[str, Any]]:
    # weights in a data file beside it stay there: onnxruntime reads them from the path
    from interop.frameworks.onnx import load_saved

    model = load_saved(path)
    props = {p.key: p.value for p in model.metadata_props}
    meta = json.loads(props[IO_METADATA_KEY]) if IO_METADATA_KEY in props else {}
    return model, meta


def _source_of(original: Any) -> str:
    # an ONNX original is a legitimate check too (a graph against its optimised version)
    if type(original).__module__.split(".")[0] == "onnx":
        return "onnx"
    return str(detect_source(original, registry.known_sources()))


def conversion_from_path(path: str | Path, original: Any) -> tuple[Conversion, list[str]]:
    """(a Conversion for the saved model at ``path``, notes on how it was mapped)."""
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"{path} does not exist", "pass a Conversion or an existing model path")
    target = converted_format(path.suffix)
    if target is None:
        raise InvalidInput(
            f"cannot tell the format of {path.name}",
            "check a .onnx, .mlpackage or .mlmodel file, or pass the Conversion",
        )
    notes: list[str] = []
    meta: dict[str, Any] = {}
    model: Any = str(path)
    saver: Any = _unsaveable
    if target == "onnx":
        from interop.frameworks.onnx import save_onnx

        model, meta = _onnx_metadata(path)
        saver = save_onnx
    source = meta.get("source") or _source_of(original)
    runtime_cls = registry.get_runtime(target)
    with runtime_cls(model, conversion=None, threads=1) as rt:
        input_specs = tuple(rt.input_specs())
        output_specs = tuple(rt.output_specs()) if hasattr(rt, "output_specs") else ()
        output_names = list(rt.output_names()) if hasattr(rt, "output_names") else []
    if target == "onnx" and not output_specs:
        from interop.frameworks.onnx import value_specs

        output_specs = value_specs(model.graph.output)
    if meta:
        input_map = dict(meta["input_map"])
        output_map = dict(meta["output_map"])
        kinds = dict(meta.get("output_kinds") or {})
        layout = meta.get("input_layout", "positional")
        stored = meta.get("default_tolerance")
        tolerance = Tolerance.from_list(stored) if stored else FP32_TOLERANCE
        converter = str(meta.get("converter") or f"{source}.{target}")
        notes.append(f"interface read from the {IO_METADATA_KEY} metadata of {path.name}")
    else:
        input_map = {s.name: s.name for s in input_specs}
        output_map = {}  # filled by position once the original has run (see api.check)
        kinds, layout = {}, "positional"
        converter = f"{source}.{target}"
        try:
            tolerance = registry.resolve(source, target).default_tolerance
        except Exception:
            tolerance = FP32_TOLERANCE
        notes.append(
            f"{path.name} carries no {IO_METADATA_KEY} metadata: inputs and outputs are "
            "matched by name, else by position"
        )
    if not output_specs and output_names:
        from interop.types import TensorSpec

        output_specs = tuple(TensorSpec(n, (), "") for n in output_names)
    conversion = Conversion(
        source=source,
        target=target,
        converter=converter,
        model=model,
        input_specs=input_specs,
        output_specs=output_specs,
        input_map=input_map,
        output_map=output_map,
        saver=saver,
        suffix=path.suffix,
        output_kinds=kinds,
        input_layout=layout,
        default_tolerance=tolerance,
        runtime=target,
        provenance={"path": str(path)},
    )
    return conversion, notes
