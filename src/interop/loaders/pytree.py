"""The pytree types a ``.pt2`` file names, and the rule for importing the modules that define them.

``torch.export.save`` stores the program's input and output structure as treespecs: JSON
that names each container type by its serialized name (``builtins.tuple``,
``transformers.modeling_outputs.SequenceClassifierOutput``...). ``torch.export.load`` can
only rebuild a type that some imported module has registered with ``torch.utils._pytree``;
otherwise it fails, and says why only in a log line.

The rule (docs/cli.md, "Pytree types in .pt2 files"): before loading, every type the file
names that is not registered yet is looked up by its module.
- The module belongs to an installed distribution (its top-level package is in
  ``importlib.metadata.packages_distributions()`` and is found inside that distribution's
  files): it is imported. That runs the installed package's code, never anything from the
  file or from the current directory.
- The module is found but is not part of an installed distribution (a script or package in
  the current directory, the user's own code): it is not imported; ``--import MODULE`` with
  ``--trust`` imports it.
- The module is not found at all: MissingDependency naming the type and the distribution.

The file is read with ``zipfile`` and ``json`` only; torch is needed just to ask which types
are registered.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import zipfile
from pathlib import Path
from typing import Any

from interop.errors import InvalidInput, MissingDependency
from interop.loaders.base import distribution_for, installed_distribution, quote

log = logging.getLogger("interop.loaders")

SPEC_KEYS = ("in_spec", "out_spec")


def treespec_type_names(path: Path) -> list[str]:
    """Every type name the treespecs of ``path`` (a .pt2 zip) reference, in first-seen order.

    Treespecs are the ``in_spec``/``out_spec`` strings of each program's module call graph
    (``<archive>/models/<name>.json``): ``[protocol, {"type", "context", "children_spec"}]``.
    Unreadable entries are skipped: reading the file for real reports them.
    """
    names: list[str] = []
    try:
        with zipfile.ZipFile(path) as archive:
            entries = [n for n in archive.namelist()
                       if "/models/" in n and n.endswith(".json")]
            for entry in entries:
                try:
                    program = json.loads(archive.read(entry))
                except (ValueError, OSError, zipfile.BadZipFile, EOFError):
                    continue
                for spec in _spec_strings(program):
                    _collect_types(spec, names)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return names
    return names


def _spec_strings(node: Any) -> list[str]:
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in SPEC_KEYS and isinstance(value, str):
                    found.append(value)
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))
    return found


def _collect_types(spec: str, names: list[str]) -> None:
    try:
        decoded = json.loads(spec)
    except ValueError:
        return
    stack = [decoded[1]] if isinstance(decoded, list) and len(decoded) == 2 else []
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        name = node.get("type")
        if isinstance(name, str) and name not in names:
            names.append(name)
        children = node.get("children_spec")
        if isinstance(children, list):
            stack.extend(reversed(children))


def registered_names() -> set[str]:
    """The serialized type names torch's pytree registry knows now."""
    from torch.utils import _pytree

    return set(_pytree.SERIALIZED_TYPE_TO_PYTHON_TYPE)


def prepare_types(path: Path, names: list[str]) -> list[str]:
    """Import the installed modules that register ``names``; return the modules imported.

    Raises MissingDependency for a type whose package is not installed, and InvalidInput
    for one whose module is the user's own code (``--import`` it) or that its module did
    not register.
    """
    imported: list[str] = []
    missing = [n for n in names if n not in registered_names()]
    for name in missing:
        if name in registered_names():  # an earlier import registered it too
            continue
        module = _module_for(path, name)
        imported.append(module)
        if name not in registered_names():
            raise InvalidInput(
                f"{path} returns or takes a {name}, but importing {module} did not register "
                "it as a pytree type",
                f"import the module that registers it: --import MODULE --trust; or install "
                f"the {_top(name)} version that saved the file",
            )
    return imported


def _top(name: str) -> str:
    return name.split(".")[0]


def _module_for(path: Path, name: str) -> str:
    """Import the module of type ``name`` if the rule allows; return its name."""
    top = _top(name)
    parts = name.split(".")
    try:
        spec = importlib.util.find_spec(top) if len(parts) > 1 else None
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        dist = distribution_for(top)
        raise MissingDependency(
            f"{path} returns or takes a {name}, and its package {top!r} is not installed",
            f"pip install {dist} (the distribution that defines {name}); if it is your own "
            f"code, pass --import {'.'.join(parts[:-1]) or top} --trust",
            package=dist,
        )
    dist_name = installed_distribution(top, spec)
    if dist_name is None:
        where = spec.origin or (list(spec.submodule_search_locations or []) or ["?"])[0]
        module = ".".join(parts[:-1])
        raise InvalidInput(
            f"{path} returns or takes a {name}; its module {top} ({where}) is not part of an "
            "installed package, so it is not imported on its own",
            f"if you trust that code, pass --import {module} --trust",
        )
    for end in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:end])
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
                continue  # the name goes deeper than the module (a nested class)
            raise _import_failed(path, name, module, dist_name, exc) from None
        except Exception as exc:  # noqa: BLE001 - an installed package failing to import
            raise _import_failed(path, name, module, dist_name, exc) from None
        log.info("imported %s (from %s) for the pytree type %s", module, dist_name, name)
        return module
    return top


def _import_failed(path: Path, name: str, module: str, dist: str, exc: BaseException
                   ) -> MissingDependency:
    return MissingDependency(
        f"{path} returns or takes a {name}, but importing {module} (from {dist}) failed: "
        f"{quote(exc)}",
        f"repair the installation: pip install --force-reinstall {dist}",
        package=dist,
    )
