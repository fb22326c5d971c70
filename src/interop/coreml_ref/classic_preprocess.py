"""Feature transformers of classic specs, in float64: Scaler, Imputer, Normalizer,
ArrayFeatureExtractor, OneHotEncoder and FeatureVectorizer."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from interop.coreml_ref.classic_common import (
    Features,
    as_matrix,
    input_matrix,
    model_inputs,
    single_output,
    unsupported,
)
from interop.errors import InvalidInput


def eval_scaler(spec: Any, features: Features) -> Features:
    x = input_matrix(spec, features)
    shift = _vector_or_default(spec.scaler.shiftValue, x.shape[1], 0.0, "Scaler shiftValue")
    scale = _vector_or_default(spec.scaler.scaleValue, x.shape[1], 1.0, "Scaler scaleValue")
    return single_output(spec, (x + shift) * scale)


def _vector_or_default(values: Any, width: int, default: float, what: str) -> np.ndarray:
    array = np.asarray(list(values), dtype=np.float64)
    if array.size == 0:
        return np.full(width, default)
    if array.shape != (width,):
        raise unsupported(f"{what} of length {array.size} for a {width}-feature input")
    return array


def eval_imputer(spec: Any, features: Features) -> Features:
    params = spec.imputer
    (value,) = model_inputs(spec, features)
    which = params.WhichOneof("ImputedValue")
    replace = params.WhichOneof("ReplaceValue")
    if replace not in (None, "replaceDoubleValue"):
        raise unsupported(f"Imputer {replace}")
    # An unset replace value means NaN, the usual marker of a missing double.
    marker = params.replaceDoubleValue if replace else math.nan
    x = np.asarray(value, dtype=np.float64)
    missing = np.isnan(x) if math.isnan(marker) else x == marker
    if which == "imputedDoubleArray":
        fill = np.asarray(list(params.imputedDoubleArray.vector), dtype=np.float64)
        if x.ndim != 2 or fill.shape != (x.shape[1],):
            raise unsupported(
                f"an imputedDoubleArray of length {fill.size} for input shape {x.shape[1:]}"
            )
        return single_output(spec, np.where(missing, fill, x))
    if which == "imputedDoubleValue":
        return single_output(spec, np.where(missing, params.imputedDoubleValue, x))
    raise unsupported(f"Imputer {which}")


def eval_normalizer(spec: Any, features: Features) -> Features:
    x = input_matrix(spec, features)
    norm_type = int(spec.normalizer.normType)
    norms = {
        0: lambda a: np.abs(a).max(axis=1),
        1: lambda a: np.abs(a).sum(axis=1),
        2: lambda a: np.sqrt((a * a).sum(axis=1)),
    }
    if norm_type not in norms:
        raise unsupported(f"Normalizer normType {norm_type}")
    norm = norms[norm_type](x)[:, None]
    # A zero row stays zero rather than becoming NaN.
    return single_output(spec, np.divide(x, norm, out=np.zeros_like(x), where=norm != 0))


def eval_array_feature_extractor(spec: Any, features: Features) -> Features:
    (value,) = model_inputs(spec, features)
    x = as_matrix(value)
    indices = [int(i) for i in spec.arrayFeatureExtractor.extractIndex]
    if not indices or max(indices) >= x.shape[1]:
        raise unsupported(f"extractIndex {indices} for a {x.shape[1]}-element array")
    (out,) = spec.description.output
    kind = out.type.WhichOneof("Type")
    extracted = x[:, indices]
    if kind in ("doubleType", "int64Type"):
        if len(indices) != 1:
            raise unsupported(f"extracting {len(indices)} indices into a scalar output")
        column = extracted[:, 0]
        if kind == "int64Type":
            if not np.all(np.isfinite(column)) or np.any(column != np.round(column)):
                raise InvalidInput(
                    f"feature {out.name!r} needs whole numbers but got {column[:3].tolist()}...",
                    "categorical columns must hold integer codes",
                )
            column = column.astype(np.int64)
        return {out.name: column}
    return {out.name: extracted}


def eval_one_hot(spec: Any, features: Features) -> Features:
    params = spec.oneHotEncoder
    (value,) = model_inputs(spec, features)
    which = params.WhichOneof("CategoryType")
    categories: list[Any]
    keys: list[Any]
    if which == "int64Categories":
        categories = [int(c) for c in params.int64Categories.vector]
        keys = [int(v) for v in np.asarray(value).reshape(len(value))]
    elif which == "stringCategories":
        categories = list(params.stringCategories.vector)
        keys = [str(v) for v in np.asarray(value).reshape(len(value))]
    else:
        raise unsupported("a OneHotEncoder without categories")
    index = {c: i for i, c in enumerate(categories)}
    ignore = int(params.handleUnknown) == 1
    out = np.zeros((len(keys), len(categories)), dtype=np.float64)
    for row, key in enumerate(keys):
        position = index.get(key)
        if position is None:
            if not ignore:
                raise InvalidInput(
                    f"category {key!r} was not seen when the OneHotEncoder was fitted",
                    "feed only known categories, or fit the encoder with handle_unknown='ignore'",
                )
            continue
        out[row, position] = 1.0
    # A sparse output is a dictionary keyed by category position; kept dense here.
    return single_output(spec, out)


def eval_feature_vectorizer(spec: Any, features: Features) -> Features:
    parts = []
    for column in spec.featureVectorizer.inputList:
        if column.inputColumn not in features:
            raise unsupported(
                f"a FeatureVectorizer reading {column.inputColumn!r}, which nothing produces"
            )
        part = as_matrix(features[column.inputColumn]).astype(np.float64)
        if part.shape[1] != int(column.inputDimensions):
            raise unsupported(
                f"FeatureVectorizer column {column.inputColumn!r} declared with "
                f"{column.inputDimensions} dimensions but {part.shape[1]} given"
            )
        parts.append(part)
    return single_output(spec, np.concatenate(parts, axis=1))


__all__ = [
    "eval_array_feature_extractor",
    "eval_feature_vectorizer",
    "eval_imputer",
    "eval_normalizer",
    "eval_one_hot",
    "eval_scaler",
]
