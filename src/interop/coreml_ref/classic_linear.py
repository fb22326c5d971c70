"""Generalised linear models (GLMRegressor / GLMClassifier), evaluated in float64."""

from __future__ import annotations

from typing import Any

import numpy as np

from interop.coreml_ref.classic_common import (
    Features,
    class_labels,
    classifier_outputs,
    input_matrix,
    probit,
    sigmoid,
    single_output,
    unsupported,
)

# Enum values of the Core ML protos, spelled out so this module need not import coremltools.
_GLMC_LOGIT, _GLMC_PROBIT = 0, 1
_GLMC_REFERENCE_CLASS, _GLMC_ONE_VS_REST = 0, 1
_GLMR_NONE, _GLMR_LOGIT, _GLMR_PROBIT = 0, 1, 2


def _glm_parameters(params: Any, width: int) -> tuple[np.ndarray, np.ndarray]:
    weights = np.asarray([list(w.value) for w in params.weights], dtype=np.float64)
    if weights.ndim != 2 or weights.shape[1] != width:
        raise unsupported(f"GLM weights of shape {weights.shape} for a {width}-feature input")
    offset = np.asarray(list(params.offset), dtype=np.float64)
    if offset.size == 0:
        offset = np.zeros(len(weights))
    if offset.shape != (len(weights),):
        raise unsupported(f"{offset.size} GLM offsets for {len(weights)} weight vectors")
    return weights, offset


def eval_glm_regressor(spec: Any, features: Features) -> Features:
    params = spec.glmRegressor
    x = input_matrix(spec, features)
    weights, offset = _glm_parameters(params, x.shape[1])
    z = x @ weights.T + offset
    transform = int(params.postEvaluationTransform)
    if transform == _GLMR_LOGIT:
        z = sigmoid(z)
    elif transform == _GLMR_PROBIT:
        z = probit(z)
    elif transform != _GLMR_NONE:
        raise unsupported(f"GLMRegressor postEvaluationTransform {transform}")
    return single_output(spec, z)


def eval_glm_classifier(spec: Any, features: Features) -> Features:
    params = spec.glmClassifier
    labels = class_labels(params)
    x = input_matrix(spec, features)
    weights, offset = _glm_parameters(params, x.shape[1])
    transform = int(params.postEvaluationTransform)
    link = {_GLMC_LOGIT: sigmoid, _GLMC_PROBIT: probit}.get(transform)
    if link is None:
        raise unsupported(f"GLMClassifier postEvaluationTransform {transform}")
    scores = link(x @ weights.T + offset)
    encoding = int(params.classEncoding)
    if encoding == _GLMC_REFERENCE_CLASS:
        # The first class is the reference: one weight vector gives the second class's odds.
        if len(weights) != 1 or len(labels) != 2:
            raise unsupported(
                f"GLMClassifier ReferenceClass encoding with {len(weights)} weight vectors and "
                f"{len(labels)} classes (only binary is defined)"
            )
        probs = np.concatenate([1.0 - scores, scores], axis=1)
    elif encoding == _GLMC_ONE_VS_REST:
        if len(weights) != len(labels):
            raise unsupported(
                f"GLMClassifier OneVsRest with {len(weights)} weight vectors for "
                f"{len(labels)} classes"
            )
        # Each class's score is independent; they are normalised to sum to one.
        probs = scores / scores.sum(axis=1, keepdims=True)
    else:
        raise unsupported(f"GLMClassifier classEncoding {encoding}")
    return classifier_outputs(spec, labels, probs)


__all__ = ["eval_glm_classifier", "eval_glm_regressor"]
