"""torch model files -> LoadedModel: ExportedProgram (.pt2), TorchScript, torch.save pickles.

torch is imported inside each function, never at module level.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from interop.errors import InteropError, InvalidInput
from interop.loaders.base import LoadedModel, import_trusted, require, unreadable
from interop.loaders.pytree import prepare_types, treespec_type_names
from interop.loaders.sniff import zip_problem
from interop.loaders.specs import program_specs

log = logging.getLogger("interop.loaders")


def load_exported_program(path: Path, trust: bool = False,
                          imports: tuple[str, ...] | list[str] = ()) -> LoadedModel:
    """A ``torch.export.save`` file, with its input specs and stored example inputs.

    The pytree types its treespecs name are registered first (``loaders.pytree``: installed
    packages are imported, ``imports`` are the user's own modules and need ``trust``).
    """
    torch = require("torch")
    import_trusted(imports, trust)
    prepare_types(path, treespec_type_names(path))
    with torch_messages() as messages:
        try:
            program = torch.export.load(str(path))
        except Exception as exc:
            raise pt2_failure(path, exc, messages) from exc
    specs = program_specs(program)
    example = None
    stored = getattr(program, "example_inputs", None)
    if stored and stored[0] and not stored[1]:
        example = tuple(stored[0])
    return LoadedModel(program, "torch.export", "torch", str(path), example, specs)


# loggers through which torch.export.load reports the real cause of a failure
TORCH_LOGGERS = ("torch.export", "torch.export.pt2_archive._package",
                 "torch._export.serde.serialize")
PYTREE_RE = re.compile(r"Deserializing (\S+) in pytree is not registered")
VERSION_RE = re.compile(r"(schema|archive) version .* does not match", re.IGNORECASE)


@contextlib.contextmanager
def torch_messages() -> Iterator[list[tuple[str, BaseException | None]]]:
    """Collect what torch logs or warns inside the block (text, exception), instead of printing
    it: ``torch.export.load`` puts the real cause of a failure in a log record's traceback and
    raises only "check the warnings above"."""
    messages: list[tuple[str, BaseException | None]] = []

    class _Capture(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if record.levelno < logging.WARNING:
                return True
            cause = record.exc_info[1] if record.exc_info else None
            messages.append((record.getMessage(), cause))
            log.debug("torch: %s%s", record.getMessage(), f" ({cause!r})" if cause else "")
            return False

    capture = _Capture()
    loggers = [logging.getLogger(name) for name in TORCH_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addFilter(capture)
        if not logger.isEnabledFor(logging.WARNING):  # quieted (the CLI quiets torch)
            logger.setLevel(logging.WARNING)  # the filter drops the records: still quiet
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield messages
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeFilter(capture)
            logger.setLevel(level)
    messages.extend((str(w.message), None) for w in caught)


def _lines(exc: BaseException | None) -> list[str]:
    lines: list[str] = []
    while exc is not None:
        lines.extend(line.strip() for line in str(exc).splitlines() if line.strip())
        exc = exc.__cause__ or exc.__context__
    return lines


def pt2_failure(path: Path, exc: BaseException,
                messages: list[tuple[str, BaseException | None]]) -> InteropError:
    """torch.export.load failed: say which kind of failure, quoting torch's line that tells.

    Kinds: a pytree type nobody registered, a version mismatch, a truncated or non-zip
    file, anything else (quoting the cause torch logged rather than "check the warnings").
    """
    if isinstance(exc, InteropError):
        return exc
    lines = _lines(exc)
    for text, cause in messages:
        lines = [*_lines(cause), text, *lines] if cause is not None else [*lines, text]
    for line in lines:
        match = PYTREE_RE.search(line)
        if match:
            name = match.group(1)
            return InvalidInput(
                f"cannot load {path}: torch says \"{line[:200]}\"",
                f"import the module that registers {name}: if it is an installed package's, "
                f"install or upgrade it; if it is your own code, pass --import "
                f"{name.rpartition('.')[0] or name} --trust",
            )
    for line in lines:
        if VERSION_RE.search(line):
            return InvalidInput(
                f"cannot load {path}: it was saved by {saved_by(path)} in a format this torch "
                f"{torch_version()} does not read: torch says \"{line[:200]}\"",
                f"load it with the torch that saved it, or export the model again with torch "
                f"{torch_version()}",
            )
    zipped = zip_problem(path, "torch ExportedProgram (.pt2)",
                         "save the program with torch.export.save(program, 'model.pt2')")
    if zipped is not None:
        return zipped
    useful = [ln for ln in lines if "check the warnings above" not in ln] or lines
    return unreadable(path, "torch ExportedProgram (.pt2)", exc,
                      f"torch says \"{useful[0][:200]}\"; export it again with torch "
                      f"{torch_version()}" if useful else "")


def saved_by(path: Path) -> str:
    """``torch X (schema A.B)`` as the file's model.json records it, or ``another torch``."""
    try:
        with zipfile.ZipFile(path) as archive:
            entry = next(n for n in archive.namelist() if n.endswith("/models/model.json"))
            record = json.loads(archive.read(entry))
    except (StopIteration, zipfile.BadZipFile, OSError, ValueError, EOFError):
        return "another torch"
    version = record.get("schema_version") or {}
    schema = f" (schema {version.get('major')}.{version.get('minor')})" if version else ""
    return f"torch {record.get('torch_version', '?')}{schema}"


def torch_version() -> str:
    import torch
    from torch._export.serde.schema import SCHEMA_VERSION

    return f"{torch.__version__} (schema {SCHEMA_VERSION[0]}.{SCHEMA_VERSION[1]})"


def load_torchscript(path: Path, trust: bool = False) -> LoadedModel:
    """A ``torch.jit.save`` module, in eval mode; it declares no input signature."""
    torch = require("torch")
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise unreadable(path, "TorchScript module (.pt)", exc) from None
    module.eval()
    # The torch.onnx converter takes the ScriptModule as it is (see converters/torch_onnx.py).
    return LoadedModel(module, "torchscript", "torch", str(path))


def load_torch_pickle(path: Path, trust: bool = False) -> LoadedModel:
    """A whole model saved with ``torch.save`` (unpickled: the caller has opted in)."""
    torch = require("torch")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as exc:
        raise unreadable(path, "torch.save file", exc) from None
    if isinstance(obj, dict):
        raise InvalidInput(
            f"{path} holds a state dict (weights only), not a model",
            "use a factory (package.module:function) that builds the model and loads the weights",
        )
    if hasattr(obj, "eval"):
        obj.eval()
    return LoadedModel(obj, "torch.pickle", "torch", str(path))


def dry_run(loaded: LoadedModel, example_inputs: Any) -> None:
    """Run a torch model without a signature once, so a wrong input shape is bad input (2).

    TorchScript modules and pickled modules do not declare their inputs; the only honest
    check is to call them. Models of other frameworks, or with a signature, are left alone.
    """
    if loaded.source != "torch" or loaded.input_specs:
        return
    torch = require("torch")
    args = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    tensors = [torch.as_tensor(a) for a in args]
    try:
        with torch.no_grad():
            loaded.model(*tensors)
    except Exception as exc:
        shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
        # TorchScript wraps the cause in an interpreter trace whose last line names it.
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        cause = lines[-1] if lines else type(exc).__name__
        raise InvalidInput(
            f"the model does not accept inputs of shape {shapes}: {cause[:300]}",
            "give a sample or --input whose shape fits the model's input",
        ) from None
