"""What interop-convert prints: the two-line failure, JSON summaries, --list, the result.

Imports only sys at module level (the CLI answers --help without importing a framework).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_PARITY = 1
EXIT_USAGE = 2
EXIT_CONVERSION = 3
EXIT_MISSING = 4
EXIT_INTERRUPTED = 130


def one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).strip().splitlines() if part.strip())


def fail(
    args: argparse.Namespace | None, message: str, hint: str, code: int,
    exc: BaseException | None = None, where: dict[str, Any] | None = None,
) -> int:
    """Write ``error:`` and ``hint:`` (one line each) to stderr; return ``code``."""
    if args is not None and args.debug and exc is not None:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    message = one_line(message) or "failed"
    hint = one_line(hint) or "rerun with --debug for details"
    sys.stderr.write(f"error: {message}\nhint: {hint}\n")
    known = {k: v for k, v in (where or {}).items() if v is not None}
    if known:  # op, layer, source_location of a ConversionError, where the converter knew
        sys.stderr.write("where: " + ", ".join(f"{k} {v or '(model)'}" for k, v in known.items())
                         + "\n")
    sys.stderr.flush()
    if args is not None and args.json:
        emit_json({"status": "error", "exit_code": code, "error": message, "hint": hint,
                   **known})
    return code


def handle(args: argparse.Namespace, exc: BaseException) -> int:
    """Any exception -> its exit code and two lines."""
    from interop.errors import InteropError

    if isinstance(exc, InteropError):
        code = int(getattr(exc, "exit_code", EXIT_USAGE))
        if code not in (EXIT_PARITY, EXIT_USAGE, EXIT_CONVERSION, EXIT_MISSING):
            code = EXIT_CONVERSION
        where = {k: getattr(exc, k, None) for k in ("op", "layer", "source_location")}
        return fail(args, exc.message, exc.hint, code, exc, where)
    if isinstance(exc, SystemExit):
        what = f"something called sys.exit({exc.code!r}) during the run"
        return fail(args, what, "rerun with --debug to see where", EXIT_CONVERSION, exc)
    if isinstance(exc, MemoryError):
        return fail(args, "ran out of memory", "convert on a machine with more memory",
                    EXIT_CONVERSION, exc)
    text = one_line(str(exc))[:300]
    message = f"unexpected {type(exc).__name__}" + (f": {text}" if text else "")
    hint = "rerun with --debug to see the traceback, and report it if it persists"
    return fail(args, message, hint, EXIT_CONVERSION, exc)


def emit_json(payload: dict[str, Any], stream: Any = None) -> None:
    import json

    stream = stream or sys.stdout
    stream.write(json.dumps(payload, indent=2, default=str) + "\n")
    stream.flush()


# -- --list ----------------------------------------------------------------------------------


def print_list(converters: Sequence[Any], runtimes: Sequence[Any], as_json: bool) -> None:
    """The registry's converters, runtimes and broken plugins, as tables or JSON."""
    broken = [c for c in converters if c.broken] + [r for r in runtimes if r.broken]
    if as_json:
        emit_json({
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
        return
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


def _table(out: Any, header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    if not rows:
        out.write("  none\n")
        return
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        cells.append(row[-1])
        out.write("  " + "  ".join(cells).rstrip() + "\n")


# -- results -----------------------------------------------------------------------------


def parity_failed(report: Any, output: str, stream: Any) -> None:
    """The two lines for a conversion whose check failed (the output is not written)."""
    stream.write(
        f"error: parity failed: {parity_detail(report)}; {output} was not written\n"
        "hint: see the report (--report PATH) for every output; try another opset, "
        "precision or converter\n"
    )


def print_diagnosis(diagnosis: dict[str, Any], stream: Any, worst: int = 5) -> None:
    """The diagnosis's summary, then its worst layers, one line each."""
    stream.write(f"diagnosis: {diagnosis.get('summary', '')}\n")
    failing = [d for d in diagnosis.get("layers", []) if not d.get("passed")]
    failing.sort(key=lambda d: -(d.get("required_atol") or 0.0)
                 if isinstance(d.get("required_atol"), float) else 0.0)
    for d in failing[:worst]:
        error = d["max_abs_error"]
        shown = f"{error:.3g}" if isinstance(error, float) else str(error)
        stream.write(f"  {d['layer']}: max abs error {shown} "
                     f"(nodes {', '.join(d.get('nodes', [])[:3])})\n")


def parity_detail(report: Any) -> str:
    failures = list(getattr(report, "failures", []) or [])
    if failures:
        return one_line(str(failures[0]))
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


def print_result(conversion: Any, written: str, report: Any, report_path: str | None) -> None:
    line = (f"wrote {written} ({conversion.source} -> {conversion.target} with "
            f"{conversion.converter})")
    sys.stdout.write(line + "\n")
    data_file = Path(written + ".data")
    if data_file.is_file():  # a large ONNX model: the graph and its weights, as a pair
        size = data_file.stat().st_size / 1e9
        sys.stdout.write(f"wrote {data_file} (its weights, {size:.2f} GB; keep them together)\n")
    outputs = conversion.validation.get("outputs", {}) if conversion.validation else {}
    errors = [o["max_abs_error"] for o in outputs.values() if o.get("max_abs_error") is not None]
    if errors:
        sys.stdout.write(f"parity on the example inputs: max abs error {max(errors):.3g}\n")
    if report is not None:
        where = f" (report: {report_path})" if report_path else ""
        sys.stdout.write(f"check: {'passed' if report.passed else 'FAILED'}{where}\n")
    for warning in conversion.warnings:
        sys.stdout.write(f"warning: {warning}\n")
