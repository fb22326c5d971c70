"""MLPClassifier and MLPRegressor as Core ML neural-network specs (computed in float32)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interop._lazy import LazyModule
from interop.converters.sklearn_coreml.spec import Builder, Feature, Head, unsupported

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

Layer = tuple["np.ndarray", "np.ndarray", "str | None"]  # weights (in, out), bias, activation

ACTIVATIONS = {"relu": "ReLU", "tanh": "tanh", "logistic": "sigmoid", "identity": None}


def mlp_classifier(b: Builder, m: Any, f: Feature, classes: np.ndarray) -> Head:
    spec = b.model_reading(f)
    _mlp(b, m, spec, classes=len(classes))
    return b.classifier_head(spec, classes)


def mlp_regressor(b: Builder, m: Any, f: Feature) -> Head:
    spec, width = b.regressor_model(m, f)
    _mlp(b, m, spec, classes=0)
    return Head("regressor", width)


def _mlp(b: Builder, m: Any, spec: Any, classes: int) -> None:
    if m.activation not in ACTIVATIONS:
        raise unsupported(m, f"activation={m.activation!r}")
    hidden = ACTIVATIONS[m.activation]
    layers: list[Layer] = []
    n = len(m.coefs_)
    for i, (w, bias) in enumerate(zip(m.coefs_, m.intercepts_, strict=True)):
        layers.append((np.asarray(w, np.float64), np.asarray(bias, np.float64),
                       hidden if i < n - 1 else None))
    out = m.out_activation_
    if classes:
        if out == "logistic" and classes == 2:
            # softmax([0, z]) equals [1 - sigmoid(z), sigmoid(z)] exactly.
            w, bias, _ = layers[-1]
            layers[-1] = (np.concatenate([np.zeros_like(w), w], axis=1),
                          np.concatenate([np.zeros_like(bias), bias]), None)
        elif out != "softmax":
            raise unsupported(m, f"output activation {out!r} (multi-label)")
        network(b, spec, layers, "softmax", classifier=True)
    else:
        if out != "identity":
            raise unsupported(m, f"output activation {out!r}")
        network(b, spec, layers, None, classifier=False)


def network(b: Builder, spec: Any, layers: list[Layer], final: str | None,
            classifier: bool) -> None:
    """Dense layers (weights stored (in, out) as scikit-learn does) and activations."""
    b.float32 = True
    params = spec.neuralNetworkClassifier if classifier else spec.neuralNetworkRegressor
    blob = spec.description.input[0].name
    for i, (w, bias, act) in enumerate(layers):
        last = i == len(layers) - 1
        out = ("predictions" if not classifier and last and act is None
               else b.fresh(f"dense_{i}"))
        layer = params.layers.add()
        layer.name = f"dense_{i}"
        layer.input.append(blob)
        layer.output.append(out)
        ip = layer.innerProduct
        ip.inputChannels, ip.outputChannels = int(w.shape[0]), int(w.shape[1])
        ip.hasBias = True
        ip.weights.floatValue.extend(w.T.reshape(-1).astype(np.float32).tolist())
        ip.bias.floatValue.extend(bias.astype(np.float32).tolist())
        blob = out
        if act is not None:
            layer = params.layers.add()
            layer.name = f"act_{i}"
            layer.input.append(blob)
            blob = "predictions" if not classifier and last else b.fresh(f"act_{i}")
            layer.output.append(blob)
            getattr(layer.activation, act).SetInParent()
    if final == "softmax":
        layer = params.layers.add()
        layer.name = "softmax"
        layer.input.append(blob)
        layer.output.append("probabilities")
        layer.softmax.SetInParent()
        params.labelProbabilityLayerName = "probabilities"
