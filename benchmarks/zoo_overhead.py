"""What interop.convert adds over the direct converter call, on zoo models (issue 10).

Run: ``.venv/bin/python benchmarks/zoo_overhead.py [--repeat N] [--only NAME ...]``.
Models: Keras ResNet50, EfficientNetB0 and MobileNetV2 (direct: ``tf2onnx.convert.from_keras``),
Hugging Face BERT and ViT from conformance/cases/zoo_hf.py (direct:
``torch.onnx.export(dynamo=True)`` with the same dynamic batch), and a scikit-learn zoo model
(direct: ``skl2onnx.to_onnx``). Both sides run alternately in one process, after one warm-up
call each; the figure is the median of the rounds. interop's time includes every check it
runs before returning (onnx.checker, an onnxruntime session, one run of the original and the
converted model, the comparison). Goal: added <= max(10 % of direct, 150 ms).
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

Pair = tuple[Callable[[], Any], Callable[[], Any]]


def _case(name: str) -> tuple[Any, Any]:
    from conformance.cases import by_name

    return by_name(name).build()


def keras_pair(case: str) -> Callable[[], Pair]:
    def make() -> Pair:
        import tensorflow as tf
        import tf2onnx

        import interop

        model, x = _case(case)
        spec = (tf.TensorSpec((None, *x.shape[1:]), tf.float32, name="x"),)

        def direct() -> Any:
            proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=17)
            return proto

        return direct, lambda: interop.convert(model, to="onnx", example_inputs=x)

    return make


def hf_pair(case: str) -> Callable[[], Pair]:
    def make() -> Pair:
        import torch

        import interop

        model, example = _case(case)
        batch = torch.export.Dim("batch")
        if isinstance(example, dict):
            args, kwargs = (), dict(example)
            shapes: Any = {k: {0: batch} for k in kwargs}
        else:
            args = tuple(example) if isinstance(example, (tuple, list)) else (example,)
            kwargs, shapes = None, tuple({0: batch} for _ in args)

        def direct() -> Any:
            with contextlib.redirect_stdout(io.StringIO()):
                program = torch.onnx.export(
                    model, args, kwargs=kwargs, dynamo=True, dynamic_shapes=shapes
                )
            return program.model_proto

        return direct, lambda: interop.convert(model, to="onnx", example_inputs=example)

    return make


def sklearn_pair(case: str) -> Callable[[], Pair]:
    def make() -> Pair:
        import skl2onnx
        from skl2onnx import to_onnx

        import interop

        model, X = _case(case)
        sample = X[:8]

        def direct() -> Any:
            return to_onnx(
                model,
                sample,
                options={"zipmap": False},
                target_opset=int(skl2onnx.__max_supported_opset__),
            )

        return direct, lambda: interop.convert(model, to="onnx", example_inputs=sample)

    return make


PAIRS: dict[str, Callable[[], Pair]] = {
    "keras_resnet50": keras_pair("keras_resnet50"),
    "keras_efficientnet_b0": keras_pair("keras_efficientnet_b0"),
    "keras_mobilenet_v2": keras_pair("keras_mobilenet_v2"),
    "hf_bert": hf_pair("hf_bert"),
    "hf_vit": hf_pair("hf_vit"),
    "zoo_sk_random_forest_breast_cancer": sklearn_pair("zoo_sk_random_forest_breast_cancer"),
}


def _time(fn: Callable[[], Any]) -> float | None:
    started = time.perf_counter()
    try:
        fn()
    except Exception as exc:  # a direct call that fails is a result, not a crash
        print(f"    failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
        return None
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", choices=sorted(PAIRS))
    args = parser.parse_args()
    print(f"median of {args.repeat} alternating rounds after a warm-up; added = interop - direct")
    header = f"{'model':<36} {'direct s':>9} {'interop s':>10} {'added ms':>9} {'ratio':>6}"
    print(f"{header} {'budget ms':>10}  verdict", flush=True)
    ok = True
    for name, make in PAIRS.items():
        if args.only and name not in args.only:
            continue
        direct, ours = make()
        if _time(direct) is None:
            print(f"{name:<36} direct call fails; nothing to compare", flush=True)
            continue
        _time(ours)
        d_times: list[float] = []
        o_times: list[float] = []
        for _ in range(args.repeat):
            d, o = _time(direct), _time(ours)
            if d is not None and o is not None:
                d_times.append(d)
                o_times.append(o)
        if not d_times:
            print(f"{name:<36} interop fails", flush=True)
            ok = False
            continue
        d, o = statistics.median(d_times), statistics.median(o_times)
        added = o - d
        budget = max(0.10 * d, 0.150)
        verdict = "ok" if added <= budget else "OVER"
        ok = ok and added <= budget
        print(
            f"{name:<36} {d:9.2f} {o:10.2f} {added * 1000:9.0f} {o / d:6.2f} "
            f"{budget * 1000:10.0f}  {verdict}",
            flush=True,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
