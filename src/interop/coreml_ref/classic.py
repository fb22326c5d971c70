"""Numpy execution of classic Core ML specs (pipelines, GLMs, tree ensembles, SVMs, ...).

Semantics follow the Core ML protobuf definitions (``coremltools/proto/*.proto``). Core ML runs
a classic model one example at a time; this executor evaluates a batch at once with the same
per-example result, and keeps the batch dimension first on every input and output.

Precision: tree ensembles, GLMs, SVMs, scalers, imputers and normalizers are computed in float64,
since their parameters are stored as doubles and Apple's implementations of these model types
(libsvm-style SVMs, double tree accumulation) compute in double. Neural-network layers are
computed in float32, the precision of Core ML's CPU path for classic neural networks. Neither
can be confirmed on Linux; a Mac runs the same saved model natively.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from interop.coreml_ref.base import ARRAY_DTYPES
from interop.coreml_ref.classic_common import (
    Evaluator,
    Features,
    UnsupportedCoremlSpec,
    unsupported,
)
from interop.coreml_ref.classic_knn import eval_knn_classifier
from interop.coreml_ref.classic_linear import eval_glm_classifier, eval_glm_regressor
from interop.coreml_ref.classic_nn import eval_nn_classifier, eval_nn_regressor
from interop.coreml_ref.classic_preprocess import (
    eval_array_feature_extractor,
    eval_feature_vectorizer,
    eval_imputer,
    eval_normalizer,
    eval_one_hot,
    eval_scaler,
)
from interop.coreml_ref.classic_svm import eval_svc, eval_svr
from interop.coreml_ref.classic_trees import eval_tree_classifier, eval_tree_regressor
from interop.errors import InvalidInput
from interop.types import TensorSpec

# FeatureTypes ArrayDataType -> numpy scalar type
_ARRAY_DTYPES: dict[int, Any] = {code: np.dtype(name).type for code, name in ARRAY_DTYPES.items()}


class ClassicExecutor:
    """Runs a classic (non-ML-program) Core ML spec in numpy.

    ``spec`` is a ``coremltools.proto.Model_pb2.Model``; ``base_dir`` the model's directory
    (unused by classic specs, which carry their weights inline; kept for the executor protocol).
    """

    def __init__(self, spec: Any, base_dir: str | Path | None = None) -> None:
        self.spec = spec
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self._check_supported(spec)

    def _check_supported(self, spec: Any) -> None:
        kind = spec.WhichOneof("Type")
        if kind not in _EVALUATORS:
            raise unsupported(f"the model type {kind!r}")
        if kind in ("pipeline", "pipelineClassifier", "pipelineRegressor"):
            for sub in _pipeline_of(spec).models:
                self._check_supported(sub)

    def input_specs(self) -> tuple[TensorSpec, ...]:
        return tuple(_feature_spec(f) for f in self.spec.description.input)

    def output_specs(self) -> tuple[TensorSpec, ...]:
        return tuple(_feature_spec(f) for f in self.spec.description.output)

    def run(self, feed: dict[str, Any]) -> dict[str, np.ndarray]:
        features = {f.name: _read_input(f, feed) for f in self.spec.description.input}
        sizes = {len(v) for v in features.values()}
        if len(sizes) > 1:
            raise InvalidInput(
                f"inputs have different batch sizes: {sorted(sizes)}",
                "feed every input with the same number of rows",
            )
        computed = _evaluate(self.spec, features)
        outputs = {}
        for out in self.spec.description.output:
            if out.name not in computed:
                raise unsupported(f"a spec whose output {out.name!r} no model produces")
            outputs[out.name] = _cast_output(out, computed[out.name])
        return outputs


# ---------------------------------------------------------------------------- feature types


def _feature_spec(feature: Any) -> TensorSpec:
    ftype = feature.type
    kind = ftype.WhichOneof("Type")
    if kind == "multiArrayType":
        dtype = _array_dtype(ftype.multiArrayType.dataType, feature.name)
        dims = tuple(int(d) for d in ftype.multiArrayType.shape)
        shape: tuple[int | str | None, ...] = ("batch", *dims)
        return TensorSpec(feature.name, shape, np.dtype(dtype).name)
    if kind == "doubleType":
        return TensorSpec(feature.name, ("batch",), "float64")
    if kind == "int64Type":
        return TensorSpec(feature.name, ("batch",), "int64")
    if kind == "stringType":
        return TensorSpec(feature.name, ("batch",), "object")
    if kind == "dictionaryType":
        return TensorSpec(feature.name, ("batch", None), "float64")
    raise unsupported(f"features of type {kind!r} (feature {feature.name!r})")


def _read_input(feature: Any, feed: dict[str, Any]) -> np.ndarray:
    if feature.name not in feed:
        raise InvalidInput(
            f"no value fed for the Core ML input {feature.name!r}",
            f"feed a dict with the keys {feature.name!r} (batch dimension first)",
        )
    value = np.asarray(feed[feature.name])
    kind = feature.type.WhichOneof("Type")
    if kind == "multiArrayType":
        arr = feature.type.multiArrayType
        dtype = _ARRAY_DTYPES.get(arr.dataType)
        if dtype is None:
            raise unsupported(f"multiarray data type {arr.dataType} (input {feature.name!r})")
        shape = tuple(int(d) for d in arr.shape)
        if value.ndim == 0 or (shape and value.shape[1:] != shape):
            raise InvalidInput(
                f"input {feature.name!r} has shape {value.shape}; the model expects "
                f"(batch, {', '.join(map(str, shape))})",
                "pass one row per example with the model's feature count",
            )
        return value.astype(dtype, copy=False)
    if kind in ("doubleType", "int64Type", "stringType"):
        value = value.reshape(len(value)) if value.ndim > 1 else value
        scalar: Any = {"doubleType": np.float64, "int64Type": np.int64, "stringType": object}[kind]
        return value.astype(scalar, copy=False)
    raise unsupported(f"inputs of type {kind!r} (input {feature.name!r})")


def _cast_output(feature: Any, value: np.ndarray) -> np.ndarray:
    kind = feature.type.WhichOneof("Type")
    if kind == "multiArrayType":
        dtype = _array_dtype(feature.type.multiArrayType.dataType, feature.name)
        return np.asarray(value, dtype=dtype)
    if kind == "doubleType":
        return np.asarray(value, dtype=np.float64).reshape(len(value))
    if kind == "int64Type":
        return np.asarray(value, dtype=np.int64).reshape(len(value))
    if kind == "stringType":
        return np.asarray(value, dtype=object).reshape(len(value))
    if kind == "dictionaryType":
        # Class probabilities are returned as (N, n_classes) in class-label order.
        return np.asarray(value, dtype=np.float64)
    raise unsupported(f"outputs of type {kind!r} (output {feature.name!r})")


def _array_dtype(data_type: int, name: str) -> Any:
    if data_type not in _ARRAY_DTYPES:
        raise unsupported(f"multiarray data type {data_type} (feature {name!r})")
    return _ARRAY_DTYPES[data_type]


# ---------------------------------------------------------------------------- pipelines


def _pipeline_of(spec: Any) -> Any:
    kind = spec.WhichOneof("Type")
    if kind == "pipeline":
        return spec.pipeline
    return getattr(spec, kind).pipeline


def _eval_pipeline(spec: Any, features: Features) -> Features:
    available = dict(features)
    for sub in _pipeline_of(spec).models:
        available.update(_evaluate(sub, available))
    return available


# ---------------------------------------------------------------------------- dispatch


def _evaluate(spec: Any, features: Features) -> Features:
    kind = spec.WhichOneof("Type")
    evaluator = _EVALUATORS.get(kind)
    if evaluator is None:
        raise unsupported(f"the model type {kind!r}")
    return evaluator(spec, features)


_EVALUATORS: dict[str | None, Evaluator] = {
    "pipeline": _eval_pipeline,
    "pipelineClassifier": _eval_pipeline,
    "pipelineRegressor": _eval_pipeline,
    "treeEnsembleRegressor": eval_tree_regressor,
    "treeEnsembleClassifier": eval_tree_classifier,
    "glmRegressor": eval_glm_regressor,
    "glmClassifier": eval_glm_classifier,
    "supportVectorRegressor": eval_svr,
    "supportVectorClassifier": eval_svc,
    "scaler": eval_scaler,
    "imputer": eval_imputer,
    "normalizer": eval_normalizer,
    "arrayFeatureExtractor": eval_array_feature_extractor,
    "oneHotEncoder": eval_one_hot,
    "featureVectorizer": eval_feature_vectorizer,
    "neuralNetworkRegressor": eval_nn_regressor,
    "neuralNetwork": eval_nn_regressor,
    "neuralNetworkClassifier": eval_nn_classifier,
    "kNearestNeighborsClassifier": eval_knn_classifier,
}

__all__ = ["ClassicExecutor", "UnsupportedCoremlSpec"]
