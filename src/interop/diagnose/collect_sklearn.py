"""scikit-learn pipelines to ONNX, step by step.

The original side transforms through each step. On the ONNX side, the nodes each step
computes are found by converting the pipeline's prefixes (skl2onnx names nodes the same
way in a prefix and in the whole pipeline): step k owns the nodes that ``steps[:k+1]``
adds to ``steps[:k]``. Its value is read from the converted model under diagnosis itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import interop.diagnose.onnx_nodes as onnx_nodes
from interop import registry
from interop.diagnose.collect_torch import note_drift
from interop.diagnose.onnx_values import run_with_values
from interop.diagnose.probes import Probe, leaves
from interop.diagnose.scoped import Node, scope_probes

FINAL_PREFERENCE = ("probabilities", "predictions", "transform", "label")
METHODS = {  # the harness's output names and the methods that answer them
    "label": "predict",
    "predictions": "predict",
    "probabilities": "predict_proba",
    "transform": "transform",
}


def _data(conversion: Any, original_feed: dict[str, Any]) -> Any:
    if len(original_feed) == 1:
        return np.asarray(next(iter(original_feed.values())))
    import pandas as pd

    return pd.DataFrame({k: np.asarray(v).reshape(-1) for k, v in original_feed.items()})


def _dense(value: Any) -> np.ndarray:
    return np.asarray(value.toarray() if hasattr(value, "toarray") else value)


def _final_output(model: Any, data: Any, conversion: Any) -> tuple[str, np.ndarray] | None:
    """The pipeline's own output the final step is compared on (probabilities first)."""
    for name in FINAL_PREFERENCE:
        method = METHODS.get(name)
        if name in conversion.output_map and method and hasattr(model, method):
            return name, _dense(getattr(model, method)(data))
    return None


def sklearn_onnx(
    model: Any, conversion: Any, feed: dict[str, Any], original_feed: dict[str, Any],
    notes: list[str],
) -> list[Probe]:
    steps = getattr(model, "steps", None)
    if not steps:
        notes.append("not a Pipeline: only its outputs are compared")
        return []
    data = _data(conversion, original_feed)
    layers: list[tuple[str, list[np.ndarray]]] = []
    transformed = data
    for name, step in steps[:-1]:
        transformed = step.transform(transformed)
        layers.append((name, leaves(_dense(transformed))))
    final = _final_output(model, data, conversion)
    if final is not None:
        layers.append((steps[-1][0], [final[1]]))
    owners = _step_owners(model, data, notes)
    onnx_model = conversion.model
    last = steps[-1][0]

    def owner(node: Node) -> str | None:
        return owners.get(node.name, last)

    seen: dict[str, Any] = {}

    def run(names: list[str]) -> dict[str, Any]:
        seen.update(run_with_values(onnx_model, feed, names))
        return seen

    outputs = {o.name for o in onnx_model.graph.output}
    probes = scope_probes(layers, onnx_nodes.nodes_of(onnx_model), owner, outputs, run)
    if final is not None and probes and probes[-1].layer == last:
        produced = seen.get(conversion.output_map[final[0]])
        if produced is not None:  # the final step answers through its mapped output
            probes[-1].converted = np.asarray(produced, dtype=np.float64).reshape(
                probes[-1].original.shape
            )
            probes[-1].value = conversion.output_map[final[0]]
    note_drift(onnx_model, feed, seen, conversion, notes)
    return probes


def _step_owners(model: Any, data: Any, notes: list[str]) -> dict[str, str]:
    """ONNX node name -> pipeline step, by converting each prefix of the pipeline."""
    converter = registry.resolve("sklearn", "onnx")
    sample = data[:4] if not hasattr(data, "iloc") else data.iloc[:4]
    owners: dict[str, str] = {}
    known: set[str] = set()
    for k, (name, _) in enumerate(model.steps[:-1], start=1):
        try:
            prefix = converter.convert(model[:k], sample)
        except Exception as exc:  # a prefix skl2onnx cannot convert alone
            notes.append(f"step {name!r}: its prefix could not be converted ({exc})"[:200])
            break
        for node in prefix.model.graph.node:
            if node.name not in known:
                owners[node.name] = name
                known.add(node.name)
    return owners
