"""interop-convert's arguments -> what the API takes: checks that need no model (run before
any loading), options, tolerance, and example inputs.

Nothing is imported at module level beyond argparse; each check imports what it needs.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

REPORT_SUFFIXES = (".json", ".md", ".html", ".xml")


def usage(message: str) -> Exception:
    from interop.errors import InvalidInput

    return InvalidInput(message, "run interop-convert --help for usage")


def preflight(args: argparse.Namespace) -> dict[str, Any]:
    """Every check that needs no model: fail fast, before minutes of loading and converting.

    Returns the parsed ``options``, ``specs`` (from --input) and ``tolerance``.
    """
    from interop import loaders, registry
    from interop.detect import converted_format
    from interop.errors import InvalidInput

    targets = sorted(registry.known_targets())
    if args.to not in targets:
        raise InvalidInput(f"unknown target format {args.to!r}",
                           "choose one of: " + (", ".join(targets) or "none installed"))
    out = Path(args.output)
    probe_output(out, overwrite=args.force)
    if out.is_dir() and out.suffix.lower() != ".mlpackage":
        raise InvalidInput(f"{out} is a directory", "give a file path for the converted model")
    claimed = converted_format(out.suffix)
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
        loaders.check_sample(args.sample)
    if args.imports and not args.trust:
        imported = " ".join(f"--import {m}" for m in args.imports)
        raise InvalidInput(f"{imported} would run that code while loading the model",
                           "pass --trust as well if you trust it")
    loaders.sniff(args.model)  # a missing or corrupt model fails here, before any import
    return {"options": parse_options(args.option), "specs": specs,
            "tolerance": parse_tolerance(args.tolerance)}


class _Probed(Exception):
    """The probe's writer stops atomic_write here, before anything is written."""


def probe_output(out: Path, overwrite: bool) -> None:
    """Run the checks that saving to ``out`` will make (its directory exists, no file there
    unless ``overwrite``) now rather than after the conversion: the very atomic_write that
    ``Conversion.save`` calls, with a writer that stops before writing. It leaves nothing.
    """
    from interop.types import atomic_write

    def stop(tmp: Path) -> None:
        raise _Probed

    with contextlib.suppress(_Probed):
        atomic_write(out, stop, overwrite=overwrite)


def parse_tolerance(text: str | None) -> Any:
    """--tolerance: None, a profile name, or ``{"atol": .., "rtol": ..}``."""
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


def parse_options(items: list[str]) -> dict[str, Any]:
    """--option KEY=VALUE items -> a dict; VALUE is JSON where it parses, else the string."""
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


def example_inputs(args: argparse.Namespace, plan: dict[str, Any], loaded: Any) -> Any:
    """The example_inputs for convert(): from --sample, --input, or the model itself."""
    from interop import loaders
    from interop.errors import InvalidInput

    specs = plan["specs"]
    if args.sample:
        arrays = loaders.load_sample(args.sample, loaded.needs_dataframe)
        example = loaders.fit_inputs(arrays, loaded)
    elif specs:
        arrays = loaders.seeded_inputs(specs)
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
        return loaders.package(loaders.seeded_inputs(loaded.input_specs), loaded)
    elif loaded.source == "torch":
        raise InvalidInput(
            f"{args.model} carries no input signature",
            "pass --sample FILE or --input NAME:SHAPE:DTYPE (e.g. x:batch,4:float32)",
        )
    else:
        return None
    loaders.dry_run(loaded, example)
    return example
