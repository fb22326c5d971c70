"""What the Dask path costs: ``--jobs 2`` vs ``--scheduler local:2`` on the same cells, and a
projection from the measured per-cell times to a large matrix on a cluster.

    python benchmarks/cluster_overhead.py                       # sklearn family, onnx
    python benchmarks/cluster_overhead.py --family torch_models --target onnx
    python benchmarks/cluster_overhead.py --models 500 --targets 2 --envs 4 --workers 32

Both runs are real ``python -m conformance`` runs (parity only, latency off, so the two
runs time the same work) writing to a temporary directory. The local runner runs one
subprocess per case (every target in it); the cluster runs one Dask task, so one
subprocess, per cell. The projection takes the mean measured time per cell on a worker
(``cell_s``: subprocess start, imports, build, convert, check) and the measured
per-cell cost of the Dask path beyond it, and spreads models x targets x environments
cells over the workers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], out: Path) -> tuple[float, list[dict]]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    cmd = [sys.executable, "-m", "conformance", *args, "--no-latency",
           "--output", str(out), "--matrix", str(out.with_suffix(".md"))]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if not out.exists():
        sys.exit(f"error: {' '.join(cmd)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return wall, json.loads(out.read_text())["cells"]


def _fmt_s(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", action="append", help="default: sklearn_models")
    parser.add_argument("--case", action="append")
    parser.add_argument("--target", action="append", help="default: onnx")
    parser.add_argument("--workers", type=int, default=32, help="projected cluster size")
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--targets", type=int, default=2)
    parser.add_argument("--envs", type=int, default=4)
    args = parser.parse_args(argv)

    select = [f"--family={f}" for f in (args.family or ["sklearn_models"])]
    select += [f"--case={c}" for c in args.case or []]
    select += [f"--target={t}" for t in (args.target or ["onnx"])]
    with tempfile.TemporaryDirectory() as tmp:
        local_wall, local_cells = _run([*select, "--jobs", "2"], Path(tmp) / "local.json")
        dist_wall, dist_cells = _run([*select, "--scheduler", "local:2"], Path(tmp) / "dist.json")

    ran = [c for c in dist_cells if c.get("cell_s") is not None and c["verdict"] != "n/a"]
    n = len(dist_cells)
    cell_s = [c["cell_s"] for c in ran]
    busy = sum(c["cell_s"] for c in dist_cells if c.get("cell_s") is not None)
    mean = statistics.mean(cell_s) if cell_s else 0.0
    # What the Dask path adds per cell on a worker slot, beyond the cell's own time
    # (cluster start and stop, scheduling, transfer, idle slots at the tail).
    overhead = max(0.0, (dist_wall * 2 - busy) / max(n, 1))
    agree = {(c["case"], c["target"]): c["verdict"] for c in local_cells} == \
        {(c["case"], c["target"]): c["verdict"] for c in dist_cells}

    cores = os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"cells: {n} ({len({c['case'] for c in dist_cells})} cases x "
          f"{', '.join(sorted({c['target'] for c in dist_cells}))}), parity only; "
          f"{cores} CPUs, load {load:.1f} at the end")
    print(f"{'runner':26} {'wall':>8} {'per cell':>9}  verdicts")
    print(f"{'--jobs 2 (local runner)':26} {local_wall:7.1f}s {local_wall / n:8.2f}s  "
          f"{_verdicts(local_cells)}")
    print(f"{'--scheduler local:2':26} {dist_wall:7.1f}s {dist_wall / n:8.2f}s  "
          f"{_verdicts(dist_cells)}")
    print(f"distributed / local wall: {dist_wall / local_wall:.2f}x; same verdicts: {agree}")
    by_key = {(c["case"], c["target"]): c for c in dist_cells}
    for cell in local_cells:
        other = by_key.get((cell["case"], cell["target"]))
        if other is None or other["verdict"] != cell["verdict"]:
            print(f"  differs: {cell['case']} -> {cell['target']}: local {cell['verdict']} "
                  f"({cell['reason'][:100]}), distributed "
                  f"{other['verdict'] if other else 'missing'} "
                  f"({(other or {}).get('reason', '')[:100]})")
    print(f"per cell on a worker (cell_s): mean {mean:.2f} s, median "
          f"{statistics.median(cell_s) if cell_s else 0:.2f} s, max {max(cell_s or [0]):.2f} s;"
          f" Dask path beyond that: {overhead:.2f} s per cell per worker slot")
    total = args.models * args.targets * args.envs
    per_slot = mean + overhead
    projected = total * per_slot / args.workers + max(cell_s or [0])
    print(f"projection: {args.models} models x {args.targets} targets x {args.envs} "
          f"environments = {total} cells on {args.workers} workers: "
          f"{total} x ({mean:.2f} + {overhead:.2f}) s / {args.workers} + longest cell "
          f"= {_fmt_s(projected)} (on 2 local slots: {_fmt_s(total * per_slot / 2)})")
    return 0


def _verdicts(cells: list[dict]) -> str:
    counts: dict[str, int] = {}
    for cell in cells:
        counts[cell["verdict"]] = counts.get(cell["verdict"], 0) + 1
    return ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))


if __name__ == "__main__":
    sys.exit(main())
