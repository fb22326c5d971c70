"""torch -> ONNX and torch -> Core ML: module hooks against the converted model's values.

ONNX nodes carry their module path in the dynamo exporter's ``pkg.torch.onnx.name_scopes``
metadata. Core ML ops are named after the torch.export graph's nodes, whose
``nn_module_stack`` gives the module path; the program is re-exported here to read it.
"""

from __future__ import annotations

from typing import Any

import interop.diagnose.coreml_values as coreml_values
import interop.diagnose.onnx_nodes as onnx_nodes
from interop.diagnose.onnx_values import final_output_drift, run_with_values
from interop.diagnose.probes import Probe
from interop.diagnose.scoped import scope_probes
from interop.diagnose.torch_layers import module_outputs, torch_args


def torch_onnx(
    model: Any, conversion: Any, feed: dict[str, Any], original_feed: dict[str, Any],
    notes: list[str],
) -> list[Probe]:
    onnx_model = conversion.model
    layers = module_outputs(model, torch_args(model, conversion, original_feed), notes)
    nodes = onnx_nodes.nodes_of(onnx_model)
    owner = onnx_nodes.torch_owner(onnx_model)
    if not any(owner(n) for n in nodes):
        notes.append(
            "the ONNX nodes carry no torch module paths (pkg.torch.onnx.name_scopes): "
            "export with torch.onnx.export(..., dynamo=True) to compare layer by layer"
        )
    seen: dict[str, Any] = {}

    def run(names: list[str]) -> dict[str, Any]:
        seen.update(run_with_values(onnx_model, feed, names))
        return seen

    outputs = {o.name for o in onnx_model.graph.output}
    probes = scope_probes(layers, nodes, owner, outputs, run, nested=True)
    note_drift(onnx_model, feed, seen, conversion, notes)
    return probes


def note_drift(
    onnx_model: Any, feed: dict[str, Any], seen: dict[str, Any], conversion: Any,
    notes: list[str],
) -> None:
    if not seen:
        return
    drift = final_output_drift(onnx_model, feed, seen)
    atol = conversion.default_tolerance.atol
    verdict = "within" if drift <= atol else "BEYOND"
    notes.append(
        f"intermediate values read with onnxruntime graph optimisations off; its final "
        f"outputs differ from the optimised session's by {drift:.3g} ({verdict} atol {atol:g})"
    )


def fx_module_names(model: Any, args: list[Any]) -> dict[str, str]:
    """torch.export node name -> module path, as the Core ML converter's export names them
    (before and after decomposition: coremltools decomposes some ops and keeps the names)."""
    import torch

    program = model if isinstance(model, torch.export.ExportedProgram) else None
    if program is None:
        program = torch.export.export(model, tuple(args))
    owners: dict[str, str] = {}
    for graph_program in (program, program.run_decompositions()):
        for node in graph_program.graph.nodes:
            stack = node.meta.get("nn_module_stack") or {}
            if stack and node.name not in owners:
                path = str(list(stack.values())[-1][0])
                if path:
                    owners[node.name] = path
    return owners


def torch_coreml(
    model: Any, conversion: Any, feed: dict[str, Any], original_feed: dict[str, Any],
    notes: list[str],
) -> list[Probe]:
    args = torch_args(model, conversion, original_feed)
    layers = module_outputs(model, args, notes)
    executor = coreml_values.executor_of(conversion.model)
    nodes, outputs = coreml_values.program_nodes(executor)
    owner = coreml_values.prefix_owner(fx_module_names(model, args))
    notes.append("intermediate values from interop's Core ML reference executor")
    return scope_probes(
        layers, nodes, owner, outputs, coreml_values.run_keeping(executor, feed)
    )
