"""Small helpers with no framework behind them: resolving import strings, finding modules."""

from __future__ import annotations

import datetime as _dt
import importlib
import importlib.util
from typing import Any

from interop.errors import InvalidInput


def import_ref(ref: str) -> Any:
    """The object a ``"package.module:attr.sub"`` reference names, importing the module.

    A reference without ``:`` names a module. Import errors propagate unchanged, so a caller
    can tell a missing package from a missing attribute.
    """
    module_name, _, attr = ref.partition(":")
    if not module_name:
        raise InvalidInput(
            f"{ref!r} is not an import reference",
            "write it as package.module:attribute",
        )
    target: Any = importlib.import_module(module_name)
    for part in filter(None, attr.split(".")):
        target = getattr(target, part)
    return target


def modules_missing(modules: tuple[str, ...] | list[str]) -> list[str]:
    """The top-level modules in ``modules`` that cannot be found, without importing any."""
    missing = []
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(module)
    return missing


def provenance(fields: dict[str, Any]) -> dict[str, str]:
    """interop's version, the conversion time and ``fields``, as string values.

    Plain keys get the ``interop.`` prefix; keys that already carry a dot
    (``"myplugin.version"``) are kept, so a plugin can record its own version beside interop's.
    """
    from interop import __version__

    return {
        "interop.version": __version__,
        "interop.converted_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **{(k if "." in k else f"interop.{k}"): str(v) for k, v in fields.items()},
    }


__all__ = ["import_ref", "modules_missing", "provenance"]
