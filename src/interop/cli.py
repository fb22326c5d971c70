"""interop-convert: parse arguments, call the public API, explain every failure in two lines.

Only argparse, os and sys (and the small cli_* helper modules, which import no more) are
imported at module level, so ``--help``, ``--version`` and ``--list`` answer without
importing any framework. Helpers: ``cli_args`` (checks and parsing that need no model),
``cli_output`` (what is printed, exit codes), ``cli_session`` (logging and environment).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from interop.cli_output import (
    EXIT_CONVERSION,
    EXIT_INTERRUPTED,
    EXIT_MISSING,
    EXIT_OK,
    EXIT_PARITY,
    EXIT_USAGE,
    emit_json,
    fail,
    handle,
    parity_failed,
    print_diagnosis,
    print_list,
    print_result,
)
from interop.cli_session import LOG_LEVELS, LogWriter, Session, interactive

DESCRIPTION = "Convert a trained model file to ONNX or Core ML, and check the result."

EPILOG = """\
MODEL is one of:
  model.pt2                  a torch.export ExportedProgram (torch.export.save)
  model.pt                   a TorchScript module (torch.jit.save)
  model.keras | model.h5     a Keras model (loaded in safe mode)
  saved_model_dir/           a TensorFlow SavedModel directory
  model.skops                a scikit-learn estimator saved with skops
  package.module:function    a factory returning the model or (model, example_inputs);
                             the current directory is importable
  model.pkl | model.joblib   pickles: refused unless --allow-pickle (unpickling runs code)

A .pt2 whose inputs or outputs are types of an installed package (a Hugging Face
ModelOutput, say) loads as it is: that package's module is imported. Types from your own
code need --import MODULE --trust.

examples:
  interop-convert model.pt2 --to onnx -o model.onnx
  interop-convert model.pt --to onnx -o model.onnx --input x:batch,3,32,32:float32
  interop-convert model.keras --to coreml -o model.mlpackage --precision fp16
  interop-convert clf.skops --to onnx -o clf.onnx --sample X.csv --check --report r.html
  interop-convert model.pt2 --to onnx -o model.onnx --check --tolerance 1e-5,1e-4
  interop-convert model.pt2 --to onnx -o model.onnx --optimize int8
  interop-convert model.pt2 --to onnx -o model.onnx --import mymodels.outputs --trust
  interop-convert mypkg.models:build --to onnx -o m.onnx --opset 18 --json
  interop-convert --list

exit codes:
  0  converted (and, with --check, parity passed)
  1  converted but parity failed (--check); the output is not written
  2  bad usage or bad input (file, option, sample, output path)
  3  conversion failed (unsupported op, converter error)
  4  a needed dependency is missing
"""

__all__ = [
    "EXIT_CONVERSION", "EXIT_INTERRUPTED", "EXIT_MISSING", "EXIT_OK", "EXIT_PARITY",
    "EXIT_USAGE", "build_parser", "main",
]


class _UsageError(Exception):
    """argparse found a problem in the command line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # type: ignore[override]
        raise _UsageError(message)


def _opset(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--opset must be an integer, not {text!r}") from None


def _level(text: str) -> str:
    value = text.upper()
    if value not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"--log-level must be one of {', '.join(LOG_LEVELS)}, not {text!r}"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for the docs and the tests)."""
    from interop import __version__

    parser = _Parser(
        prog="interop-convert",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("model", nargs="?", metavar="MODEL",
                        help="model file, directory or factory")
    parser.add_argument("--to", metavar="FORMAT", help="target format: onnx, coreml, or a plugin's")
    parser.add_argument("-o", "--output", metavar="OUT", help="where to write the converted model")
    parser.add_argument("--opset", type=_opset, metavar="N", help="ONNX opset version")
    parser.add_argument("--precision", choices=("fp32", "fp16"), help="Core ML compute precision")
    parser.add_argument("--converter", metavar="NAME", help="force a converter, e.g. torch.onnx")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="converter option; VALUE is parsed as JSON where possible")
    inputs = parser.add_argument_group("example inputs (default: from the model's signature)")
    inputs.add_argument("--sample", metavar="FILE", help="example inputs: .npy .npz .csv .parquet")
    inputs.add_argument("--input", action="append", default=[], metavar="NAME:SHAPE:DTYPE",
                        help="generate a seeded input, e.g. x:batch,4:float32 (repeatable; "
                        "named dimensions get size 8)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing OUT")
    parser.add_argument("--check", action="store_true",
                        help="run the conformance check; exit 1 if parity fails")
    parser.add_argument("--report", metavar="PATH",
                        help="write the check report (.json .md .html .xml); implies --check")
    parser.add_argument("--tolerance", metavar="PROFILE|ATOL[,RTOL]",
                        help="tolerance for --check: a profile (fp32, fp16, strict) or numbers; "
                        "implies --check")
    parser.add_argument("--diagnose", action="store_true",
                        help="when parity fails, compare layer by layer and print the first "
                        "divergent layer and the worst ones; implies --check")
    parser.add_argument("--optimize", choices=("fp32", "fp16", "int8"), metavar="PROFILE",
                        help="try optimised variants (fp32: graph rewrites; fp16: half precision; "
                        "int8: quantisation), check each against the original, write the "
                        "fastest that passes and print the candidate table")
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    safety = parser.add_argument_group("safety")
    safety.add_argument("--allow-pickle", action="store_true",
                        help="allow pickle-based files (.pkl, .joblib, torch.save); they run code")
    safety.add_argument("--trust", action="store_true",
                        help="accept the types a .skops file lists, Keras code (Lambda layers) "
                        "and --import modules")
    safety.add_argument("--import", dest="imports", action="append", default=[],
                        metavar="MODULE",
                        help="import your own MODULE before loading (it registers pytree types, "
                        "Keras custom objects or TF ops the file names); repeatable; needs "
                        "--trust")
    logs = parser.add_argument_group("output and logging")
    logs.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    logs.add_argument("-q", "--quiet", action="store_true", help="errors only")
    logs.add_argument("--log-level", type=_level, metavar="LEVEL",
                      help="DEBUG, INFO, WARNING, ERROR (env: INTEROP_LOG_LEVEL)")
    logs.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--no-plugins", action="store_true",
                        help="use only interop's own converters and runtimes")
    parser.add_argument("--list", action="store_true",
                        help="list converters, runtimes and broken plugins, then exit")
    parser.add_argument("--version", action="version", version=f"interop-convert {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (documented in --help), never raises."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        return fail(None, str(exc), "run interop-convert --help for usage", EXIT_USAGE)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    session = Session(args)
    try:
        session.setup()
        return _list(args) if args.list else _convert(args)
    except KeyboardInterrupt:
        return fail(args, "interrupted", "nothing was written; run again", EXIT_INTERRUPTED)
    except BaseException as exc:  # noqa: BLE001 - every failure becomes two lines
        return handle(args, exc)
    finally:
        session.restore()


def _list(args: argparse.Namespace) -> int:
    from interop import registry

    print_list(registry.converter_infos(), registry.runtime_infos(), args.json)
    return EXIT_OK


def _convert(args: argparse.Namespace) -> int:
    import contextlib
    from pathlib import Path

    from interop import cli_args
    from interop._progress import Progress

    if not args.model:
        raise cli_args.usage("no MODEL given (or use --list / --version)")
    if not args.to:
        raise cli_args.usage("--to is required (onnx, coreml, or a plugin's format)")
    if not args.output:
        raise cli_args.usage("-o OUT is required")
    plan = cli_args.preflight(args)
    progress = Progress(sys.stderr, interactive(args))
    summary: dict[str, Any] = {"status": "ok", "model": args.model, "output": args.output}
    results, errors = sys.stdout, sys.stderr
    # Frameworks print progress to stdout and partial graphs to stderr: keep stdout for
    # results and stderr for our two lines; what they print goes to the log (shown with -v).
    quiet_stderr = (contextlib.nullcontext() if args.debug
                    else contextlib.redirect_stderr(LogWriter("interop.cli.stderr", errors)))
    with contextlib.redirect_stdout(LogWriter("interop.cli.stdout", errors)), quiet_stderr:
        import interop
        from interop import loaders
        from interop.types import require_space, weight_bytes

        out_dir = Path(args.output).parent
        require_space(out_dir, 0, args.output)  # not writable: say so before loading
        with progress.stage("load"):
            loaded = loaders.load_model(args.model, allow_pickle=args.allow_pickle,
                                        trust=args.trust, imports=args.imports)
        # too little disk for the weights: say so before converting (size from the parameters)
        require_space(out_dir, weight_bytes(loaded.model), args.output)
        with progress.stage("validate"):
            example = cli_args.example_inputs(args, plan, loaded)
        with progress.stage("convert"):
            conversion = interop.convert(
                loaded.model, to=args.to, example_inputs=example, converter=args.converter,
                opset=args.opset, precision=args.precision, options=plan["options"] or None,
            )
        table = None
        if args.optimize:
            with progress.stage("optimize"):
                optimization = interop.optimize(loaded.model, conversion, profile=args.optimize)
            conversion, table = optimization.best, optimization.table()
            summary["optimize"] = {"profile": args.optimize, "best": optimization.best_name,
                                   "speedup": optimization.speedup}
        summary.update(conversion.summary())
        report = None
        if args.check or args.report or args.tolerance or args.diagnose:
            with progress.stage("check"):
                # A user's sample is real data: check on it; otherwise the harness draws inputs.
                given = example if args.sample else None
                if given is not None and hasattr(given, "columns") and (
                    conversion.input_layout != "dataframe"
                ):
                    # a DataFrame converted to one X input (no ColumnTransformer): its values
                    given = given.to_numpy()
                report = interop.check(loaded.model, conversion, inputs=given,
                                       tolerance=plan["tolerance"], diagnose=args.diagnose)
                if args.report:
                    report.save(args.report)
            summary["check"] = {"passed": bool(report.passed), "report": args.report}
            if report.diagnosis:
                summary["check"]["diagnosis"] = report.diagnosis
        if report is not None and not report.passed:
            summary.update(status="parity_failed", exit_code=EXIT_PARITY,
                           timings_s=progress.timings)
            if args.json:
                emit_json(summary, results)
            parity_failed(report, args.output, errors)
            if report.diagnosis:
                print_diagnosis(report.diagnosis, errors)
            return EXIT_PARITY
        with progress.stage("write"):
            written = conversion.save(Path(args.output), overwrite=args.force)
    summary["output"] = str(written)
    data_file = Path(str(written) + ".data")  # weights kept as external data (large ONNX)
    summary["files"] = [str(written)] + ([str(data_file)] if data_file.is_file() else [])
    summary["timings_s"] = progress.timings
    summary["exit_code"] = EXIT_OK
    if args.json:
        emit_json(summary)
    else:
        if table:
            print(table)
        print_result(conversion, str(written), report, args.report)
    return EXIT_OK


if __name__ == "__main__":  # python -m interop.cli ... (as the interop-convert script)
    raise SystemExit(main())
