"""Built-in converters, one module per (source -> target); each imports its framework lazily.

``interop.converters`` is both this package and the public function that lists the
registered converters: importing a submodule makes Python bind the package to that name on
``interop``, so the package itself is callable and answers like the function.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    def __call__(self) -> Any:
        from interop.registry import converter_infos

        return converter_infos()


sys.modules[__name__].__class__ = _CallablePackage
