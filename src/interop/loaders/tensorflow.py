"""Keras (.keras, .h5) files and SavedModel directories -> LoadedModel.

keras and tensorflow are imported inside each function, never at module level.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

from interop.errors import InvalidInput, MissingDependency
from interop.loaders.base import (
    LoadedModel,
    distribution_for,
    module_found,
    require,
    unreadable,
)
from interop.loaders.specs import keras_specs
from interop.types import TensorSpec

H5_SUFFIXES = (".h5", ".hdf5")
# tensorflow.core.framework.types_pb2 DataType numbers -> dtype names
TF_DTYPES = {1: "float32", 2: "float64", 3: "int32", 4: "uint8", 6: "int8", 9: "int64",
             10: "bool", 19: "float16", 5: "int16"}


def load_keras(path: Path, trust: bool = False) -> LoadedModel:
    """A Keras model file, in Keras safe mode unless ``trust`` (safe mode runs no code)."""
    h5 = path.suffix.lower() in H5_SUFFIXES
    what = "Keras HDF5 model (.h5)" if h5 else "Keras model (.keras)"
    keras = require("keras")
    try:
        model = keras.saving.load_model(str(path), compile=False, safe_mode=not trust)
    except Exception as exc:
        text = str(exc)
        custom = _missing_custom_object(path, exc)
        if custom is not None:
            raise custom from None
        if "safe_mode" in text or "arbitrary code" in text:
            raise InvalidInput(
                f"refusing to load {path}: it holds Python code (e.g. a Lambda layer) that "
                "Keras safe mode will not run",
                "pass --trust only if you trust where the file came from",
            ) from None
        raise unreadable(path, what, exc) from None
    kind = "keras.h5" if h5 else "keras"
    return LoadedModel(model, kind, "tensorflow", str(path), None, keras_specs(model))


LOCATE_RE = re.compile(r"Could not locate (class|function) '([^']+)'")


def _missing_custom_object(path: Path, exc: BaseException) -> InvalidInput | None:
    """Keras could not find a custom class or function the file names: say which, and how.

    Keras puts that reason after a long first line about ``from_config``; the module that
    defines the object is read from the file's config.json (``.keras`` only).
    """
    found = None
    cause: BaseException | None = exc
    while cause is not None and found is None:
        found = LOCATE_RE.search(str(cause))
        cause = cause.__cause__ or cause.__context__
    if found is None:
        return None
    kind, name = found.groups()
    module, registered = _custom_module(path, name)
    label = f"{name} ({registered})" if registered and registered != name else name
    where = f" from the module {module}" if module else ""
    if module and module_found(module) is None:
        todo = (f"install the package that provides {module} (pip install "
                f"{distribution_for(module.split('.')[0])}), or if {module} is your own code, "
                f"run from its directory with --import {module} --trust")
    else:
        todo = (f"import the code that registers it: --import {module or 'MODULE'} --trust "
                "(only if you trust that code)")
    return InvalidInput(
        f"cannot load {path}: it needs the custom {kind} {label}{where}, whose code is not in "
        f"the file; keras says \"{found.group(0)}\"",
        todo,
    )


def _custom_module(path: Path, name: str) -> tuple[str, str]:
    """(module, registered name) of the custom object ``name`` in a .keras file's config."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError):
        return "", ""
    stack: list[Any] = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("class_name") == name and isinstance(node.get("module"), str):
                return node["module"], str(node.get("registered_name") or "")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return "", ""


def load_savedmodel(path: Path, trust: bool = False) -> LoadedModel:
    """A SavedModel directory, checked and its serving signature read; the model is its path.

    The converter reads the directory itself; here we only prove it parses, so bad
    directories fail as bad input before any conversion starts.
    """
    require("tensorflow")
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString((path / "saved_model.pb").read_bytes())
    except Exception as exc:
        raise unreadable(path, "SavedModel", exc, "export the SavedModel again") from None
    if not proto.meta_graphs:
        raise InvalidInput(f"{path} holds no graph (saved_model.pb has no meta graph)",
                           "export the SavedModel again")
    _check_ops(path, proto.meta_graphs[0])
    signatures = proto.meta_graphs[0].signature_def
    specs: tuple[TensorSpec, ...] = ()
    if "serving_default" in signatures:
        specs = tuple(
            TensorSpec(
                key,
                tuple(
                    int(d.size) if d.size >= 0 else ("batch" if i == 0 else None)
                    for i, d in enumerate(info.tensor_shape.dim)
                ),
                TF_DTYPES.get(info.dtype, "float32"),
            )
            for key, info in sorted(signatures["serving_default"].inputs.items())
        )
    return LoadedModel(str(path), "savedmodel", "tensorflow", str(path), None, specs)


def _check_ops(path: Path, meta_graph: Any) -> None:
    """Every op the graph uses must be known to this TensorFlow; an op from a library that is
    not loaded (tensorflow-text, a custom .so) otherwise fails deep inside the converter."""
    from tensorflow.python.framework import op_def_registry

    graph = meta_graph.graph_def
    ops = {node.op for node in graph.node}
    for function in graph.library.function:
        ops.update(node.op for node in function.node_def)
    functions = {f.signature.name for f in graph.library.function}
    unknown = sorted(op for op in ops
                     if op not in functions and op_def_registry.get(op) is None)
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise MissingDependency(
            f"{path} uses ops this TensorFlow does not know: {shown} (TensorFlow would say "
            f"\"Op type not registered '{unknown[0]}'\"); they come from an op library that "
            "is not loaded",
            "install the package that defines them (e.g. tensorflow-text) and load it: "
            "--import PACKAGE --trust (a package's import loads its op library)",
            package="",
        )
