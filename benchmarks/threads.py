"""8 conversions (convert + check) on 2 threads vs one after another, side by side (issue 16).

Run: ``.venv/bin/python benchmarks/threads.py [--rounds N] [--threads T]``. The same eight
jobs (three torch, one Keras, four scikit-learn models; ONNX and Core ML targets) run
serially and on a thread pool in alternating rounds after a warm-up round of each (the
first torch export in a process pays about 7 s once). Reports the median wall time of each,
and the time each library lock was held and waited for, per threaded round.

Goal: threaded <= serial (the locks cost nothing), and below serial by roughly the work
outside the torch/TensorFlow/coremltools steps, which overlaps (checks, onnxruntime,
the reference executor, scikit-learn conversions while torch exports).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

JOBS = (
    ("torch_mlp", "onnx"),
    ("torch_cnn", "onnx"),
    ("torch_norm", "coreml"),
    ("sklearn_tree", "onnx"),
    ("keras_dense", "onnx"),
    ("sklearn_logreg", "coreml"),
    ("sklearn_forest", "onnx"),
    ("sklearn_gbr", "coreml"),
)


def job(models: dict[str, Any], name: str, target: str) -> float:
    import interop

    model, example = models[name]
    conv = interop.convert(model, to=target, example_inputs=example)
    report = interop.check(model, conv, latency=False)
    if not report.passed:
        raise SystemExit(f"{name} -> {target} failed its check")
    errors = [
        p["max_abs_error"] for p in report.to_dict()["parity"] if p.get("max_abs_error") is not None
    ]
    return max(errors) if errors else 0.0


def serial(models: dict[str, Any]) -> float:
    start = time.perf_counter()
    for name, target in JOBS:
        job(models, name, target)
    return time.perf_counter() - start


def threaded(models: dict[str, Any], workers: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(job, models, n, t) for n, t in JOBS]:
            future.result()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from thread_models import build

    from interop.frameworks import locks

    models = {name: build(name) for name, _ in JOBS}
    warm = serial(models), threaded(models, args.threads)
    print(f"warm-up: serial {warm[0]:.1f} s, {args.threads} threads {warm[1]:.1f} s")
    serial_s: list[float] = []
    threaded_s: list[float] = []
    holds: list[dict[str, locks.LockStats]] = []
    for _ in range(args.rounds):
        serial_s.append(serial(models))
        locks.reset_stats()
        threaded_s.append(threaded(models, args.threads))
        holds.append(locks.stats())
    s, t = statistics.median(serial_s), statistics.median(threaded_s)
    print(f"cpus: {os.cpu_count()}  load average: {os.getloadavg()[0]:.1f}  rounds: {args.rounds}")
    print(f"serial     : median {s:6.2f} s   rounds {', '.join(f'{x:.2f}' for x in serial_s)}")
    print(
        f"{args.threads} threads  : median {t:6.2f} s   rounds "
        f"{', '.join(f'{x:.2f}' for x in threaded_s)}"
    )
    print(f"threaded / serial: {t / s:.2f}")
    print("locks in a threaded round (median): held s / waited s / acquisitions")
    for name in locks.ORDER:
        held = statistics.median(h[name].hold_s for h in holds)
        waited = statistics.median(h[name].wait_s for h in holds)
        count = statistics.median(h[name].acquisitions for h in holds)
        print(f"  {name:12s} {held:6.2f} / {waited:6.2f} / {count:.0f}")
    torch_held = statistics.median(h["torch"].hold_s for h in holds)
    print(
        f"outside the torch lock: serial {s - torch_held:.2f} s of work ran in "
        f"{t - torch_held:.2f} s of threaded wall time beside the torch steps"
    )
    if t > s * 1.05:
        raise SystemExit("threaded is slower than serial")


if __name__ == "__main__":
    main()
