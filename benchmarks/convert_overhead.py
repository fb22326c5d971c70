"""What interop.convert adds over calling the underlying converter directly, per framework.

Run: ``.venv/bin/python benchmarks/convert_overhead.py [--repeat N]``. Both sides run
alternately in one process after a warm-up of each, so the figures are side by side. The
added time includes every check interop runs before it returns (onnx.checker full check,
an onnxruntime session, one run of original and converted model, the comparison). Goal:
added time <= max(10 % of the direct time, 150 ms).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def torch_pair() -> tuple[Callable[[], Any], Callable[[], Any]]:
    import torch

    import interop

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(16 * 16 * 16, 10),
    ).eval()
    x = torch.randn(8, 3, 16, 16)
    batch = torch.export.Dim("batch")

    def direct() -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            program = torch.onnx.export(
                model, (x,), dynamo=True, dynamic_shapes=({0: batch},), optimize=True,
            )
        return program.model_proto

    return direct, lambda: interop.convert(model, to="onnx", example_inputs=(x,))


def keras_pair() -> tuple[Callable[[], Any], Callable[[], Any]]:
    import keras
    import numpy as np
    import tensorflow as tf
    import tf2onnx

    import interop

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(20, 8), name="x")
    outputs = keras.layers.Dense(4, name="y")(keras.layers.LSTM(32)(inputs))
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).normal(size=(8, 20, 8)).astype("float32")
    spec = (tf.TensorSpec((None, 20, 8), tf.float32, name="x"),)

    def direct() -> Any:
        proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=17)
        return proto

    return direct, lambda: interop.convert(model, to="onnx", example_inputs=x)


def sklearn_pair() -> tuple[Callable[[], Any], Callable[[], Any]]:
    import skl2onnx
    from skl2onnx import to_onnx
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    import interop

    X, y = load_breast_cancer(return_X_y=True)
    X = X.astype("float32")
    model = RandomForestClassifier(n_estimators=50, random_state=0).fit(X, y)

    def direct() -> Any:
        # the same opset interop asks for, so both sides do the same conversion work
        return to_onnx(
            model, X[:8], options={"zipmap": False},
            target_opset=int(skl2onnx.__max_supported_opset__),
        )

    return direct, lambda: interop.convert(model, to="onnx", example_inputs=X[:8])


PAIRS = {"torch": torch_pair, "tensorflow": keras_pair, "sklearn": sklearn_pair}


def _time(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--only", choices=sorted(PAIRS))
    args = parser.parse_args()
    print("median (and min) of alternating runs; added = interop - direct")
    print(f"{'framework':<11} {'direct s':>9} {'interop s':>10} {'added ms':>9} "
          f"{'added %':>8} {'min added ms':>13} {'budget ms':>10}  verdict")
    ok = True
    for name, make in PAIRS.items():
        if args.only and name != args.only:
            continue
        direct, ours = make()
        direct(), ours()  # warm-up: first-call costs (imports, tracing caches) on both sides
        d_times, o_times = [], []
        for _ in range(args.repeat):
            d_times.append(_time(direct))
            o_times.append(_time(ours))
        d, o = statistics.median(d_times), statistics.median(o_times)
        added = o - d
        added_min = min(o_times) - min(d_times)
        budget = max(0.10 * d, 0.150)
        verdict = "ok" if added <= budget else "OVER"
        ok = ok and added <= budget
        print(f"{name:<11} {d:9.3f} {o:10.3f} {added * 1000:9.0f} {100 * added / d:7.1f}% "
              f"{added_min * 1000:13.0f} {budget * 1000:10.0f}  {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
