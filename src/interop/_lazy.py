"""Deferred imports: a module stand-in, lazily loaded public names, and callable packages.

Converter and runtime modules are imported to list them (``interop-convert --list``);
numerical helpers they use only while converting should not cost their import there, and
``import interop`` loads its public names only when they are first used.
"""

from __future__ import annotations

import importlib
import types
from typing import Any


class LazyModule(types.ModuleType):
    """``np = LazyModule("numpy")`` behaves like numpy once an attribute is first read."""

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)
        return getattr(module, attr)


def callable_package(module_name: str, target: str) -> None:
    """Make the package ``module_name`` callable as the function ``target`` ("module:attr").

    ``interop.converters``, ``interop.runtimes``, ``interop.diagnose`` and
    ``interop.optimize`` are each both a package and a public function: importing any
    submodule binds the package to that name on ``interop``, replacing the function, so the
    package itself must answer a call the way the function does. ``target`` is imported on
    the first call, so listing converters imports nothing extra.
    """
    import sys

    class CallablePackage(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            module, _, attr = target.partition(":")
            return getattr(importlib.import_module(module), attr)(*args, **kwargs)

    sys.modules[module_name].__class__ = CallablePackage


def lazy_getattr(module_name: str, table: dict[str, str]) -> Any:
    """A module ``__getattr__`` that loads ``name`` from ``table[name]`` on first access."""
    import sys

    def __getattr__(name: str) -> Any:
        source = table.get(name)
        if source is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        setattr(sys.modules[module_name], name, value)
        return value

    return __getattr__
