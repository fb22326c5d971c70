"""What both Core ML reference executors and every op table share: dtype tables, the error
for an unsupported op, and ``Args``/``OpFn``, the calling convention of ML program ops.

The bottom of the package's import order; nothing here imports another ``coreml_ref`` module.
Every import in the package runs one way: ``base <- spec_io``; ``base <- ops_math <- ops_nn``,
``base <- ops_tensor``; ``ops_* <- optable <- mlprogram``; ``base <- classic_common <-
classic_{trees,linear,svm,preprocess,nn} <- classic``; and the package ``__init__`` imports
``spec_io``, ``mlprogram`` and ``classic`` (none of which imports the package back).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from interop.errors import ConversionError, InvalidInput

# MIL DataType enum value -> numpy dtype (MIL.proto)
MIL_DTYPES: dict[int, Any] = {
    1: np.bool_,
    2: object,
    10: np.float16,
    11: np.float32,
    12: np.float64,
    21: np.int8,
    22: np.int16,
    23: np.int32,
    24: np.int64,
    31: np.uint8,
    32: np.uint16,
    33: np.uint32,
    34: np.uint64,
}

# FeatureTypes ArrayDataType -> numpy dtype name
ARRAY_DTYPES = {
    65552: "float16",
    65568: "float32",
    65600: "float64",
    131104: "int32",
    131080: "int8",
}
# Scalar feature types of a model description -> numpy dtype name
SCALAR_FEATURE_DTYPES = {
    "doubleType": "float64",
    "int64Type": "int64",
    "stringType": "object",
    "dictionaryType": "float64",  # class probabilities, returned as (N, n_classes)
}


class UnsupportedOp(ConversionError):
    """The reference executor does not implement an op the program uses."""


def array_dtype(data_type: int, feature: str) -> str:
    """The numpy dtype name of a multiarray feature; an unknown code is an error, not fp32."""
    if data_type not in ARRAY_DTYPES:
        raise UnsupportedOp(
            f"the Core ML reference executor does not know multiarray data type {data_type} "
            f"(feature {feature!r})",
            "run the model on macOS (Apple's runtime)",
        )
    return ARRAY_DTYPES[data_type]


class Args:
    """An op's bound inputs. Indexing widens fp16 tensors to fp32 for computation."""

    __slots__ = ("op_type", "values")

    def __init__(self, op_type: str, values: dict[str, list[Any]]) -> None:
        self.op_type = op_type
        self.values = values

    def has(self, name: str) -> bool:
        return name in self.values

    def raw(self, name: str, default: Any = None) -> Any:
        if name not in self.values:
            return default
        items = self.values[name]
        return items[0] if len(items) == 1 else list(items)

    def __getitem__(self, name: str) -> Any:
        if name not in self.values:
            raise InvalidInput(
                f"MIL op {self.op_type!r} lacks its required input {name!r}",
                "the model is malformed; re-convert it",
            )
        return widen(self.raw(name))

    def get(self, name: str, default: Any = None) -> Any:
        return widen(self.raw(name)) if name in self.values else default

    def many(self, name: str) -> list[Any]:
        return [widen(v) for v in self.values.get(name, [])]

    def scalar(self, name: str, default: Any = None) -> Any:
        """A Python scalar (int/float/bool/str) for a parameter input."""
        value = self.raw(name, default)
        if isinstance(value, np.ndarray):
            return value.item() if value.size == 1 else value.tolist()
        return value

    def ints(self, name: str, default: Any = None) -> list[int] | None:
        value = self.raw(name, default)
        if value is None:
            return None
        return [int(v) for v in np.asarray(value).reshape(-1)]


OpFn = Callable[[Args], Any]


def widen(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype == np.float16:
        return value.astype(np.float32)
    return value


__all__ = [
    "ARRAY_DTYPES",
    "MIL_DTYPES",
    "SCALAR_FEATURE_DTYPES",
    "Args",
    "OpFn",
    "UnsupportedOp",
    "array_dtype",
    "widen",
]
