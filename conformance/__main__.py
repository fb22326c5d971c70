"""``python -m conformance``: run the suite, write results/latest.json and the support matrix."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from anywhere: conformance/ sits beside src/
    sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from conformance import runner
    from conformance.cases import FAMILIES, TIERS, ZOO_FAMILIES, all_cases

    parser = argparse.ArgumentParser(prog="python -m conformance", description=__doc__)
    parser.add_argument("--tier", choices=sorted(TIERS), default="default",
                        help="default: the suite's own cases; zoo: real architectures "
                        "(results in conformance/results/zoo.json, the zoo section of the "
                        "support matrix)")
    parser.add_argument("--family", action="append", choices=FAMILIES + ZOO_FAMILIES,
                        help="only this family of cases (repeatable)")
    parser.add_argument("--case", action="append", help="only this case (repeatable)")
    parser.add_argument("--target", action="append",
                        help="only this target (repeatable; default: every available one)")
    parser.add_argument("--no-latency", action="store_true", help="parity only")
    parser.add_argument("--no-variants", action="store_true",
                        help="only the targets named, without their extra columns "
                        "(coreml-fp32 beside coreml)")
    parser.add_argument("--planted", action="store_true",
                        help="after each pass, scale the original's head layer by 1.01 and "
                        "record whether convert's validation and check both fail")
    parser.add_argument("--jobs", type=int, default=1, help="cases run at once (default 1)")
    parser.add_argument("--timeout", type=float, default=runner.Options.timeout_s,
                        help="seconds per case before it is recorded as a timeout")
    parser.add_argument("--memory-limit-mb", type=int, default=runner.Options.memory_limit_mb,
                        help="address-space cap per case process")
    parser.add_argument("--output", type=Path, default=None,
                        help="results file (default conformance/results/latest.json, or "
                        "zoo.json for --tier zoo)")
    parser.add_argument("--matrix", type=Path, default=runner.MATRIX,
                        help="support matrix page (default docs/support-matrix.md)")
    parser.add_argument("--update", action="store_true",
                        help="replace only the cells of the cases run in the existing results "
                        "(the recorded wall time stays that of the last full run)")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT | local:N",
                        help="run one Dask task per cell on this cluster (local:N: N local "
                        "workers for this run); see docs/cluster.md")
    args = parser.parse_args(argv)
    zoo = args.tier == "zoo" or bool(args.family and set(args.family) <= set(ZOO_FAMILIES))
    if args.output is None:
        args.output = runner.ZOO_RESULTS if zoo else runner.RESULTS

    cases = all_cases(tuple(args.family) if args.family else TIERS[args.tier])
    if args.case:
        unknown = sorted(set(args.case) - {c.name for c in cases})
        if unknown:
            parser.error("unknown case(s): " + ", ".join(unknown))
        cases = [c for c in cases if c.name in args.case]
    if args.list:
        for case in cases:
            print(f"{case.name:40} {case.framework:11} {', '.join(case.tags)}")
        return 0
    available = runner.available_targets()
    targets = (sorted(set(args.target or available)) if args.no_variants
               else runner.columns_for(args.target or sorted(available)))
    options = runner.Options(
        latency=not args.no_latency, timeout_s=args.timeout,
        memory_limit_mb=args.memory_limit_mb, planted=args.planted,
    )
    print(f"conformance: {len(cases)} cases x targets {', '.join(targets)}, "
          + ("on a Dask cluster" if args.scheduler else f"{args.jobs} at a time")
          + ", each case isolated", file=sys.stderr)
    started = time.perf_counter()
    if args.scheduler:
        from conformance import cluster

        try:
            cells = cluster.run_suite(cases, targets, options, args.scheduler,
                                      output=args.output, resume=args.update)
        except cluster.ClusterError as exc:
            print(f"error: {exc.message}\nhint: {exc.hint}", file=sys.stderr)
            return 2
    else:
        cells = runner.run_suite(cases, targets, options, jobs=args.jobs,
                                 progress=runner.Progress(len(cases)))
    wall = time.perf_counter() - started
    if args.update and args.output.exists():
        cells, wall = runner.merge_results(args.output, cells)
    results = runner.write_results(cells, wall, options, args.output)
    matrix = (runner.write_zoo_section(results, args.matrix) if zoo
              else runner.write_matrix(results, args.matrix))
    summary = runner.summarize(cells)
    print(f"{summary['cases']} cases in {wall:.0f} s: "
          + ", ".join(f"{v} {k}" for k, v in summary["verdicts"].items()))
    print(f"results: {results}\nmatrix:  {matrix}")
    bad = [c for c in cells if c["verdict"] not in ("passed", "cannot convert", "n/a")]
    for cell in bad:
        print(f"  {cell['case']} -> {cell['target']}: {cell['verdict']}: {cell['reason']}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
