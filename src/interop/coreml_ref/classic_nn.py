"""Classic neural networks (NeuralNetwork, -Regressor, -Classifier) of innerProduct,
activation and softmax layers, computed in float32 like Core ML's CPU path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from interop.coreml_ref.classic_common import (
    Features,
    as_matrix,
    class_labels,
    classifier_outputs,
    output_names,
    softmax,
    unsupported,
)


def _weights(params: Any, count: int, what: str) -> np.ndarray:
    if len(params.floatValue):
        values = np.asarray(list(params.floatValue), dtype=np.float32)
    elif params.float16Value:
        values = np.frombuffer(params.float16Value, dtype=np.float16).astype(np.float32)
    else:
        raise unsupported(f"{what} stored other than as float32 or float16 values")
    if values.size != count:
        raise unsupported(f"{what} with {values.size} values; expected {count}")
    return values


def _layer_inner_product(layer: Any, x: np.ndarray) -> np.ndarray:
    p = layer.innerProduct
    n_in, n_out = int(p.inputChannels), int(p.outputChannels)
    if x.shape[1] != n_in:
        raise unsupported(
            f"innerProduct layer {layer.name!r} with {n_in} input channels fed {x.shape[1]}"
        )
    w = _weights(p.weights, n_in * n_out, f"innerProduct {layer.name!r} weights")
    y = x @ w.reshape(n_out, n_in).T
    if p.hasBias:
        y = y + _weights(p.bias, n_out, f"innerProduct {layer.name!r} bias")
    return y


def _layer_activation(layer: Any, x: np.ndarray) -> np.ndarray:
    act = layer.activation
    which = act.WhichOneof("NonlinearityType")
    one = np.float32(1.0)
    if which == "ReLU":
        return np.maximum(x, np.float32(0.0))
    if which == "tanh":
        return np.tanh(x)
    if which == "sigmoid":
        return one / (one + np.exp(-x))
    if which == "linear":
        return np.float32(act.linear.alpha) * x + np.float32(act.linear.beta)
    if which == "leakyReLU":
        return np.where(x >= 0, x, np.float32(act.leakyReLU.alpha) * x)
    raise unsupported(f"activation {which!r} (layer {layer.name!r})")


def _layer_softmax(layer: Any, x: np.ndarray) -> np.ndarray:
    return softmax(x)


_LAYERS: dict[str, Callable[[Any, np.ndarray], np.ndarray]] = {
    "innerProduct": _layer_inner_product,
    "activation": _layer_activation,
    "softmax": _layer_softmax,
}


def _run_layers(spec: Any, params: Any, features: Features) -> Features:
    if len(params.preprocessing):
        raise unsupported("neural-network image preprocessing")
    blobs: Features = {}
    for f in spec.description.input:
        blobs[f.name] = as_matrix(features[f.name]).astype(np.float32)
    for layer in params.layers:
        kind = layer.WhichOneof("layer")
        fn = _LAYERS.get(kind)
        if fn is None:
            raise unsupported(f"neural-network layer type {kind!r} (layer {layer.name!r})")
        if len(layer.input) != 1 or len(layer.output) != 1:
            raise unsupported(
                f"layer {layer.name!r} with {len(layer.input)} inputs and "
                f"{len(layer.output)} outputs"
            )
        if layer.input[0] not in blobs:
            raise unsupported(
                f"layer {layer.name!r} reading {layer.input[0]!r}, which nothing produces"
            )
        blobs[layer.output[0]] = fn(layer, blobs[layer.input[0]]).astype(np.float32)
    return blobs


def eval_nn_regressor(spec: Any, features: Features) -> Features:
    kind = spec.WhichOneof("Type")
    blobs = _run_layers(spec, getattr(spec, kind), features)
    out = {}
    for name in output_names(spec):
        if name not in blobs:
            raise unsupported(f"a neural network whose output {name!r} no layer produces")
        out[name] = blobs[name]
    return out


def eval_nn_classifier(spec: Any, features: Features) -> Features:
    params = spec.neuralNetworkClassifier
    labels = class_labels(params)
    blobs = _run_layers(spec, params, features)
    source = params.labelProbabilityLayerName or (
        params.layers[-1].output[0] if len(params.layers) else ""
    )
    if source not in blobs:
        raise unsupported(f"labelProbabilityLayerName {source!r}, which no layer produces")
    return classifier_outputs(spec, labels, blobs[source].astype(np.float64))


__all__ = ["eval_nn_classifier", "eval_nn_regressor"]
