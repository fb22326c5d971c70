"""What every loader shares: the LoadedModel record, framework imports, error wording."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interop.errors import InvalidInput, MissingDependency, first_line
from interop.types import TensorSpec
from interop.util import import_ref

INSTALL = {
    "torch": "pip install 'interop[torch]'",
    "keras": "pip install 'interop[tensorflow]'",
    "tensorflow": "pip install 'interop[tensorflow]'",
    "skops": "pip install 'interop[sklearn]'",
    "joblib": "pip install joblib",
    "pandas": "pip install pandas",
}


@dataclass(frozen=True)
class LoadedModel:
    """A model read from a file or a factory, with what it says about its own inputs.

    ``model`` is the object to convert, or for a SavedModel the directory path (the
    tensorflow converter reads it itself). ``input_specs`` is empty where the model carries
    no signature (TorchScript, pickles).
    """

    model: Any
    kind: str
    source: str
    path: str
    example_inputs: Any = None
    input_specs: tuple[TensorSpec, ...] = ()
    needs_dataframe: bool = False
    notes: tuple[str, ...] = field(default=())


def install_hint(module: str) -> str:
    root = module.split(".")[0]
    return INSTALL.get(root, f"pip install {root}")


def quote(exc: BaseException) -> str:
    """``errors.first_line``, capped so that one long foreign message cannot flood ours."""
    return first_line(exc)[:300]


def require(module: str) -> Any:
    """Import ``module`` (a framework), or raise MissingDependency saying how to install it."""
    try:
        return import_ref(module)
    except ImportError as exc:
        root = module.split(".")[0]
        raise MissingDependency(
            f"{root} is needed to load this model but cannot be imported ({quote(exc)})",
            install_hint(root),
            package=root,
        ) from None


def unreadable(path: Path, what: str, exc: BaseException, hint: str = "") -> InvalidInput:
    """The error for a file whose framework failed to read it."""
    return InvalidInput(
        f"cannot load {path} as a {what}: {quote(exc)}",
        hint or "the file is truncated, corrupt, or was written by an incompatible version; "
        "save it again",
    )


def import_trusted(modules: tuple[str, ...] | list[str], trust: bool) -> None:
    """``--import MODULE``: import the user's own modules, only with ``trust``.

    They register what a file names but does not hold: pytree types of a ``.pt2``, Keras
    custom objects, TensorFlow op libraries.

    The current directory is importable, as for factories.
    """
    if not modules:
        return
    if not trust:
        shown = ", ".join(modules)
        raise InvalidInput(
            f"--import {shown} would run that code while loading the model",
            "pass --trust as well if you trust it (or install the package that defines the "
            "types)",
        )
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
                raise InvalidInput(f"--import {module}: no module named {module!r}",
                                   "run from the directory that holds it or add it to "
                                   "PYTHONPATH") from None
            raise InvalidInput(f"--import {module} failed: {quote(exc)}",
                               "install what that module needs") from None
        except Exception as exc:  # noqa: BLE001 - the user's code: any failure is theirs
            raise InvalidInput(f"--import {module} failed: {quote(exc)}",
                               "fix the module, or import the one that registers the types"
                               ) from None
        logging.getLogger("interop.loaders").info("imported %s (--import)", module)


# top-level module -> distribution, where they differ and the module is not installed (so
# packages_distributions cannot say)
KNOWN_DISTRIBUTIONS = {"sklearn": "scikit-learn", "PIL": "pillow", "cv2": "opencv-python",
                       "yaml": "pyyaml", "skimage": "scikit-image",
                       "tensorflow_text": "tensorflow-text"}


def distribution_for(top: str) -> str:
    """The distribution to ``pip install`` for a top-level module that is not installed."""
    return KNOWN_DISTRIBUTIONS.get(top, top)


def module_found(module: str) -> Any:
    """``importlib.util.find_spec`` of a module's top-level package (imports nothing), or None."""
    import importlib.util

    try:
        return importlib.util.find_spec(module.split(".")[0])
    except (ImportError, ValueError):
        return None


def installed_distribution(top: str, spec: Any) -> str | None:
    """The distribution that ``top`` is installed from, if ``spec`` is that installed copy.

    A package of the same name in the current directory (which shadows the installed one
    when the current directory is on sys.path) is the user's code, not the distribution.
    """
    origin = spec.origin if spec.origin not in (None, "namespace") else None
    if origin is None and spec.submodule_search_locations:
        origin = next(iter(spec.submodule_search_locations), None)
    if origin is None:
        return None
    found = Path(origin).resolve()
    for dist_name in importlib.metadata.packages_distributions().get(top, []):
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            continue
        roots = [Path(str(dist.locate_file(""))).resolve()]
        editable = _editable_root(dist)
        if editable is not None:
            roots.append(editable)
        if any(found.is_relative_to(root) for root in roots):
            return str(dist.metadata["Name"] or dist_name)
    return None


def _editable_root(dist: importlib.metadata.Distribution) -> Path | None:
    """The source directory of an editable install (``pip install -e``), else None."""
    try:
        text = dist.read_text("direct_url.json")
        info = json.loads(text) if text else {}
    except (ValueError, OSError):
        return None
    url = str(info.get("url", ""))
    if info.get("dir_info", {}).get("editable") and url.startswith("file://"):
        return Path(url[len("file://"):]).resolve()
    return None
