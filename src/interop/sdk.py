"""The public plugin SDK: every name a converter or runtime plugin may import from interop.

A plugin imports from here, from ``interop.frameworks.*`` (shared framework helpers) and from
``interop.testing`` (contract checks); every other module is internal. The contract a plugin
satisfies is :class:`ConverterProtocol` / :class:`RuntimeProtocol` at
``PLUGIN_API_VERSION``; the registry checks it when the plugin loads. The base classes
:class:`Converter` and :class:`Runtime` implement the plumbing (declared options, availability
from ``requires``, the context manager), so a plugin writes only its conversion or its run.
"""

from __future__ import annotations

from interop.converters.base import Converter
from interop.errors import (
    ConversionError,
    InteropError,
    InvalidInput,
    MissingDependency,
    first_line,
)
from interop.frameworks.onnx import (
    check_onnx,
    opset_of,
    save_onnx,
    stamp_provenance,
    value_specs,
)
from interop.protocols import PLUGIN_API_VERSION, ConverterProtocol, RuntimeProtocol
from interop.runtimes.base import Runtime
from interop.types import FP16_TOLERANCE, FP32_TOLERANCE, Conversion, TensorSpec, Tolerance
from interop.util import import_ref, modules_missing, provenance

__all__ = [
    "FP16_TOLERANCE",
    "FP32_TOLERANCE",
    "PLUGIN_API_VERSION",
    "Conversion",
    "ConversionError",
    "Converter",
    "ConverterProtocol",
    "InteropError",
    "InvalidInput",
    "MissingDependency",
    "Runtime",
    "RuntimeProtocol",
    "TensorSpec",
    "Tolerance",
    "check_onnx",
    "first_line",
    "import_ref",
    "modules_missing",
    "opset_of",
    "provenance",
    "save_onnx",
    "stamp_provenance",
    "value_specs",
]
