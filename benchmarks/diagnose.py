"""interop.diagnose on a 100-layer model against one check at one batch size.

    .venv/bin/python benchmarks/diagnose.py [--layers 100] [--width 64] [--rounds 3]

A torch MLP of ``--layers`` Linear/ReLU modules (so twice as many compared layers) is
converted to ONNX once. Timed, best of ``--rounds``: ``interop.check(..., batch_sizes=(1,),
latency=False)`` and ``interop.diagnose(...)`` on the correct conversion (no shrinking runs
there), then ``diagnose`` on a conversion with one planted fault (shrinking included).
Goal (issue 11): a diagnosis takes at most 10x the check.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np


def build(layers: int, width: int):
    import torch

    torch.manual_seed(0)
    modules = []
    for _ in range(layers):
        modules += [torch.nn.Linear(width, width), torch.nn.ReLU()]
    return torch.nn.Sequential(*modules).eval(), (torch.randn(1, width),)


def best_of(rounds: int, fn) -> tuple[float, object]:
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=100)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from onnx import numpy_helper

    import interop

    model, example = build(args.layers, args.width)
    conversion = interop.convert(model, to="onnx", example_inputs=example)
    bad = copy.deepcopy(conversion)
    target = bad.model.graph.initializer[len(bad.model.graph.initializer) // 2]
    target.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(target) * np.float32(1.1),
                                            target.name))

    check_s, report = best_of(args.rounds, lambda: interop.check(
        model, conversion, batch_sizes=(1,), latency=False))
    diag_s, diag = best_of(args.rounds, lambda: interop.diagnose(model, conversion))
    bad_s, bad_diag = best_of(args.rounds, lambda: interop.diagnose(model, bad))
    print(f"model: {args.layers} x (Linear {args.width} + ReLU), torch -> onnx, batch 1, "
          f"best of {args.rounds}")
    print(f"{'':34}{'seconds':>10}{'x check':>10}")
    print(f"{'check (batch 1, no latency)':34}{check_s:10.3f}{1.0:10.2f}   passed={report.passed}")
    print(f"{'diagnose, correct conversion':34}{diag_s:10.3f}{diag_s / check_s:10.2f}   "
          f"{len(diag.layers)} layers compared, divergence={diag.first_divergence}")
    first = bad_diag.first_divergence.layer if bad_diag.first_divergence else None
    print(f"{'diagnose, planted fault + shrink':34}{bad_s:10.3f}{bad_s / check_s:10.2f}   "
          f"first divergence={first}"
          f", shrink tries={bad_diag.minimal_input_info.get('tries')}")
    print(f"goal <= 10x: {'met' if diag_s / check_s <= 10 else 'NOT met'} "
          f"(correct), {'met' if bad_s / check_s <= 10 else 'NOT met'} (planted fault)")


if __name__ == "__main__":
    main()
