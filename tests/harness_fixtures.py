"""Hand-built ONNX models and misbehaving runtimes for the harness tests.

The runtimes live in an importable module (not in a test function) so that a spawned
subprocess can import them by their ``"tests.harness_fixtures:Class"`` reference.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from interop.runtimes.onnxruntime import OnnxRuntime
from interop.types import Conversion, TensorSpec, Tolerance

IN_FEATURES, HIDDEN, OUT_FEATURES = 6, 16, 3


def mlp_weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "w1": rng.standard_normal((IN_FEATURES, HIDDEN)).astype(np.float32),
        "b1": rng.standard_normal(HIDDEN).astype(np.float32),
        "w2": rng.standard_normal((HIDDEN, OUT_FEATURES)).astype(np.float32),
        "b2": rng.standard_normal(OUT_FEATURES).astype(np.float32),
    }


def mlp_onnx(
    weights: dict[str, np.ndarray],
    *,
    output_name: str = "y",
    nan_output: bool = False,
    wrong_shape: bool = False,
    extra_output: str | None = None,
) -> Any:
    """x (batch, 6) -> Relu(x W1 + b1) W2 + b2 -> (batch, 3), built with onnx.helper.

    ``nan_output`` multiplies the result by NaN; ``wrong_shape`` drops the last column;
    ``extra_output`` also exposes the hidden activation under that name.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(v, k) for k, v in weights.items()]
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h"]),
        helper.make_node("MatMul", ["h", "w2"], ["o0"]),
        helper.make_node("Add", ["o0", "b2"], ["o1"]),
    ]
    last = "o1"
    out_dim = OUT_FEATURES
    if nan_output:
        inits.append(numpy_helper.from_array(np.array([np.nan], np.float32), "nan"))
        nodes.append(helper.make_node("Mul", [last, "nan"], ["o2"]))
        last = "o2"
    if wrong_shape:
        inits += [
            numpy_helper.from_array(np.array([0], np.int64), "starts"),
            numpy_helper.from_array(np.array([OUT_FEATURES - 1], np.int64), "ends"),
            numpy_helper.from_array(np.array([1], np.int64), "axes"),
        ]
        nodes.append(helper.make_node("Slice", [last, "starts", "ends", "axes"], ["o3"]))
        last, out_dim = "o3", OUT_FEATURES - 1
    nodes.append(helper.make_node("Identity", [last], [output_name]))
    outputs = [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", out_dim])]
    if extra_output:
        nodes.append(helper.make_node("Identity", ["h"], [extra_output]))
        outputs.append(
            helper.make_tensor_value_info(extra_output, TensorProto.FLOAT, ["batch", HIDDEN])
        )
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", IN_FEATURES])],
        outputs,
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


def _no_save(model: Any, path: Any) -> None:
    from interop.frameworks.onnx import save_onnx

    save_onnx(model, path)


def onnx_conversion(converted: Any, *, runtime: str = "onnx", outputs=("y",)) -> Conversion:
    """A Conversion whose original is itself an ONNX model (source "onnx").

    This pits two real onnxruntime sessions against each other, so a fault planted in the
    converted graph is the only difference the harness can find.
    """
    from interop.frameworks.onnx import value_specs

    x = np.random.default_rng(1).standard_normal((8, IN_FEATURES)).astype(np.float32)
    return Conversion(
        source="onnx",
        target="onnx",
        converter="test.onnx",
        model=converted,
        input_specs=(TensorSpec("x", ("batch", IN_FEATURES), "float32"),),
        output_specs=value_specs(converted.graph.output),
        input_map={"x": "x"},
        output_map={name: name for name in outputs},
        saver=_no_save,
        suffix=".onnx",
        default_tolerance=Tolerance(atol=1e-5, rtol=1e-5),
        example_feed={"x": x},
        runtime=runtime,
    )


class CrashRuntime(OnnxRuntime):
    """Loads fine, then aborts the process on the first run (as a segfaulting kernel would)."""

    name = "crash-test"

    def run(self, feed: dict[str, Any]) -> dict[str, np.ndarray]:
        os.abort()


class HangRuntime(OnnxRuntime):
    """Never returns from run()."""

    name = "hang-test"

    def run(self, feed: dict[str, Any]) -> dict[str, np.ndarray]:
        while True:
            time.sleep(0.05)


class GreedyRuntime(OnnxRuntime):
    """Allocates 64 GiB on the first run: out of memory under any sane cap."""

    name = "greedy-test"

    def run(self, feed: dict[str, Any]) -> dict[str, np.ndarray]:
        hog = np.ones((64, 1024, 1024, 1024), dtype=np.uint8)
        return {"y": hog[:1]}


class ReferenceOnlyRuntime(OnnxRuntime):
    """An executor whose speed says nothing about the real target (like coreml-reference)."""

    name = "reference-test"
    measures_latency = False


def build_aborting_case() -> tuple[Any, Any]:
    """A conformance case whose build kills its process, as a native crash would."""
    os.abort()
