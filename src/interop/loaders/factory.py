"""``package.module:function`` factories -> LoadedModel, and any model object -> LoadedModel."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from interop.errors import InteropError, InvalidInput, MissingDependency
from interop.loaders.base import LoadedModel, install_hint, quote
from interop.loaders.specs import keras_specs, program_specs, sklearn_specs
from interop.types import TensorSpec
from interop.util import import_ref


def load_factory(spec: str) -> LoadedModel:
    """Call ``package.module:function`` (cwd importable) -> model or (model, example_inputs)."""
    module_name, _, attr = spec.partition(":")
    cwd = str(Path.cwd())
    if cwd not in sys.path:  # like `python -m`, a factory in the current directory is found
        sys.path.insert(0, cwd)
    try:
        import_ref(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise InvalidInput(
                f"cannot import {module_name!r} for the factory {spec}",
                "run from the directory that holds it or add it to PYTHONPATH",
            ) from None
        raise _factory_failed(spec, exc, "importing") from None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise _factory_failed(spec, exc, "importing") from None
    try:
        target = import_ref(spec)  # the module is imported now: only the attributes can fail
    except AttributeError:
        raise InvalidInput(
            f"{module_name} has no attribute {attr!r} (factory {spec})",
            "name a function that returns the model, as package.module:function",
        ) from None
    if not callable(target):
        raise InvalidInput(f"factory {spec} is not callable",
                           "name a function that returns the model")
    try:
        result = target()
    except InteropError:
        raise
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise _factory_failed(spec, exc, "calling") from None
    example = None
    if isinstance(result, tuple):
        if len(result) != 2:
            raise InvalidInput(
                f"factory {spec} returned a tuple of {len(result)} items",
                "return the model, or (model, example_inputs)",
            )
        result, example = result
    if result is None:
        raise InvalidInput(f"factory {spec} returned None", "return the model object")
    if isinstance(result, (str, Path)) and not Path(result).is_dir():
        raise InvalidInput(
            f"factory {spec} returned the string {str(result)[:80]!r}, not a model",
            "return the model object (or the path of a SavedModel directory)",
        )
    return from_object(result, example, "factory", spec)


def _factory_failed(spec: str, exc: BaseException, doing: str) -> InteropError:
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return MissingDependency(
            f"{doing} the factory {spec} needs {exc.name}, which is not installed",
            install_hint(exc.name),
            package=exc.name,
        )
    if isinstance(exc, SystemExit):
        return InvalidInput(f"{doing} the factory {spec} called sys.exit({exc.code!r})",
                            "a factory must return the model, not exit")
    return InvalidInput(
        f"{doing} the factory {spec} raised {quote(exc)}",
        "fix the factory; rerun with --debug to see its traceback",
    )


def from_object(model: Any, example: Any, kind: str, origin: str) -> LoadedModel:
    """A model object (from a factory or a pickle) with its framework and input specs."""
    from interop import registry
    from interop.detect import detect_source

    try:
        source = detect_source(model, registry.known_sources())
    except InvalidInput:
        source = ""
    specs: tuple[TensorSpec, ...] = ()
    frame = False
    if source == "sklearn":
        specs, frame = sklearn_specs(model)
    elif source == "tensorflow" and example is None:
        specs = keras_specs(model)
    elif source == "torch" and type(model).__name__ == "ExportedProgram":
        specs = program_specs(model)
    if source == "torch" and hasattr(model, "eval"):
        model.eval()
    return LoadedModel(model, kind, source, origin, example, specs, frame)
