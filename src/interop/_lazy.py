"""A module stand-in that imports the real module on first attribute access.

Converter and runtime modules are imported to list them (``interop-convert --list``);
numerical helpers they use only while converting should not cost their import there.
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
