"""How fast interop-convert answers --help, --version and --list (fresh processes).

    .venv/bin/python benchmarks/cli_startup.py [--runs 10]

Prints best and median wall time, best CPU time, and the heavy modules each command
imported (there should be none). The budget is 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

BUDGET_S = 0.5
HEAVY = ("torch", "tensorflow", "keras", "sklearn", "coremltools", "onnx", "onnxruntime",
         "tf2onnx", "skl2onnx", "pandas", "numpy")
PROBE = (
    "import contextlib, io, json, sys\n"
    "from interop.cli import main\n"
    "with contextlib.redirect_stdout(io.StringIO()):\n"
    "    main({argv!r})\n"
    "print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))))\n"
)


def measure(script: Path, argv: list[str], runs: int) -> dict[str, float]:
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([str(script), *argv], capture_output=True, check=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return {"best": min(walls), "median": statistics.median(walls), "cpu": min(cpus)}


def heavy_modules(argv: list[str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv, heavy=HEAVY)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    script = Path(sys.executable).with_name("interop-convert")
    bare = measure(Path(sys.executable), ["-c", "pass"], args.runs)
    print(f"python -c pass         best {bare['best']:.3f} s  median {bare['median']:.3f} s")
    worst = 0.0
    for argv in (["--help"], ["--version"], ["--list"]):
        timing = measure(script, argv, args.runs)
        worst = max(worst, timing["best"])
        heavy = heavy_modules(argv) if argv != ["--version"] else []
        print(f"interop-convert {argv[0]:<9} best {timing['best']:.3f} s  median "
              f"{timing['median']:.3f} s  cpu {timing['cpu']:.3f} s  heavy modules: "
              f"{', '.join(heavy) or 'none'}")
    print(f"budget {BUDGET_S} s: {'met' if worst < BUDGET_S else 'MISSED'} (best wall times)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
