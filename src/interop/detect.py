"""Which framework an object or a file belongs to, decided without importing any framework."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from interop.errors import InvalidInput

# Top-level module names that mean the same source framework.
MODULE_ALIASES = {
    "torch": "torch",
    "keras": "tensorflow",
    "tf_keras": "tensorflow",
    "tensorflow": "tensorflow",
    "sklearn": "sklearn",
}

FILE_SOURCES = {
    ".pt2": "torch",
    ".pt": "torch",
    ".pth": "torch",
    ".ts": "torch",
    ".keras": "tensorflow",
    ".h5": "tensorflow",
    ".hdf5": "tensorflow",
    ".skops": "sklearn",
    ".pkl": "sklearn",
    ".pickle": "sklearn",
    ".joblib": "sklearn",
}

CONVERTED_FORMATS = {
    ".onnx": "onnx",
    ".mlpackage": "coreml",
    ".mlmodel": "coreml",
    ".tflite": "tflite",
}


def _module_roots(obj: Any) -> list[str]:
    roots: list[str] = []
    for klass in type(obj).__mro__:
        root = (klass.__module__ or "").split(".")[0]
        if root and root != "builtins" and root not in roots:
            roots.append(root)
    return roots


def detect_source(obj: Any, known_sources: Iterable[str] = ()) -> str:
    """The source framework of a model object, from its class hierarchy's module names.

    ``known_sources`` adds the sources that registered converters declare (plugins), so a
    plugin for, say, ``xgboost`` is found by the same rule as the built-ins.
    """
    known = set(known_sources)
    for root in _module_roots(obj):
        if root in MODULE_ALIASES:
            return MODULE_ALIASES[root]
        if root in known:
            return root
    # A Keras or sklearn model defined in user code still has a framework base class;
    # reaching here means no known framework is anywhere in the hierarchy.
    kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
    raise InvalidInput(
        f"cannot tell which framework a {kind} belongs to",
        "pass a torch.nn.Module, a Keras/TensorFlow model, a fitted scikit-learn estimator, "
        "or a model type that an installed plugin handles (see interop-convert --list)",
    )


def detect_path(path: str | Path) -> str:
    """The framework or format a model file or directory belongs to, from its name and layout."""
    p = Path(path)
    if p.is_dir():
        if (p / "saved_model.pb").exists() or (p / "saved_model.pbtxt").exists():
            return "tensorflow"
        if p.suffix == ".mlpackage":
            return "coreml"
        raise InvalidInput(
            f"{p} is a directory but not a SavedModel (no saved_model.pb inside)",
            "point at a SavedModel directory or a model file",
        )
    suffix = p.suffix.lower()
    if suffix in FILE_SOURCES:
        return FILE_SOURCES[suffix]
    if suffix in CONVERTED_FORMATS:
        return CONVERTED_FORMATS[suffix]
    raise InvalidInput(
        f"unknown model file type {suffix or '(no suffix)'!r} for {p.name}",
        "use .pt2, .pt, .keras, .h5, a SavedModel directory, .skops, or a "
        "package.module:function factory",
    )
