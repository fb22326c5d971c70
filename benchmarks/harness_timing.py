"""Is the harness's latency honest? Its p50 against a plain timeit-style loop, same session.

An ONNX MLP (256 -> 1024 -> 1024 -> 10, batch 8, 1 thread) runs in one onnxruntime session.
Three figures per round; many short rounds in rotating order, so that machine noise (a
shared 2-core box) hits all of them alike, and the ratio is the median of per-round ratios:

* plain:    ``perf_counter`` around ``session.run`` in a bare loop;
* harness:  ``interop.harness.timing.measure`` around the runtime's ``run`` on that session;
* check:    ``interop.check``'s converted-side p50 (its own session, built the same way).

Prints each median p50 and the ratios to plain; exits 1 when a ratio is outside 0.9..1.1.
Run: ``.venv/bin/python benchmarks/harness_timing.py``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ROUNDS = 21
RUNS = 100
LIMIT = 0.10


def build_model():
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    dims = (256, 1024, 1024, 10)
    inits, nodes, last = [], [], "x"
    for i, (din, dout) in enumerate(zip(dims, dims[1:], strict=False)):
        inits.append(numpy_helper.from_array(
            (rng.standard_normal((din, dout)) / np.sqrt(din)).astype(np.float32), f"w{i}"))
        inits.append(numpy_helper.from_array(np.zeros(dout, np.float32), f"b{i}"))
        nodes.append(helper.make_node("Gemm", [last, f"w{i}", f"b{i}"], [f"g{i}"]))
        last = f"g{i}"
        if i < len(dims) - 2:
            nodes.append(helper.make_node("Relu", [last], [f"r{i}"]))
            last = f"r{i}"
    nodes.append(helper.make_node("Identity", [last], ["y"]))
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", dims[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", dims[-1]])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


def plain_p50(session, feed, runs: int) -> float:
    for _ in range(3):
        session.run(None, feed)
    times = []
    clock = time.perf_counter
    for _ in range(runs):
        start = clock()
        session.run(None, feed)
        times.append((clock() - start) * 1e3)
    return statistics.median(times)


def main() -> int:
    import interop
    from interop.harness.timing import TimingPlan, measure
    from interop.runtimes.onnxruntime import OnnxRuntime
    from interop.types import Conversion, TensorSpec

    model = build_model()
    feed = {"x": np.random.default_rng(1).standard_normal((8, 256)).astype(np.float32)}
    conversion = Conversion(
        source="onnx", target="onnx", converter="bench.onnx", model=model,
        input_specs=(TensorSpec("x", ("batch", 256), "float32"),),
        output_specs=(TensorSpec("y", ("batch", 10), "float32"),),
        input_map={"x": "x"}, output_map={"y": "y"}, saver=lambda m, p: None, suffix=".onnx",
        example_feed=feed,
    )
    plan = TimingPlan(warmup=3, repeat=RUNS, budget_s=60)
    figures: dict[str, list[float]] = {"plain": [], "harness": [], "check": []}
    with OnnxRuntime(model, threads=1) as rt:
        steps = {
            "plain": lambda: plain_p50(rt.session, feed, RUNS),
            "harness": lambda: measure(lambda: rt.run(feed), plan).p50_ms,
            "check": lambda: interop.check(
                model, conversion, inputs=feed, repeat=RUNS, time_budget_s=60, threads=1
            ).latency[0]["converted_p50_ms"],
        }
        order = list(steps)
        for i in range(ROUNDS):
            for name in order[i % 3:] + order[: i % 3]:
                figures[name].append(steps[name]())
    plain = figures["plain"]
    p_plain = statistics.median(plain)
    print(f"model: ONNX MLP 256-1024-1024-10, batch 8, 1 thread; {ROUNDS} rounds x {RUNS} runs")
    print(f"plain loop around session.run   p50 {p_plain:.4f} ms")
    ratios = {}
    for name, label in (("harness", "harness measure(runtime.run)"),
                        ("check", "interop.check converted side")):
        ratios[name] = statistics.median(a / b for a, b in zip(figures[name], plain, strict=True))
        print(f"{label:32}p50 {statistics.median(figures[name]):.4f} ms  "
              f"ratio {ratios[name]:.3f}")
    worst = max(abs(r - 1) for r in ratios.values())
    ok = worst <= LIMIT
    print(f"{'OK' if ok else 'FAIL'}: within {LIMIT:.0%} of the plain loop (worst {worst:.1%})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
