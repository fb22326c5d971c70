"""Which framework an object or a file belongs to, decided without importing any framework.

``FORMATS`` is the one table of model file formats: every other module (loaders, the CLI,
checking a saved model) reads it instead of keeping its own list of suffixes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class FileFormat:
    """One kind of model file or directory.

    ``kind`` is what ``interop.loaders.sniff`` answers for it. ``source`` is the framework an
    original belongs to, or for a converted model (``converted``) the format's name, which is
    also the target and runtime name. ``directory``: the model is a directory, recognised by
    its suffix or by one of the ``markers`` files inside. ``pickle``: loading runs code, so
    it needs an explicit opt-in. ``loader`` is the ``module:function`` (a string, so this
    module imports nothing) that loads an original: ``loader(path, trust) -> LoadedModel``.
    """

    kind: str
    source: str
    suffixes: tuple[str, ...] = ()
    directory: bool = False
    markers: tuple[str, ...] = ()
    pickle: bool = False
    loader: str = ""
    converted: bool = False


FORMATS: tuple[FileFormat, ...] = (
    FileFormat("torch.export", "torch", (".pt2",),
               loader="interop.loaders.torch:load_exported_program"),
    # .pt, .pth and .ts hold either: the archive's contents tell them apart (loaders.sniff)
    FileFormat("torchscript", "torch", (".pt", ".pth", ".ts"),
               loader="interop.loaders.torch:load_torchscript"),
    FileFormat("torch.pickle", "torch", (".pt", ".pth", ".ts"), pickle=True,
               loader="interop.loaders.torch:load_torch_pickle"),
    FileFormat("keras", "tensorflow", (".keras",), loader="interop.loaders.tensorflow:load_keras"),
    FileFormat("keras.h5", "tensorflow", (".h5", ".hdf5"),
               loader="interop.loaders.tensorflow:load_keras"),
    FileFormat("savedmodel", "tensorflow", directory=True,
               markers=("saved_model.pb", "saved_model.pbtxt"),
               loader="interop.loaders.tensorflow:load_savedmodel"),
    FileFormat("skops", "sklearn", (".skops",), loader="interop.loaders.sklearn:load_skops"),
    # a pickle may hold any model; scikit-learn is the usual one, and loading tells for sure
    FileFormat("pickle", "sklearn", (".pkl", ".pickle", ".joblib"), pickle=True,
               loader="interop.loaders.sklearn:load_pickle"),
    FileFormat("onnx", "onnx", (".onnx",), converted=True),
    FileFormat("mlpackage", "coreml", (".mlpackage",), directory=True, converted=True),
    FileFormat("mlmodel", "coreml", (".mlmodel",), converted=True),
    FileFormat("tflite", "tflite", (".tflite",), converted=True),
)

UNKNOWN_FILE_HINT = (
    "use .pt2, .pt, .keras, .h5, a SavedModel directory, .skops, or a "
    "package.module:function factory"
)


def formats_for_suffix(suffix: str) -> tuple[FileFormat, ...]:
    """Every format whose files end in ``suffix`` (case-insensitive), in table order."""
    suffix = suffix.lower()
    return tuple(f for f in FORMATS if suffix in f.suffixes)


def format_named(kind: str) -> FileFormat:
    """The format whose ``kind`` is ``kind``; KeyError if there is none."""
    for fmt in FORMATS:
        if fmt.kind == kind:
            return fmt
    raise KeyError(kind)


def converted_format(suffix: str) -> str | None:
    """The converted format (``onnx``, ``coreml``...) a file name suffix claims, or None."""
    found = [f for f in formats_for_suffix(suffix) if f.converted]
    return found[0].source if found else None


def directory_format(path: str | Path) -> FileFormat | None:
    """The format of a model directory: by a marker file inside, else by its suffix."""
    p = Path(path)
    for fmt in FORMATS:
        if any((p / marker).exists() for marker in fmt.markers):
            return fmt
    found = [f for f in formats_for_suffix(p.suffix) if f.directory]
    return found[0] if found else None


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
        fmt = directory_format(p)
        if fmt is None:
            raise InvalidInput(
                f"{p} is a directory but not a SavedModel (no saved_model.pb inside)",
                "point at a SavedModel directory or a model file",
            )
        return fmt.source
    found = formats_for_suffix(p.suffix)
    if found:
        return found[0].source
    raise InvalidInput(
        f"unknown model file type {p.suffix.lower() or '(no suffix)'!r} for {p.name}",
        UNKNOWN_FILE_HINT,
    )
