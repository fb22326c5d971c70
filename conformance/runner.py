"""The suite runner: every case to every available target, each case in its own subprocess.

A case's child process builds the model, converts it to each target and checks the result
with ``interop.check``; a crash, hang or out-of-memory of that process is recorded for the
case and the run goes on. Results go to ``conformance/results/latest.json`` and the matrix
to ``docs/support-matrix.md``. Uses only interop's public API.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ZOO_RESULTS = ROOT / "conformance" / "results" / "zoo.json"
RESULTS = ROOT / "conformance" / "results" / "latest.json"
MATRIX = ROOT / "docs" / "support-matrix.md"
SCHEMA = "interop.conformance/1"


@dataclass(frozen=True)
class Options:
    """How the suite checks each case."""

    batch_sizes: tuple[int, ...] = (1, 8)
    latency: bool = True
    threads: int = 1
    time_budget_s: float = 0.3
    repeat: int = 50
    timeout_s: float = 900.0
    memory_limit_mb: int | None = 16384
    planted: bool = False  # after a pass, plant a 1 % fault and require both verdicts to fail


def available_targets() -> dict[str, set[str]]:
    """target -> the sources that have an available converter to it."""
    targets: dict[str, set[str]] = {}
    for info in _converter_infos():
        if info.available and not info.broken:
            targets.setdefault(info.target, set()).add(info.source)
    return targets


def _converter_infos() -> list[Any]:
    import interop.api

    return interop.api.converters()


def unavailable_reasons() -> dict[tuple[str, str], str]:
    """(source, target) -> why no converter for it can be used (broken or missing deps)."""
    reasons: dict[tuple[str, str], str] = {}
    usable = {(i.source, i.target) for i in _converter_infos() if i.available and not i.broken}
    for info in _converter_infos():
        pair = (info.source, info.target)
        if pair not in usable:
            reasons.setdefault(pair, f"converter {info.name} unavailable: {info.reason}")
    return reasons


def _cell(case: Any, target: str, verdict: str, reason: str, **extra: Any) -> dict[str, Any]:
    return {
        "case": case.name,
        "framework": case.framework,
        "tags": list(case.tags),
        "target": target,
        "verdict": verdict,
        "passed": verdict == "passed",
        "reason": reason,
        "converter": extra.pop("converter", ""),
        **extra,
    }


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


LOG_DIR = Path(tempfile.gettempdir()) / "interop-conformance"


def _quiet(case_name: str) -> None:
    """Send this process's stdout/stderr (framework chatter, C++ logs) to a per-case log."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = open(LOG_DIR / f"{case_name}.log", "w")  # noqa: SIM115  (lives as long as the process)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)


# Extra matrix columns: the same target converted with other options. Core ML's default
# precision is fp16; the fp32 column shows what the model computes without that rounding.
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "coreml-fp32": ("coreml", {"precision": "fp32"}),
}


def column_target(column: str) -> tuple[str, dict[str, Any]]:
    """The target and convert() options behind a matrix column name."""
    return VARIANTS.get(column, (column, {}))


def columns_for(targets: list[str]) -> list[str]:
    """The matrix columns for these targets: each target plus its variants."""
    extra = [c for c, (t, _) in VARIANTS.items() if t in targets and c not in targets]
    return sorted([*targets, *extra])


def run_case(case: Any, targets: list[str], options: Options) -> list[dict[str, Any]]:
    """Build, convert and check one case (runs in the case's subprocess)."""
    import logging

    _quiet(case.name)
    logging.disable(logging.WARNING)  # converter chatter belongs to the converters' own logs
    import interop

    started = time.perf_counter()
    model, example_inputs = case.build()
    build_s = time.perf_counter() - started
    cells = []
    for target in targets:
        base, convert_options = column_target(target)
        skip = case.skip.get(target) or case.skip.get(base)
        if skip:
            cells.append(_cell(case, target, "cannot convert", skip))
            continue
        t0 = time.perf_counter()
        try:
            conversion = interop.convert(
                model, to=base, example_inputs=example_inputs, **convert_options
            )
        except Exception as exc:
            cells.append(_cell(case, target, "cannot convert", _first_line(exc),
                               convert_s=time.perf_counter() - t0))
            continue
        convert_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        report = interop.check(
            model,
            conversion,
            batch_sizes=options.batch_sizes,
            latency=options.latency,
            threads=options.threads,
            time_budget_s=options.time_budget_s,
            repeat=options.repeat,
            case=case.name,
            case_tolerance=case.tolerance,
        )
        data = report.to_dict()
        for entry in data["parity"]:
            entry.pop("error_histogram", None)  # plots are for HTML reports, not the record
        extra: dict[str, Any] = {}
        fallback = conversion.provenance.get("interop.precision_fallback")
        if fallback:
            extra["precision_fallback"] = fallback
        if options.planted and report.passed:
            from conformance import planted

            extra["planted"] = planted.judge(model, conversion, case, options.batch_sizes,
                                             example_inputs)
        cells.append(
            _cell(
                case, target, report.verdict, "; ".join(report.failures[:2]),
                converter=report.converter,
                runtime=report.runtime,
                worst_abs_error=report.worst_abs_error(),
                latency_ratio=report.latency_ratio(),
                build_s=build_s,
                convert_s=convert_s,
                check_s=time.perf_counter() - t1,
                notes=case.notes,
                report=data,
                **extra,
            )
        )
    return cells


class Progress:
    """A one-line bar on a terminal; one line per finished case otherwise."""

    def __init__(self, total: int, stream: Any = sys.stderr) -> None:
        self.total, self.done, self.stream = total, 0, stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.started = time.perf_counter()

    def step(self, label: str, verdicts: list[str]) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.started
        summary = ", ".join(verdicts)
        if self.tty:
            width = 30
            filled = int(width * self.done / max(self.total, 1))
            bar = "#" * filled + "-" * (width - filled)
            self.stream.write(
                f"\r[{bar}] {self.done}/{self.total} {elapsed:5.0f}s "
                f"{label[:28]:<28} {summary[:30]:<30}"
            )
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(f"[{self.done}/{self.total}] {elapsed:.0f}s {label}: {summary}\n")
        self.stream.flush()


def run_suite(
    cases: list[Any],
    targets: list[str],
    options: Options = Options(),
    jobs: int = 1,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Every case in its own subprocess, ``jobs`` at a time; failures become cells."""
    from interop.harness.isolate import OK, call_isolated

    supported = available_targets()
    unavailable = unavailable_reasons()

    def one(case: Any) -> list[dict[str, Any]]:
        wanted = [
            t for t in targets if case.framework in supported.get(column_target(t)[0], set())
        ]
        cells = []
        for target in targets:
            if target in wanted:
                continue
            why = unavailable.get((case.framework, column_target(target)[0]))
            if why:  # a registered converter that cannot be used is worth a visible cell
                cells.append(_cell(case, target, "cannot convert", why))
            else:  # no converter for this pair at all: not applicable
                reason = f"no {case.framework}.{target} converter"
                cells.append(_cell(case, target, "n/a", reason))
        if not wanted:
            return cells
        started = time.perf_counter()
        status, value = call_isolated(
            run_case, (case, wanted, options),
            timeout=options.timeout_s, memory_limit_mb=options.memory_limit_mb,
        )
        if status == OK:
            return value + cells
        wall = time.perf_counter() - started
        cause = f"{value} (log: {LOG_DIR / (case.name + '.log')})"
        return [_cell(case, t, status, cause, wall_s=wall) for t in wanted] + cells

    results: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(one, case): case for case in cases}
        for future in as_completed(futures):
            cells = future.result()
            results.extend(cells)
            if progress:
                verdicts = [f"{c['target']}: {c['verdict']}" for c in cells]
                progress.step(futures[future].name, verdicts)
    order = {case.name: i for i, case in enumerate(cases)}
    results.sort(key=lambda c: (order[c["case"]], c["target"]))
    return results


def environment() -> dict[str, Any]:
    import interop.api

    env = interop.api.environment("torch", "tensorflow", "sklearn", "onnx", "coreml")
    env["cpus"] = os.cpu_count()
    return env


def write_results(cells: list[dict[str, Any]], wall_s: float, options: Options,
                  path: Path = RESULTS) -> Path:
    from dataclasses import asdict

    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "schema": SCHEMA,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(wall_s, 1),
        "options": asdict(options),
        "environment": environment(),
        "summary": summarize(cells),
        "cells": cells,
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    os.replace(tmp, path)
    return path


def merge_results(path: Path, cells: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], float]:
    """The cells of an existing results file with those in ``cells`` (same case and target)
    replaced, and that file's wall time (a partial rerun says nothing about a full run's).
    A rerun of one target keeps the case's other targets."""
    old = json.loads(path.read_text())
    rerun = {(c["case"], c["target"]) for c in cells}
    merged = [c for c in old["cells"] if (c["case"], c["target"]) not in rerun] + cells
    order = {name: i for i, name in enumerate(dict.fromkeys(c["case"] for c in old["cells"]))}
    merged.sort(key=lambda c: (order.get(c["case"], len(order)), c["target"]))
    return merged, float(old["wall_s"])


def summarize(cells: list[dict[str, Any]]) -> dict[str, Any]:
    verdicts: dict[str, int] = {}
    for cell in cells:
        verdicts[cell["verdict"]] = verdicts.get(cell["verdict"], 0) + 1
    return {
        "cases": len({c["case"] for c in cells}),
        "cells": len(cells),
        "verdicts": dict(sorted(verdicts.items())),
    }


def _fmt(value: Any, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def matrix_markdown(data: dict[str, Any]) -> str:
    """docs/support-matrix.md from a results file: case x converter."""
    cells = data["cells"]
    targets = sorted({c["target"] for c in cells})
    cases: dict[str, dict[str, Any]] = {}
    for cell in cells:
        cases.setdefault(cell["case"], {"framework": cell["framework"]})[cell["target"]] = cell
    env = data["environment"]
    lines = [
        "# Support matrix",
        "",
        "Generated by `python -m conformance` from `conformance/results/latest.json`; do not "
        "edit by hand.",
        "",
        f"Run {data['created']} on {env.get('platform')} ({env.get('cpus')} CPUs), Python "
        f"{env.get('python')}, interop {env.get('interop')}; suite wall time "
        f"{data['wall_s']:.0f} s. Each cell: parity verdict, worst absolute error over every "
        "output and batch size (1 and 8), and latency ratio converted/original p50 at batch 8 "
        "(1 thread each side; below 1 means the converted model is faster). \"no latency\": "
        "the runtime cannot time honestly (the Core ML reference executor on Linux). "
        "\"–\": no converter for that pair. Column `coreml` is Core ML's default precision "
        "(fp16 ML programs for torch and Keras, checked against the fp16 profile; "
        "scikit-learn's classic specs compute in double), `coreml-fp32` the same conversion "
        "with `precision=\"fp32\"`. See [tolerances](tolerances.md) for how to read "
        "the figures.",
        "",
        "| case | framework | " + " | ".join(targets) + " |",
        "|---|---|" + "---|" * len(targets),
    ]
    for name, row in cases.items():
        rendered = []
        for target in targets:
            cell = row.get(target)
            if cell is None or cell["verdict"] == "n/a":
                rendered.append("–")
            elif cell["verdict"] == "passed":
                ratio = cell.get("latency_ratio")
                speed = f"{ratio:.2g}×" if ratio is not None else "no latency"
                worst = cell.get("worst_abs_error")
                error = "labels agree" if worst is None else f"{worst:.1e}"
                rendered.append(f"✅ {error} · {speed}")
            elif cell["verdict"] == "cannot convert":
                rendered.append(f"⛔ cannot convert: {_short(cell['reason'])}")
            else:
                rendered.append(f"❌ {cell['verdict']}: {_short(cell['reason'])}")
        lines.append(f"| {name} | {row['framework']} | " + " | ".join(rendered) + " |")
    summary = data["summary"]
    lines += [
        "",
        f"{summary['cases']} cases, {summary['cells']} cells: "
        + ", ".join(f"{v} {k}" for k, v in summary["verdicts"].items())
        + ".",
    ]
    versions = ", ".join(f"{k} {v}" for k, v in env.items() if k not in ("platform", "cpus"))
    lines += ["", f"Versions: {versions}.", ""]
    return "\n".join(lines)


def _short(reason: str, limit: int = 140) -> str:
    text = " ".join(str(reason).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


SECTION = re.compile(r"<!-- ([\w-]+):begin -->.*?<!-- \1:end -->", re.DOTALL)


def generated_sections(path: Path) -> dict[str, str]:
    """The marked sections of an existing page (``<!-- NAME:begin -->`` .. ``:end -->``),
    which other generators (the zoo tier, the scikit-learn coverage run) own."""
    if not path.exists():
        return {}
    return {m.group(1): m.group(0) for m in SECTION.finditer(path.read_text())}


def write_page(path: Path, main: str | None = None, **sections: str) -> Path:
    """Write the matrix page: the main table (kept from the page when None) followed by every
    generated section, the given ones replacing their old text."""
    old = path.read_text() if path.exists() else ""
    if main is None:
        main = SECTION.sub("", old).rstrip() + "\n"
    kept = generated_sections(path)
    for name, body in sections.items():
        kept[name] = f"<!-- {name}:begin -->\n{body.rstrip()}\n<!-- {name}:end -->"
    parts = [main.rstrip()] + [kept[name] for name in sorted(kept)]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text("\n\n".join(parts) + "\n")
    os.replace(tmp, path)
    return path


def write_matrix(results: Path = RESULTS, path: Path = MATRIX) -> Path:
    data = json.loads(results.read_text())
    return write_page(path, matrix_markdown(data))


def zoo_markdown(data: dict[str, Any]) -> str:
    """The zoo section: counts per family and target, then each model's verdict and times."""
    cells = [c for c in data["cells"] if c["verdict"] != "n/a"]
    targets = sorted({c["target"] for c in cells})
    env = data["environment"]
    families: dict[str, dict[str, list[int]]] = {}
    for cell in cells:
        family = f"{cell['framework']}: {cell['tags'][0] if cell['tags'] else 'other'}"
        tally = families.setdefault(family, {}).setdefault(cell["target"], [0, 0])
        tally[0] += cell["verdict"] == "passed"
        tally[1] += 1
    lines = [
        "## Zoo tier (generated by `python -m conformance --tier zoo`)",
        "",
        f"Real architectures built from small configs with random weights, nothing downloaded "
        f"(Hugging Face transformers, Keras Applications, scikit-learn and boosting models on "
        f"datasets that ship with scikit-learn). Run {data['created']} on {env.get('cpus')} "
        f"CPUs{'; ' + data['notes'] if data.get('notes') else ''}. Versions: "
        + ", ".join(f"{k} {v}" for k, v in env.items() if k not in ("platform", "cpus"))
        + ".",
        "",
        "| family | " + " | ".join(f"{t} passed" for t in targets) + " |",
        "|---|" + "---|" * len(targets),
    ]
    totals = {t: [0, 0] for t in targets}
    for family, by_target in sorted(families.items()):
        row = []
        for target in targets:
            passed, total = by_target.get(target, [0, 0])
            totals[target][0] += passed
            totals[target][1] += total
            row.append(f"{passed}/{total}" if total else "–")
        lines.append(f"| {family} | " + " | ".join(row) + " |")
    lines.append("| **all** | " + " | ".join(
        f"**{p}/{n} ({100 * p / max(n, 1):.0f} %)**" for p, n in totals.values()) + " |")
    fallbacks = [c for c in cells if c.get("precision_fallback")]
    if fallbacks:
        lines += ["", f"{len(fallbacks)} Core ML cells passed at fp32 after the default fp16 "
                  "program failed on a model that fp16 rounding of its inputs alone moves too "
                  "far (`convert` falls back when no precision is given; docs/tolerances.md)."]
    judged = [c["planted"] for c in cells if c.get("planted")]
    planted = [p for p in judged if p["caught"] is not None]
    if judged:
        caught = sum(bool(p["caught"]) for p in planted)
        agree = sum(bool(p.get("agree")) for p in planted)
        lines += ["", f"Planted faults (the last executed layer's weights ×1.01 in a copy of the "
                  f"original, after a pass): check failed on {caught} of {len(planted)}, and "
                  f"convert's validation agreed with check on {agree} of {len(planted)}; "
                  f"{len(judged) - len(planted)} passing cells had no weight tensor to scale "
                  f"(trees, k-NN, SVR, boosting)."]
    lines += ["", "| model | target | verdict | worst abs error | convert s | check s | "
              "planted fault | why |", "|---|---|---|---|---|---|---|---|"]
    for cell in cells:
        worst = cell.get("worst_abs_error")
        lines.append(
            f"| {cell['case']} | {cell['target']} | {cell['verdict']}"
            f"{' (fp32 fallback)' if cell.get('precision_fallback') else ''} | "
            f"{_fmt(worst, '.1e')} | {_fmt(cell.get('convert_s'), '.1f')} | "
            f"{_fmt(cell.get('check_s'), '.1f')} | {_planted_cell(cell.get('planted'))} | "
            f"{_why(cell['reason']) if cell['verdict'] != 'passed' else ''} |"
        )
    return "\n".join(lines)


_FP16_SENSITIVE = re.compile(
    r"rounding only the inputs to fp16 moves the original's own outputs by ([0-9.e+-]+)"
)


def _why(reason: str) -> str:
    """A failure's reason for the table; an fp16-sensitive model is named as such first (the
    figure sits at the end of a long parity message, past what the table shows)."""
    found = _FP16_SENSITIVE.search(reason)
    if found:
        return (f"fp16-sensitive model: rounding only its inputs to fp16 moves the original "
                f"by {found.group(1)} (relative RMS); see the coreml-fp32 column")
    return _short(reason)


def _planted_cell(planted: dict[str, Any] | None) -> str:
    if not planted:
        return "–"
    if planted["caught"] is None:
        return "not planted: " + planted["reason"]
    verdict = "caught" if planted["caught"] else "MISSED"
    agree = "" if planted.get("agree") else ", convert disagrees"
    rel_rms = _fmt(planted.get("rel_rms_error"), ".1e")
    return f"{verdict} ({planted['layer']}, rel RMS {rel_rms}{agree})"


def write_zoo_section(results: Path, path: Path = MATRIX) -> Path:
    return write_page(path, None, zoo=zoo_markdown(json.loads(results.read_text())))
