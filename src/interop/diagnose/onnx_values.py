"""Every intermediate value of an ONNX model, read with graph optimisations off.

Marking a value as a graph output stops onnxruntime from fusing it away, so an optimised
session with extra outputs computes a different graph from the one users run. The values
are therefore read with ``ORT_DISABLE_ALL`` (the graph exactly as converted), and the
final outputs of that run are compared with the ordinary optimised session's: a difference
beyond tolerance is reported in the diagnosis's notes.

A model whose weights stay in a data file (``frameworks.onnx.ExternalOnnx``) is edited as its
weightless graph and run with onnxruntime reading the weights from the model's folder: no
proto with the weights is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np


def node_outputs(model: Any) -> list[tuple[Any, str]]:
    """(node, output name) for every named output of every top-level node, in order."""
    return [(node, out) for node in model.graph.node for out in node.output if out]


def run_with_values(
    model: Any, feed: Mapping[str, Any], names: Iterable[str], *, optimise: bool = False
) -> dict[str, np.ndarray]:
    """The graph outputs plus the values ``names``, from one onnxruntime run."""
    import onnxruntime as ort

    from interop.frameworks.onnx import ExternalOnnx, external_session, weightless_copy

    instrumented = weightless_copy(model)
    present = {o.name for o in instrumented.graph.output}
    extra = [n for n in dict.fromkeys(names) if n not in present]
    for name in extra:
        instrumented.graph.output.add().name = name
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    if not optimise:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if isinstance(model, ExternalOnnx):
        session = external_session(instrumented, model.path.parent, opts)
    else:
        session = ort.InferenceSession(
            instrumented.SerializeToString(), opts, providers=["CPUExecutionProvider"]
        )
    wanted = [o.name for o in session.get_outputs()]
    values = session.run(wanted, {k: np.asarray(v) for k, v in feed.items()})
    return dict(zip(wanted, values, strict=True))


def final_output_drift(
    model: Any, feed: Mapping[str, Any], instrumented: Mapping[str, np.ndarray]
) -> float:
    """Largest abs difference between the instrumented (unoptimised) run's graph outputs and
    an ordinary optimised session's: the price of reading intermediates, made visible."""
    plain = run_with_values(model, feed, (), optimise=True)
    worst = 0.0
    for name, value in plain.items():
        a, b = np.asarray(value), np.asarray(instrumented[name])
        if a.dtype.kind in "biuf" and a.shape == b.shape and a.size:
            worst = max(worst, float(np.max(np.abs(a.astype(np.float64) - b))))
    return worst
