"""What every evaluator of a classic Core ML spec shares: the feature dict, the error for an
unsupported spec, reading a model's inputs as one feature matrix, naming its outputs, and the
link functions (softmax, logistic, probit) computed in float64.

See classic.py for the precision each model type is computed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from interop.errors import ConversionError

Features = dict[str, np.ndarray]
Evaluator = Callable[[Any, Features], Features]


class UnsupportedCoremlSpec(ConversionError):
    """The classic spec uses a model type, layer or field value this executor does not run."""


def unsupported(what: str) -> UnsupportedCoremlSpec:
    return UnsupportedCoremlSpec(
        f"the Core ML reference executor does not support {what}",
        "run the model on macOS with Apple's runtime, or convert it to supported spec types",
    )


def as_matrix(value: np.ndarray) -> np.ndarray:
    """One row per example: scalars become one column, arrays are flattened per example."""
    value = np.asarray(value)
    width = int(np.prod(value.shape[1:], dtype=np.int64)) if value.ndim > 1 else 1
    return value.reshape(len(value), width)


def model_inputs(spec: Any, features: Features) -> list[np.ndarray]:
    values = []
    for feature in spec.description.input:
        if feature.name not in features:
            raise unsupported(f"a model reading {feature.name!r}, which nothing produces")
        values.append(features[feature.name])
    return values


def input_matrix(spec: Any, features: Features) -> np.ndarray:
    """Core ML concatenates a model's inputs, in declaration order, into one feature vector."""
    parts = [as_matrix(v).astype(np.float64) for v in model_inputs(spec, features)]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)


def output_names(spec: Any) -> list[str]:
    return [o.name for o in spec.description.output]


def class_labels(params: Any) -> np.ndarray:
    which = params.WhichOneof("ClassLabels")
    if which == "int64ClassLabels":
        return np.asarray(list(params.int64ClassLabels.vector), dtype=np.int64)
    if which == "stringClassLabels":
        return np.asarray(list(params.stringClassLabels.vector), dtype=object)
    raise unsupported("a classifier without class labels")


def classifier_outputs(spec: Any, labels: np.ndarray, probabilities: np.ndarray) -> Features:
    """Label and probabilities under the names the model description declares.

    The label is the class with the highest probability; ties go to the first class.
    """
    if probabilities.shape[1] != len(labels):
        raise unsupported(
            f"a classifier with {len(labels)} labels but {probabilities.shape[1]} class scores"
        )
    label = labels[np.argmax(probabilities, axis=1)]
    return name_classifier_outputs(spec, label, probabilities)


def name_classifier_outputs(spec: Any, label: np.ndarray, probabilities: Any) -> Features:
    # The description names the label and probability outputs; neither is guessed from the
    # order of the outputs (an undeclared output then fails as one no model produces).
    desc = spec.description
    label_name = desc.predictedFeatureName
    if not label_name:
        raise unsupported(f"a {spec.WhichOneof('Type')} without predictedFeatureName")
    out: Features = {label_name: label}
    prob_name = desc.predictedProbabilitiesName
    if prob_name and probabilities is not None:
        out[prob_name] = probabilities
    return out


def single_output(spec: Any, value: np.ndarray) -> Features:
    names = output_names(spec)
    if len(names) != 1:
        raise unsupported(f"a {spec.WhichOneof('Type')} with {len(names)} outputs")
    return {names[0]: value}


def softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(z: np.ndarray) -> np.ndarray:
    # Split by sign so that large |z| neither overflows nor loses the small tail.
    out = np.empty_like(z, dtype=np.float64)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def probit(z: np.ndarray) -> np.ndarray:
    from math import erf

    return 0.5 * (1.0 + np.vectorize(erf)(np.asarray(z, dtype=np.float64) / math.sqrt(2.0)))


__all__ = [
    "Evaluator",
    "Features",
    "UnsupportedCoremlSpec",
    "as_matrix",
    "class_labels",
    "classifier_outputs",
    "input_matrix",
    "model_inputs",
    "name_classifier_outputs",
    "output_names",
    "probit",
    "sigmoid",
    "single_output",
    "softmax",
    "unsupported",
]
