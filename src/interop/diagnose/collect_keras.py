"""Keras -> ONNX and Keras -> Core ML: each layer's output against the converted nodes that
carry the layer's name scope (tf2onnx keeps TF op names; coremltools joins them with ``_``)."""

from __future__ import annotations

from typing import Any

import numpy as np

import interop.diagnose.coreml_values as coreml_values
import interop.diagnose.onnx_nodes as onnx_nodes
from interop.diagnose.collect_torch import note_drift
from interop.diagnose.onnx_values import run_with_values
from interop.diagnose.probes import Probe, leaves
from interop.diagnose.scoped import scope_probes


def layer_outputs(
    model: Any, conversion: Any, original_feed: dict[str, Any], notes: list[str]
) -> list[tuple[str, list[np.ndarray]]]:
    """(layer.name, outputs) for every layer but the inputs, from one sub-model run."""
    import keras

    layers = [
        layer for layer in getattr(model, "layers", [])
        if not isinstance(layer, keras.layers.InputLayer)
    ]
    if not layers or not getattr(model, "inputs", None):
        notes.append("only a Keras model with defined inputs can be compared layer by layer")
        return []
    probe = keras.Model(model.inputs, [layer.output for layer in layers])
    names = list(conversion.input_map) or list(original_feed)
    arrays = [np.asarray(original_feed[n]) for n in names]
    values = probe(arrays[0] if len(arrays) == 1 else arrays, training=False)
    if len(layers) == 1:
        values = [values]
    return [(layer.name, leaves(v)) for layer, v in zip(layers, values, strict=True)]


def keras_onnx(
    model: Any, conversion: Any, feed: dict[str, Any], original_feed: dict[str, Any],
    notes: list[str],
) -> list[Probe]:
    layers = layer_outputs(model, conversion, original_feed, notes)
    onnx_model = conversion.model
    seen: dict[str, Any] = {}

    def run(names: list[str]) -> dict[str, Any]:
        seen.update(run_with_values(onnx_model, feed, names))
        return seen

    owner = onnx_nodes.keras_owner([name for name, _ in layers])
    outputs = {o.name for o in onnx_model.graph.output}
    probes = scope_probes(layers, onnx_nodes.nodes_of(onnx_model), owner, outputs, run)
    note_drift(onnx_model, feed, seen, conversion, notes)
    return probes


def keras_coreml(
    model: Any, conversion: Any, feed: dict[str, Any], original_feed: dict[str, Any],
    notes: list[str],
) -> list[Probe]:
    layers = layer_outputs(model, conversion, original_feed, notes)
    executor = coreml_values.executor_of(conversion.model)
    nodes, outputs = coreml_values.program_nodes(executor)
    owner = onnx_nodes.keras_owner([name for name, _ in layers], separator="_")
    notes.append("intermediate values from interop's Core ML reference executor")
    return scope_probes(
        layers, nodes, owner, outputs, coreml_values.run_keeping(executor, feed)
    )
