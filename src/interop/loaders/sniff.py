"""What a model file is, told from its name and first bytes without importing a framework.

Most bad inputs (missing, empty, not the archive their suffix promises, already converted)
are refused here in milliseconds. The suffixes come from ``interop.detect.FORMATS``; this
module adds the signatures that tell a real file of that format from a corrupt one.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path

from interop.detect import UNKNOWN_FILE_HINT, FileFormat, directory_format, formats_for_suffix
from interop.errors import InvalidInput
from interop.loaders.base import quote

FACTORY_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
SAVED_MODEL_PB = "saved_model.pb"


def is_factory(spec: str) -> bool:
    """True for ``package.module:function`` when no file of that name exists."""
    return bool(FACTORY_RE.match(spec)) and not Path(spec).exists()


def sniff(spec: str) -> str:
    """The kind of model ``spec`` names, checked cheaply; InvalidInput when it cannot be one.

    Kinds: ``factory``, or a ``kind`` of ``interop.detect.FORMATS`` that is not a converted
    format (torch.export, torchscript, torch.pickle, keras, keras.h5, savedmodel, skops,
    pickle).
    """
    if is_factory(spec):
        return "factory"
    path = Path(spec)
    if not path.exists():
        looks_like_factory = ":" in spec and not spec.startswith((".", "/"))
        raise InvalidInput(
            f"model {spec} does not exist",
            "give a model file, a SavedModel directory, or a package.module:function factory"
            if looks_like_factory
            else "check the path",
        )
    if path.is_dir():
        return _sniff_directory(path)
    if not path.is_file():
        raise InvalidInput(f"{path} is not a regular file", "give a model file")
    suffix = path.suffix.lower()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", "check permissions") from None
    if size == 0:
        raise InvalidInput(f"model file {path} is empty", "save or export the model again")
    formats = formats_for_suffix(suffix)
    if not formats:
        raise InvalidInput(
            f"unknown model file type {suffix or '(no suffix)'!r} for {path.name}",
            UNKNOWN_FILE_HINT,
        )
    if formats[0].converted:
        raise InvalidInput(
            f"{path} is already a converted model ({suffix})", "give the original model"
        )
    check = SIGNATURES.get(formats[0].kind)
    return check(path) if check is not None else formats[0].kind


def _sniff_directory(path: Path) -> str:
    fmt: FileFormat | None = directory_format(path)
    if fmt is not None and fmt.converted:
        raise InvalidInput(
            f"{path} is already a Core ML model"
            if fmt.source == "coreml"
            else f"{path} is already a converted model ({fmt.source})",
            "give the original model to convert",
        )
    # the savedmodel loader parses the binary saved_model.pb; a .pbtxt alone is not enough
    if fmt is not None and fmt.kind == "savedmodel" and (path / SAVED_MODEL_PB).is_file():
        if (path / SAVED_MODEL_PB).stat().st_size == 0:
            raise InvalidInput(f"{path}/{SAVED_MODEL_PB} is empty", "export the SavedModel again")
        return fmt.kind
    raise InvalidInput(
        f"{path} is a directory but not a SavedModel (no saved_model.pb inside)",
        "point at a SavedModel directory or at a model file",
    )


def _head(path: Path, count: int, offset: int = 0) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(count)


ZIP_LOCAL_HEADER = b"PK\x03\x04"
ZIP_END_RECORD = b"PK\x05\x06"
# how to write each zip-based format, for the hint on a file that is not one
SAVE_HOW = {
    "torch ExportedProgram (.pt2)": "save the program with torch.export.save(program, "
                                    "'model.pt2')",
    "Keras model (.keras)": "save the model with model.save('model.keras')",
    "skops file (.skops)": "save the estimator with skops.io.dump(model, 'model.skops')",
}


def zip_problem(path: Path, expected: str, how: str = "") -> InvalidInput | None:
    """Why ``path`` is not a readable zip archive (truncated, or no zip at all), or None.

    A zip starts with a local file header and ends with an end-of-central-directory record;
    a file that has the first but not the second was cut short.
    """
    try:
        with zipfile.ZipFile(path):
            return None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        reason = quote(exc)
    try:
        size = path.stat().st_size
        head = _head(path, 4)
        tail = _head(path, 65557, max(0, size - 65557))
    except OSError as exc:
        return InvalidInput(f"cannot read {path}: {exc.strerror}", "check permissions")
    if head == ZIP_LOCAL_HEADER and ZIP_END_RECORD not in tail:
        return InvalidInput(
            f"{path} is not a readable {expected}: the zip archive is truncated "
            f"({size} bytes, its end is missing; zipfile says \"{reason}\")",
            "the file was cut short (an interrupted save, copy or download); copy or save "
            "it again",
        )
    if head[:2] != b"PK":
        return InvalidInput(
            f"{path} is not a readable {expected}: it is not a zip archive at all "
            f"(it starts with {_head(path, 8)!r})",
            "check that this is the model file you meant; "
            + (how or SAVE_HOW.get(expected, "save it again")),
        )
    return InvalidInput(
        f"{path} is not a readable {expected} (a zip archive): {reason}",
        "the zip archive is corrupt; save or export the model again",
    )


def _zip_names(path: Path, expected: str) -> list[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        problem = zip_problem(path, expected)
        if problem is not None:
            raise problem from None
        raise InvalidInput(
            f"{path} is not a readable {expected} (a zip archive): {quote(exc)}",
            "the file is corrupt; save or export the model again",
        ) from None


def _torch_export(path: Path) -> str:
    names = _zip_names(path, "torch ExportedProgram (.pt2)")
    if not any(n.endswith("models/model.json") or "/models/" in n for n in names):
        raise InvalidInput(
            f"{path} is a zip archive but not a torch.export program (no models/ entry)",
            "check that this is the model file you meant; save the program with "
            "torch.export.save(program, 'model.pt2')",
        )
    return "torch.export"


def _torch_archive(path: Path) -> str:
    """TorchScript or a whole-model torch.save pickle: the same suffixes, told by contents."""
    head = _head(path, 8)
    if head.startswith(b"PK"):
        names = _zip_names(path, "TorchScript or torch archive (.pt)")
        if any("/code/" in n for n in names):
            return "torchscript"
        if any(n.endswith("data.pkl") for n in names):
            return "torch.pickle"
        raise InvalidInput(
            f"{path} is a zip archive but neither TorchScript nor a torch.save file",
            "save the model with torch.jit.save or torch.export.save (.pt2)",
        )
    if head[:1] == b"\x80":  # the pre-zip torch.save format is a bare pickle stream
        return "torch.pickle"
    raise InvalidInput(
        f"{path} is not a TorchScript archive (expected a zip file)",
        "the file is truncated or corrupt; save it again with torch.jit.save",
    )


def _keras(path: Path) -> str:
    names = _zip_names(path, "Keras model (.keras)")
    if "config.json" not in names:
        raise InvalidInput(
            f"{path} is a zip archive but not a Keras model (no config.json inside)",
            "save the model with model.save('model.keras')",
        )
    return "keras"


def _keras_h5(path: Path) -> str:
    if not any(_head(path, 8, offset) == HDF5_SIGNATURE for offset in (0, 512, 1024, 2048)):
        raise InvalidInput(
            f"{path} is not an HDF5 file (no HDF5 signature)",
            "the file is corrupt; save the Keras model again (model.save('model.h5'))",
        )
    return "keras.h5"


def _skops(path: Path) -> str:
    names = _zip_names(path, "skops file (.skops)")
    if "schema.json" not in names:
        raise InvalidInput(
            f"{path} is a zip archive but not a skops file (no schema.json inside)",
            "save the estimator with skops.io.dump(model, 'model.skops')",
        )
    return "skops"


# The signature check per format, keyed by the first format (in FORMATS order) of a suffix;
# each returns the kind the contents show. Pickles have no signature worth checking: they
# are refused or loaded, never sniffed.
SIGNATURES: dict[str, Callable[[Path], str]] = {
    "torch.export": _torch_export,
    "torchscript": _torch_archive,
    "keras": _keras,
    "keras.h5": _keras_h5,
    "skops": _skops,
}
