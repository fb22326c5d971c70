"""Built-in runtimes, one module per way of running a model; frameworks load on first use.

``interop.runtimes`` is both this package and the public function that lists the
registered runtimes (see ``interop.converters`` for why the package is callable).
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    def __call__(self) -> Any:
        from interop.registry import runtime_infos

        return runtime_infos()


sys.modules[__name__].__class__ = _CallablePackage
