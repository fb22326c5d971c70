"""Transformers: scalers, normalizer, PCA, imputer, one-hot encoder, identity function."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interop._lazy import LazyModule
from interop.converters.sklearn_coreml.spec import Builder, Column, Feature, Fill, unsupported

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")


def standard_scaler(b: Builder, m: Any, f: Feature, out: str) -> Feature:
    shift = -m.mean_ if m.with_mean else np.zeros(f.size)
    scale = 1.0 / m.scale_ if m.with_std else np.ones(f.size)
    return b.scaler(f, out, shift, scale)


def min_max_scaler(b: Builder, m: Any, f: Feature, out: str) -> Feature:
    if m.clip:
        raise unsupported(m, "clip=True has no Core ML scaler equivalent")
    # scikit-learn computes x * scale_ + min_, which is (x + min_ / scale_) * scale_.
    return b.scaler(f, out, m.min_ / m.scale_, m.scale_)


def max_abs_scaler(b: Builder, m: Any, f: Feature, out: str) -> Feature:
    return b.scaler(f, out, np.zeros(f.size), 1.0 / m.scale_)


def robust_scaler(b: Builder, m: Any, f: Feature, out: str) -> Feature:
    shift = -m.center_ if m.with_centering else np.zeros(f.size)
    scale = 1.0 / m.scale_ if m.with_scaling else np.ones(f.size)
    return b.scaler(f, out, shift, scale)


def normalizer(b: Builder, m: Any, f: Feature, out: str) -> Feature:
    norms = {"max": 0, "l1": 1, "l2": 2}
    spec = b.new_model([(f.name, b.array(f.size))], [(out, b.array(f.size))])
    spec.normalizer.normType = norms[m.norm]
    return Feature(out, f.size)


def pca(b: Builder, m: Any, f: Feature, out: str) -> Feature:
    weights = np.asarray(m.components_, dtype=np.float64)
    if m.whiten:
        weights = weights / np.sqrt(m.explained_variance_)[:, None]
    return b.linear_map(f, out, weights, -(weights @ m.mean_))


def simple_imputer(b: Builder, m: Any, f: Feature, out: str) -> Feature:
    if m.add_indicator:
        raise unsupported(m, "add_indicator=True")
    stats = np.asarray(m.statistics_, dtype=np.float64)
    if np.isnan(stats).any():
        raise unsupported(m, "a column with no observed values; fit with "
                             "keep_empty_features=True")
    marker = m.missing_values
    if not isinstance(marker, (int, float)) or isinstance(marker, bool):
        raise unsupported(m, f"missing_values={marker!r}; only numbers and NaN")
    spec = b.new_model([(f.name, b.array(f.size))], [(out, b.array(f.size))])
    spec.imputer.imputedDoubleArray.vector.extend(stats.tolist())
    spec.imputer.replaceDoubleValue = float(marker)
    return Feature(out, f.size)


def function_transformer(b: Builder, m: Any, f: Feature, out: str) -> Feature:
    # ColumnTransformer stores remainder="passthrough" as an identity FunctionTransformer.
    if m.func is not None:
        raise unsupported(m, "a FunctionTransformer with a function")
    return b.extract(f, out, list(range(f.size))) if out == "transform" else f


def one_hot_encoder(b: Builder, m: Any, f: Feature, out: str) -> Feature:
    return one_hot(b, m, [(f, j) for j in range(f.size)], out)


def one_hot(b: Builder, m: Any, sources: list[tuple[Feature, int] | Column], out: str) -> Feature:
    """Per column: its integer code or text -> sparse one-hot; then one dense vector.

    A source is an element of a multiarray feature, or a DataFrame column input.
    """
    infrequent = getattr(m, "infrequent_categories_", None) or []
    if any(c is not None for c in infrequent):
        raise unsupported(m, "infrequent categories (min_frequency / max_categories)")
    from coremltools.proto import OneHotEncoder_pb2

    handle = (OneHotEncoder_pb2.OneHotEncoder.ErrorOnUnknown if m.handle_unknown == "error"
              else OneHotEncoder_pb2.OneHotEncoder.IgnoreUnknown)
    parts: list[tuple[Feature, Fill]] = []
    for column, (categories, source) in enumerate(zip(m.categories_, sources, strict=True)):
        cats = np.asarray(categories)
        encoded = b.fresh(f"ohe_out_{column}")
        if isinstance(source, Column) and source.kind == "string":
            if cats.dtype.kind not in "OU":
                raise unsupported(m, f"text column {source.name!r} with numeric categories")
            spec = b.new_model([(source.name, b.string)], [(encoded, b.dict_int64)])
            spec.oneHotEncoder.stringCategories.vector.extend(str(c) for c in cats)
        else:
            if cats.dtype.kind not in "iuf" or not np.all(np.isfinite(cats)) or np.any(
                cats != np.round(cats)
            ):
                raise unsupported(m, f"column {column} has non-integer categories "
                                     f"{cats[:4].tolist()}; encode them as integer codes")
            if isinstance(source, Column) and source.kind == "int":
                code_name = source.name
            else:
                array, index = ((Feature(source.name, 1), 0) if isinstance(source, Column)
                                else source)
                code_name = b.extract(array, b.fresh(f"ohe_in_{column}"), [index],
                                      scalar_int=True).name
            spec = b.new_model([(code_name, b.int64)], [(encoded, b.dict_int64)])
            spec.oneHotEncoder.int64Categories.vector.extend(int(c) for c in cats)
        # Sparse output keyed by category position, densified by the feature vectorizer.
        spec.oneHotEncoder.outputSparse = True
        spec.oneHotEncoder.handleUnknown = handle
        parts.append((Feature(encoded, len(cats)), b.dict_int64))
    drop = getattr(m, "drop_idx_", None)
    if drop is None:
        return b.vectorize(parts, out)
    dense = b.vectorize(parts, b.fresh("ohe_all"))
    keep, start = [], 0
    for (part, _), dropped in zip(parts, drop, strict=True):
        keep += [start + i for i in range(part.size) if dropped is None or i != dropped]
        start += part.size
    return b.extract(dense, out, keep)
