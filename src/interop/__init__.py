"""interop: convert trained models between frameworks and prove every conversion right.

Public names load lazily so that ``import interop`` imports no framework.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interop._lazy import lazy_getattr

__version__ = "0.1.0"

_LAZY = {
    "convert": "interop.api",
    "check": "interop.api",
    "converters": "interop.api",
    "runtimes": "interop.api",
    "diagnose": "interop.diagnose.core",
    "Diagnosis": "interop.diagnose.result",
    "optimize": "interop.optimize.search",
    "Optimization": "interop.optimize.result",
    "Conversion": "interop.types",
    "TensorSpec": "interop.types",
    "Tolerance": "interop.types",
    "ConverterInfo": "interop.types",
    "Report": "interop.harness.report",
    "InteropError": "interop.errors",
    "InvalidInput": "interop.errors",
    "ConversionError": "interop.errors",
    "ConverterNotFound": "interop.errors",
    "MissingDependency": "interop.errors",
    "ParityError": "interop.errors",
    "PluginError": "interop.errors",
}

__all__ = [
    "Conversion",
    "ConversionError",
    "ConverterInfo",
    "ConverterNotFound",
    "Diagnosis",
    "InteropError",
    "InvalidInput",
    "MissingDependency",
    "Optimization",
    "ParityError",
    "PluginError",
    "Report",
    "TensorSpec",
    "Tolerance",
    "__version__",
    "check",
    "convert",
    "converters",
    "diagnose",
    "optimize",
    "runtimes",
]

if TYPE_CHECKING:
    from interop.api import check, convert, converters, runtimes
    from interop.diagnose.core import diagnose
    from interop.diagnose.result import Diagnosis
    from interop.errors import (
        ConversionError,
        ConverterNotFound,
        InteropError,
        InvalidInput,
        MissingDependency,
        ParityError,
        PluginError,
    )
    from interop.harness.report import Report
    from interop.optimize.result import Optimization
    from interop.optimize.search import optimize
    from interop.types import Conversion, ConverterInfo, TensorSpec, Tolerance


__getattr__ = lazy_getattr(__name__, _LAZY)


def __dir__() -> list[str]:
    return __all__
