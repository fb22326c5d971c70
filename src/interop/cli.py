"""interop-convert: parse arguments, call the public API, explain every failure in two lines.

Only argparse, os and sys are imported at module level, so ``--help``, ``--version`` and
``--list`` answer without importing any framework.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

EXIT_OK = 0
EXIT_PARITY = 1
EXIT_USAGE = 2
EXIT_CONVERSION = 3
EXIT_MISSING = 4
EXIT_INTERRUPTED = 130

REPORT_SUFFIXES = (".json", ".md", ".html", ".xml")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Libraries that log or warn chattily at WARNING; quiet unless the user asks for -v.
NOISY_LOGGERS = ("py.warnings", "tensorflow", "absl", "tf2onnx", "keras", "coremltools",
                 "onnxscript", "torch", "h5py", "skl2onnx")

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

examples:
  interop-convert model.pt2 --to onnx -o model.onnx
  interop-convert model.pt --to onnx -o model.onnx --input x:batch,3,32,32:float32
  interop-convert model.keras --to coreml -o model.mlpackage --precision fp16
  interop-convert clf.skops --to onnx -o clf.onnx --sample X.csv --check --report r.html
  interop-convert model.pt2 --to onnx -o model.onnx --check --tolerance 1e-5,1e-4
  interop-convert mypkg.models:build --to onnx -o m.onnx --opset 18 --json
  interop-convert --list

exit codes:
  0  converted (and, with --check, parity passed)
  1  converted but parity failed (--check); the output is not written
  2  bad usage or bad input (file, option, sample, output path)
  3  conversion failed (unsupported op, converter error)
  4  a needed dependency is missing
"""


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
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    safety = parser.add_argument_group("safety")
    safety.add_argument("--allow-pickle", action="store_true",
                        help="allow pickle-based files (.pkl, .joblib, torch.save); they run code")
    safety.add_argument("--trust", action="store_true",
                        help="accept the types a .skops file lists and Keras code (Lambda layers)")
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
        return _fail(None, str(exc), "run interop-convert --help for usage", EXIT_USAGE)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    session = _Session(args)
    try:
        return session.run()
    finally:
        session.restore()


class _Session:
    """One CLI run: logging and environment set up, restored afterwards (main is re-entrant)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.saved_env: dict[str, str | None] = {}
        self.saved_levels: dict[str, int] = {}
        self.handler: Any = None

    def run(self) -> int:
        args = self.args
        try:
            self._setup()
            if args.list:
                return _list(args)
            return _convert(args)
        except KeyboardInterrupt:
            return _fail(args, "interrupted", "nothing was written; run again", EXIT_INTERRUPTED)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes two lines
            return _handle(args, exc)

    def _setup(self) -> None:
        import logging

        args = self.args
        if args.no_plugins:
            self._setenv("INTEROP_DISABLE_PLUGIN_AUTOLOAD", "1")
            _refresh_registry()
        if not args.debug and not args.verbose:
            self._setenv("TF_CPP_MIN_LOG_LEVEL", os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
        level, bad_env = _log_level(args)
        self.handler = logging.StreamHandler(sys.stderr)
        self.handler.setFormatter(logging.Formatter("[%(levelname)s] %(name)s: %(message)s"))
        root = logging.getLogger()
        self.saved_levels[""] = root.level
        root.addHandler(self.handler)
        root.setLevel(level)
        logging.captureWarnings(True)
        if level >= logging.WARNING and not args.debug:
            for name in NOISY_LOGGERS:
                logger = logging.getLogger(name)
                self.saved_levels[name] = logger.level
                logger.setLevel(logging.ERROR)
        if bad_env:
            logging.getLogger("interop.cli").warning(
                "ignoring INTEROP_LOG_LEVEL=%r (use one of %s)", bad_env, ", ".join(LOG_LEVELS)
            )

    def _setenv(self, key: str, value: str) -> None:
        self.saved_env.setdefault(key, os.environ.get(key))
        os.environ[key] = value

    def restore(self) -> None:
        import logging

        for key, value in self.saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if self.args.no_plugins:
            _refresh_registry()
        if self.handler is not None:
            logging.getLogger().removeHandler(self.handler)
            logging.captureWarnings(False)
        for name, level in self.saved_levels.items():
            logging.getLogger(name or None).setLevel(level)


def _refresh_registry() -> None:
    # Discovery is cached per process; re-read it so the environment change takes effect.
    if "interop.registry" in sys.modules:
        registry = sys.modules["interop.registry"]
        registry.CONVERTERS.refresh()
        registry.RUNTIMES.refresh()


def _log_level(args: argparse.Namespace) -> tuple[int, str]:
    import logging

    if args.log_level:
        return getattr(logging, args.log_level), ""
    if args.quiet:
        return logging.ERROR, ""
    if args.verbose:
        return (logging.INFO if args.verbose == 1 else logging.DEBUG), ""
    env = os.environ.get("INTEROP_LOG_LEVEL", "").strip()
    if env:
        if env.upper() in LOG_LEVELS:
            return getattr(logging, env.upper()), ""
        return logging.WARNING, env
    return logging.WARNING, ""


# -- failure reporting -----------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).strip().splitlines() if part.strip())


def _fail(
    args: argparse.Namespace | None, message: str, hint: str, code: int,
    exc: BaseException | None = None,
) -> int:
    if args is not None and args.debug and exc is not None:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    message = _one_line(message) or "failed"
    hint = _one_line(hint) or "rerun with --debug for details"
    sys.stderr.write(f"error: {message}\nhint: {hint}\n")
    sys.stderr.flush()
    if args is not None and args.json:
        _emit_json({"status": "error", "exit_code": code, "error": message, "hint": hint})
    return code


def _handle(args: argparse.Namespace, exc: BaseException) -> int:
    from interop.errors import InteropError

    if isinstance(exc, InteropError):
        code = int(getattr(exc, "exit_code", EXIT_USAGE))
        if code not in (EXIT_PARITY, EXIT_USAGE, EXIT_CONVERSION, EXIT_MISSING):
            code = EXIT_CONVERSION
        return _fail(args, exc.message, exc.hint, code, exc)
    if isinstance(exc, SystemExit):
        what = f"something called sys.exit({exc.code!r}) during the run"
        return _fail(args, what, "rerun with --debug to see where", EXIT_CONVERSION, exc)
    if isinstance(exc, MemoryError):
        return _fail(args, "ran out of memory", "convert on a machine with more memory",
                     EXIT_CONVERSION, exc)
    text = _one_line(str(exc))[:300]
    message = f"unexpected {type(exc).__name__}" + (f": {text}" if text else "")
    hint = "rerun with --debug to see the traceback, and report it if it persists"
    return _fail(args, message, hint, EXIT_CONVERSION, exc)


def _emit_json(payload: dict[str, Any], stream: Any = None) -> None:
    import json

    stream = stream or sys.stdout
    stream.write(json.dumps(payload, indent=2, default=str) + "\n")
    stream.flush()


# -- --list ----------------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    from interop import registry

    converters = registry.converter_infos()
    runtimes = registry.runtime_infos()
    broken = [c for c in converters if c.broken] + [r for r in runtimes if r.broken]
    if args.json:
        _emit_json({
            "converters": [c.to_dict() for c in converters if not c.broken],
            "runtimes": [
                {"name": r.name, "available": r.available, "reason": r.reason,
                 "distribution": r.distribution}
                for r in runtimes if not r.broken
            ],
            "broken": [
                {"name": b.name, "group": "converter" if hasattr(b, "target") else "runtime",
                 "distribution": b.distribution, "cause": b.reason}
                for b in broken
            ],
        })
        return EXIT_OK
    out = sys.stdout
    out.write("converters:\n")
    rows: list[tuple[str, ...]] = [
        (c.name, f"{c.source} -> {c.target}",
         "available" if c.available else f"unavailable: {c.reason}",
         c.distribution, str(c.priority))
        for c in converters if not c.broken
    ]
    _table(out, ("NAME", "CONVERTS", "STATUS", "DISTRIBUTION", "PRIORITY"), rows)
    out.write("\nruntimes:\n")
    rows = [
        (r.name, "available" if r.available else f"unavailable: {r.reason}", r.distribution)
        for r in runtimes if not r.broken
    ]
    _table(out, ("FORMAT", "STATUS", "DISTRIBUTION"), rows)
    out.write("\nbroken plugins:\n")
    if not broken:
        out.write("  none\n")
    for b in broken:
        group = "converter" if hasattr(b, "target") else "runtime"
        out.write(f"  {b.name} ({group}, from {b.distribution}): {b.reason}\n")
    return EXIT_OK


def _table(out: Any, header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    if not rows:
        out.write("  none\n")
        return
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        cells.append(row[-1])
        out.write("  " + "  ".join(cells).rstrip() + "\n")


# -- conversion ------------------------------------------------------------------------------


def _convert(args: argparse.Namespace) -> int:
    import contextlib
    from pathlib import Path

    from interop._progress import Progress

    if not args.model:
        raise _usage("no MODEL given (or use --list / --version)")
    if not args.to:
        raise _usage("--to is required (onnx, coreml, or a plugin's format)")
    if not args.output:
        raise _usage("-o OUT is required")
    plan = _preflight(args)
    progress = Progress(sys.stderr, _interactive(args))
    summary: dict[str, Any] = {"status": "ok", "model": args.model, "output": args.output}
    results, errors = sys.stdout, sys.stderr
    # Frameworks print progress to stdout and partial graphs to stderr: keep stdout for
    # results and stderr for our two lines; what they print goes to the log (shown with -v).
    quiet_stderr = (contextlib.nullcontext() if args.debug
                    else contextlib.redirect_stderr(_log_writer("interop.cli.stderr", errors)))
    with contextlib.redirect_stdout(_log_writer("interop.cli.stdout", errors)), quiet_stderr:
        import interop
        from interop import loaders

        with progress.stage("load"):
            loaded = loaders.load_model(args.model, allow_pickle=args.allow_pickle,
                                        trust=args.trust)
        with progress.stage("validate"):
            example = _example_inputs(args, plan, loaded)
        with progress.stage("convert"):
            conversion = interop.convert(
                loaded.model, to=args.to, example_inputs=example, converter=args.converter,
                opset=args.opset, precision=args.precision, options=plan["options"] or None,
            )
        summary.update(conversion.summary())
        report = None
        if args.check or args.report or args.tolerance:
            with progress.stage("check"):
                # A user's sample is real data: check on it; otherwise the harness draws inputs.
                given = example if args.sample else None
                if given is not None and hasattr(given, "columns") and (
                    conversion.input_layout != "dataframe"
                ):
                    # a DataFrame converted to one X input (no ColumnTransformer): its values
                    given = given.to_numpy()
                report = interop.check(loaded.model, conversion, inputs=given,
                                       tolerance=plan["tolerance"])
                if args.report:
                    report.save(args.report)
            summary["check"] = {"passed": bool(report.passed), "report": args.report}
        if report is not None and not report.passed:
            summary["status"] = "parity_failed"
            summary["exit_code"] = EXIT_PARITY
            detail = _parity_detail(report)
            summary["timings_s"] = progress.timings
            if args.json:
                _emit_json(summary, results)
            errors.write(
                f"error: parity failed: {detail}; {args.output} was not written\n"
                "hint: see the report (--report PATH) for every output; try another opset, "
                "precision or converter\n"
            )
            return EXIT_PARITY
        with progress.stage("write"):
            written = conversion.save(Path(args.output), overwrite=args.force)
    summary["output"] = str(written)
    summary["timings_s"] = progress.timings
    summary["exit_code"] = EXIT_OK
    if args.json:
        _emit_json(summary)
    else:
        _print_result(conversion, str(written), report, args)
    return EXIT_OK


def _log_writer(name: str, fallback: Any) -> Any:
    """A text stream that sends each line written to it to the log at INFO.

    Libraries may keep a reference to it (a handler made while it was sys.stderr), so it is
    a real io.TextIOBase that stays usable after the run. A handler that writes to it while
    it is logging (one that looks up sys.stderr when it emits) gets ``fallback`` instead of
    a loop.
    """
    import io
    import logging
    import threading

    class LogWriter(io.TextIOBase):
        def __init__(self) -> None:
            super().__init__()
            self.log = logging.getLogger(name)
            self.pending = ""
            self.busy = threading.local()

        def writable(self) -> bool:
            return True

        def write(self, text: str) -> int:
            if getattr(self.busy, "on", False):
                return int(fallback.write(text) or 0)
            self.pending += text
            *lines, self.pending = self.pending.split("\n")
            self.busy.on = True
            try:
                for line in lines:
                    if line.strip():
                        self.log.info("%s", line.rstrip())
            finally:
                self.busy.on = False
            return len(text)

        def flush(self) -> None:
            text, self.pending = self.pending, ""
            if text.strip():
                self.write(text + "\n")

    return LogWriter()


def _usage(message: str) -> Exception:
    from interop.errors import InvalidInput

    return InvalidInput(message, "run interop-convert --help for usage")


def _interactive(args: argparse.Namespace) -> bool:
    if args.json or args.quiet:
        return False
    try:
        return sys.stdout.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _preflight(args: argparse.Namespace) -> dict[str, Any]:
    """Every check that needs no model: fail fast, before minutes of loading and converting."""
    from pathlib import Path

    from interop import loaders, registry
    from interop.detect import CONVERTED_FORMATS
    from interop.errors import InvalidInput

    targets = sorted(registry.known_targets())
    if args.to not in targets:
        raise InvalidInput(f"unknown target format {args.to!r}",
                           "choose one of: " + (", ".join(targets) or "none installed"))
    out = Path(args.output)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise InvalidInput(f"cannot write {out}: the directory {parent} does not exist",
                           "create the directory first or choose another output path")
    if out.exists() and not args.force:
        raise InvalidInput(f"{out} already exists", "pass --force to replace it")
    if out.is_dir() and out.suffix.lower() != ".mlpackage":
        raise InvalidInput(f"{out} is a directory", "give a file path for the converted model")
    claimed = CONVERTED_FORMATS.get(out.suffix.lower())
    if claimed and claimed != args.to:
        raise InvalidInput(f"{out.name} names a {claimed} file but --to is {args.to}",
                           f"use a file name that fits {args.to}, or --to {claimed}")
    model_path = Path(args.model)
    if model_path.exists() and out.exists() and out.resolve() == model_path.resolve():
        raise InvalidInput("OUT is the model itself", "choose another output path")
    if args.report:
        report = Path(args.report)
        if report.suffix.lower() not in REPORT_SUFFIXES:
            raise InvalidInput(f"--report {report}: unknown report format {report.suffix!r}",
                               "use a .json, .md, .html or .xml file name")
        if not (report.parent if str(report.parent) else Path(".")).is_dir():
            raise InvalidInput(f"--report {report}: the directory does not exist",
                               "create the directory first")
    if args.opset is not None:
        if args.to != "onnx":
            raise InvalidInput(f"--opset applies to ONNX, not {args.to}", "drop --opset")
        highest = _highest_opset()
        if not 7 <= args.opset <= highest:
            raise InvalidInput(f"--opset {args.opset} is out of range",
                               f"use an opset from 7 to {highest} (this onnx supports up to "
                               f"{highest})")
    if args.sample and args.input:
        raise InvalidInput("give --sample or --input, not both",
                           "--sample reads a file; --input generates seeded data")
    specs = [loaders.parse_input_spec(text) for text in args.input]
    if args.sample:
        sample = Path(args.sample)
        if sample.suffix.lower() not in loaders.SAMPLE_SUFFIXES:
            raise InvalidInput(f"--sample {sample}: unsupported file type {sample.suffix!r}",
                               "use .npy, .npz, .csv or .parquet")
        if not sample.is_file():
            raise InvalidInput(f"--sample {sample} does not exist", "check the path")
    loaders.sniff(args.model)  # a missing or corrupt model fails here, before any import
    return {"options": _parse_options(args.option), "specs": specs,
            "tolerance": _parse_tolerance(args.tolerance)}


def _parse_tolerance(text: str | None) -> Any:
    from interop.errors import InvalidInput

    if not text:
        return None
    parts = text.split(",")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        if len(parts) == 1:
            return text  # a profile name; check() names the known ones if it is unknown
        raise InvalidInput(f"--tolerance {text!r} is neither a profile nor ATOL[,RTOL]",
                           "for example --tolerance fp16 or --tolerance 1e-5,1e-4") from None
    if len(numbers) > 2 or any(n < 0 or n != n for n in numbers):
        raise InvalidInput(f"--tolerance {text!r} is not ATOL[,RTOL] with numbers >= 0",
                           "for example --tolerance 1e-5,1e-4")
    return {"atol": numbers[0], "rtol": numbers[1] if len(numbers) == 2 else 0.0}


def _highest_opset() -> int:
    try:
        import onnx
    except ImportError:
        from interop.errors import MissingDependency

        raise MissingDependency("onnx is needed to convert to ONNX",
                                "pip install 'interop[onnx]'", package="onnx") from None
    return int(onnx.defs.onnx_opset_version())


def _parse_options(items: list[str]) -> dict[str, Any]:
    import json

    from interop.errors import InvalidInput

    options: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInput(f"--option {item!r} is not KEY=VALUE",
                               "for example --option dynamic_batch=false")
        try:
            options[key] = json.loads(raw)
        except ValueError:
            options[key] = raw
    return options


def _example_inputs(args: argparse.Namespace, plan: dict[str, Any], loaded: Any) -> Any:
    from interop import loaders
    from interop.errors import InvalidInput

    specs = plan["specs"]
    if args.sample:
        arrays = loaders.load_sample(args.sample, loaded.needs_dataframe)
        example = loaders.fit_inputs(arrays, loaded)
    elif specs:
        arrays = loaders.generate(specs)
        example = loaders.fit_inputs(arrays, loaded, [s.name for s in specs])
    elif loaded.example_inputs is not None:
        return loaded.example_inputs
    elif loaded.source == "tensorflow":
        return None  # Keras models and SavedModels carry a signature the converter reads
    elif loaded.needs_dataframe:
        raise InvalidInput(
            f"{args.model} was fitted on a DataFrame, so its column types are unknown",
            "pass --sample data.csv (or .parquet) with the training columns",
        )
    elif loaded.input_specs:
        return loaders.package(loaders.generate(loaded.input_specs), loaded)
    elif loaded.source == "torch":
        raise InvalidInput(
            f"{args.model} carries no input signature",
            "pass --sample FILE or --input NAME:SHAPE:DTYPE (e.g. x:batch,4:float32)",
        )
    else:
        return None
    loaders.dry_run(loaded, example)
    return example


def _parity_detail(report: Any) -> str:
    failures = list(getattr(report, "failures", []) or [])
    if failures:
        return _one_line(str(failures[0]))
    try:
        rows = report.to_dict().get("parity", [])
        bad = [r for r in rows if not r.get("passed", True)]
        if bad:
            row = bad[0]
            return (f"output {row.get('output')!r} at batch {row.get('batch_size')}: max abs "
                    f"error {row.get('max_abs_error')} > atol {row.get('atol')}")
    except Exception:  # the summary line must not hide the parity verdict
        pass
    return "outputs differ beyond tolerance"


def _print_result(conversion: Any, written: str, report: Any, args: argparse.Namespace) -> None:
    line = (f"wrote {written} ({conversion.source} -> {conversion.target} with "
            f"{conversion.converter})")
    sys.stdout.write(line + "\n")
    outputs = conversion.validation.get("outputs", {}) if conversion.validation else {}
    errors = [o["max_abs_error"] for o in outputs.values() if o.get("max_abs_error") is not None]
    if errors:
        sys.stdout.write(f"parity on the example inputs: max abs error {max(errors):.3g}\n")
    if report is not None:
        where = f" (report: {args.report})" if args.report else ""
        sys.stdout.write(f"check: {'passed' if report.passed else 'FAILED'}{where}\n")
    for warning in conversion.warnings:
        sys.stdout.write(f"warning: {warning}\n")


if __name__ == "__main__":  # python -m interop.cli ... (as the interop-convert script)
    raise SystemExit(main())
