"""The Report of a check and its renderings: JSON, Markdown, self-contained HTML, JUnit XML.

Only the standard library is used here, so a saved JSON report can be reloaded and
rendered again anywhere (``Report.from_dict``).
"""

from __future__ import annotations

import html
import json
import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeGuard

SCHEMA = "interop.report/1"
SUFFIXES = (".json", ".md", ".html", ".xml")


@dataclass
class Report:
    """The outcome of ``interop.check``: verdict, parity per output and batch, latency.

    ``verdict`` is "passed", "failed" (numbers differ, or an output is missing or
    malformed), "crash", "timeout", "out-of-memory", "error" (a side could not load or
    run) or "cannot convert" (suite runs only).
    """

    passed: bool
    verdict: str
    source: str
    target: str
    converter: str
    runtime: str
    original_runtime: str = ""
    case: str | None = None
    parity: list[dict[str, Any]] = field(default_factory=list)
    latency: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    load: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    diagnosis: dict[str, Any] | None = None  # interop.diagnosis/1, from check(diagnose=True)

    # -- figures ---------------------------------------------------------------------------
    def worst_abs_error(self) -> float | None:
        """The largest max_abs_error over every output and batch size (None without values)."""
        errors = [p["max_abs_error"] for p in self.parity if _number(p.get("max_abs_error"))]
        return max(errors) if errors else None

    def failing_outputs(self) -> list[str]:
        return sorted({p["output"] for p in self.parity if not p.get("passed")})

    def latency_ratio(self, batch_size: int | None = None) -> float | None:
        """converted/original p50 at ``batch_size`` (default: the largest measured)."""
        rows = [r for r in self.latency if _number(r.get("ratio"))]
        if batch_size is not None:
            rows = [r for r in rows if r["batch_size"] == batch_size]
        return max(rows, key=lambda r: r["batch_size"])["ratio"] if rows else None

    # -- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"schema": SCHEMA}
        for f in fields(self):
            data[f.name] = _clean(getattr(self, f.name))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not an {SCHEMA} report: schema {data.get('schema')!r}")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the report; the format follows the suffix (.json .md .html .xml)."""
        from interop.errors import InvalidInput
        from interop.types import atomic_write

        target = Path(path)
        suffix = target.suffix.lower()
        renderers = {".json": to_json, ".md": to_markdown, ".html": to_html, ".xml": to_junit}
        if suffix not in renderers:
            raise InvalidInput(
                f"cannot tell the report format from {target.name!r}",
                "use a path ending in " + ", ".join(SUFFIXES),
            )
        text = renderers[suffix](self)
        def write(tmp: Path) -> None:
            tmp.write_text(text, encoding="utf-8")

        return atomic_write(target, write)

    def __str__(self) -> str:
        worst = self.worst_abs_error()
        ratio = self.latency_ratio()
        parts = [f"{self.verdict.upper()} {self.source} -> {self.target} ({self.converter})"]
        if worst is not None:
            parts.append(f"worst abs error {worst:.3g}")
        if ratio is not None:
            parts.append(f"latency ratio {ratio:.3g}")
        parts += self.failures[:3]
        return "; ".join(parts)


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _clean(value: Any) -> Any:
    """JSON-safe copies: non-finite floats become null / "inf", tuples become lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # a numpy scalar
        return _clean(value.item())
    return value


def _fmt(value: Any, spec: str = ".3g") -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return format(value, spec)
    return str(value)


# -- JSON / Markdown ----------------------------------------------------------------------
def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=False) + "\n"


def _parity_rows(report: Report) -> list[list[str]]:
    return [
        [
            str(p.get("batch_size")),
            f"{p.get('output')} → {p.get('converted_output')}",
            "pass" if p.get("passed") else "FAIL",
            _fmt(p.get("max_abs_error")),
            _fmt(p.get("max_rel_error")),
            _fmt(p.get("p99_abs_error")),
            _fmt(p.get("cosine_similarity"), ".6f"),
            _fmt(p.get("label_agreement"), ".2%") if p.get("label_agreement") is not None else "–",
            f"{_fmt(p.get('atol'), 'g')} / {_fmt(p.get('rtol'), 'g')}",
            _fmt(p.get("required_atol")),
            p.get("reason") or "",
        ]
        for p in report.parity
    ]


PARITY_HEADER = [
    "batch", "output", "verdict", "max abs", "max rel", "p99 abs", "cosine", "labels",
    "atol / rtol", "atol needed", "reason",
]
LATENCY_HEADER = [
    "batch", "threads", "original p50 ms", "converted p50 ms", "ratio", "original p90 ms",
    "converted p90 ms", "original first ms", "converted first ms", "runs",
]


def _latency_rows(report: Report) -> list[list[str]]:
    return [
        [
            str(r.get("batch_size")),
            str(r.get("threads")),
            _fmt(r.get("original_p50_ms"), ".4g"),
            _fmt(r.get("converted_p50_ms"), ".4g"),
            _fmt(r.get("ratio"), ".3f"),
            _fmt(r.get("original_p90_ms"), ".4g"),
            _fmt(r.get("converted_p90_ms"), ".4g"),
            _fmt(r.get("original_first_run_ms"), ".4g"),
            _fmt(r.get("converted_first_run_ms"), ".4g"),
            f"{_fmt(r.get('original_runs'))}/{_fmt(r.get('converted_runs'))}",
        ]
        for r in report.latency
    ]


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def to_markdown(report: Report) -> str:
    title = report.case or f"{report.source} model"
    out = [
        f"# interop check: {title} → {report.target}",
        "",
        f"**Verdict: {report.verdict}** · converter `{report.converter}` · original on "
        f"`{report.original_runtime}`, converted on `{report.runtime}`",
        "",
    ]
    if report.failures:
        out += ["## Failures", ""] + [f"- {f}" for f in report.failures] + [""]
    if report.parity:
        out += ["## Parity", "", _md_table(PARITY_HEADER, _parity_rows(report)), ""]
    if report.latency:
        out += ["## Latency", "", _md_table(LATENCY_HEADER, _latency_rows(report)), ""]
        if report.load:
            out += [
                f"Load time: original {_fmt(report.load.get('original_ms'), '.4g')} ms, "
                f"converted {_fmt(report.load.get('converted_ms'), '.4g')} ms.",
                "",
            ]
    if report.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in report.notes] + [""]
    out += ["## Environment", ""]
    out += [f"- {k}: {v}" for k, v in report.environment.items()]
    return "\n".join(out) + "\n"


# -- HTML with inline SVG plots -----------------------------------------------------------
PLOT_W, PLOT_H = 420, 220
MARGIN_L, MARGIN_B, MARGIN_T, MARGIN_R = 48, 36, 26, 12
COLORS = {"original": "#4c72b0", "converted": "#dd8452", "bar": "#55a868", "fail": "#c44e52"}


def _svg_open(plot_id: str, title: str) -> list[str]:
    return [
        f'<svg id="{plot_id}" class="plot" xmlns="http://www.w3.org/2000/svg" '
        f'width="{PLOT_W}" height="{PLOT_H}" viewBox="0 0 {PLOT_W} {PLOT_H}" role="img">',
        f"<title>{html.escape(title)}</title>",
        f'<rect x="0" y="0" width="{PLOT_W}" height="{PLOT_H}" fill="#ffffff"/>',
    ]


def _axes(lines: list[str], y_max: float, y_label: str) -> None:
    x0, y0 = MARGIN_L, PLOT_H - MARGIN_B
    lines.append(f'<line x1="{x0}" y1="{MARGIN_T}" x2="{x0}" y2="{y0}" stroke="#333"/>')
    lines.append(f'<line x1="{x0}" y1="{y0}" x2="{PLOT_W - MARGIN_R}" y2="{y0}" stroke="#333"/>')
    lines.append(
        f'<text x="{x0 - 4}" y="{MARGIN_T + 8}" font-size="10" text-anchor="end">'
        f"{_fmt(y_max, '.3g')}</text>"
    )
    lines.append(f'<text x="{x0 - 4}" y="{y0}" font-size="10" text-anchor="end">0</text>')
    lines.append(
        f'<text x="12" y="{(MARGIN_T + y0) / 2}" font-size="10" '
        f'transform="rotate(-90 12 {(MARGIN_T + y0) / 2})" text-anchor="middle">'
        f"{html.escape(y_label)}</text>"
    )


def error_plot(plot_id: str, entry: dict[str, Any]) -> str:
    """A histogram of absolute errors per decade for one output at one batch size."""
    hist = entry.get("error_histogram") or {}
    edges = list(hist.get("edges") or [])
    counts = list(hist.get("counts") or [])
    zeros = int((hist.get("zeros") or [0])[0])
    labels = ["0"] + [f"1e{int(e)}" for e in edges[:-1]]
    values = [zeros] + counts
    lines = _svg_open(plot_id, f"absolute error distribution of {entry.get('output')}")
    top = max(values) if values else 0
    _axes(lines, float(top), "elements")
    inner_w = PLOT_W - MARGIN_L - MARGIN_R
    inner_h = PLOT_H - MARGIN_T - MARGIN_B
    n = max(len(values), 1)
    slot = inner_w / n
    color = COLORS["bar"] if entry.get("passed") else COLORS["fail"]
    for i, (label, value) in enumerate(zip(labels, values, strict=False)):
        h = inner_h * value / top if top else 0.0
        x = MARGIN_L + i * slot + 1
        y = PLOT_H - MARGIN_B - h
        lines.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(slot - 2, 1):.1f}" height="{h:.1f}" '
            f'fill="{color}"><title>{label}: {value}</title></rect>'
        )
        if i % 2 == 0:
            lines.append(
                f'<text x="{x + slot / 2:.1f}" y="{PLOT_H - MARGIN_B + 12}" font-size="9" '
                f'text-anchor="middle">{label}</text>'
            )
    atol = entry.get("atol")
    if _number(atol) and atol > 0 and edges:
        # where atol falls on the decade axis, so a reader sees which bars are over it
        pos = (math.log10(atol) - edges[0]) / (edges[-1] - edges[0])
        x = MARGIN_L + slot + max(0.0, min(1.0, pos)) * (inner_w - slot)
        lines.append(
            f'<line x1="{x:.1f}" y1="{MARGIN_T}" x2="{x:.1f}" y2="{PLOT_H - MARGIN_B}" '
            f'stroke="#333" stroke-dasharray="4 3"/>'
        )
        lines.append(f'<text x="{x + 3:.1f}" y="{MARGIN_T + 10}" font-size="10">atol</text>')
    lines.append(
        f'<text x="{PLOT_W / 2}" y="{PLOT_H - 6}" font-size="10" text-anchor="middle">'
        "|converted − original| (per decade)</text>"
    )
    lines.append("</svg>")
    return "\n".join(lines)


def latency_plot(plot_id: str, rows: list[dict[str, Any]]) -> str:
    """Grouped bars: p50 of the original and the converted model per batch size."""
    lines = _svg_open(plot_id, "p50 latency per batch size")
    values: list[float] = [
        v for r in rows for v in (r.get("original_p50_ms"), r.get("converted_p50_ms")) if _number(v)
    ]
    top = max(values) if values else 0.0
    _axes(lines, top, "p50 ms")
    inner_w = PLOT_W - MARGIN_L - MARGIN_R
    inner_h = PLOT_H - MARGIN_T - MARGIN_B
    slot = inner_w / max(len(rows), 1)
    for i, row in enumerate(rows):
        for j, side in enumerate(("original", "converted")):
            value = row.get(f"{side}_p50_ms")
            x = MARGIN_L + i * slot + slot * (0.15 + 0.35 * j)
            if not _number(value):
                lines.append(
                    f'<text x="{x + slot * 0.17:.1f}" y="{PLOT_H - MARGIN_B - 4}" '
                    f'font-size="9" text-anchor="middle">n/a</text>'
                )
                continue
            h = inner_h * value / top if top else 0.0
            lines.append(
                f'<rect x="{x:.1f}" y="{PLOT_H - MARGIN_B - h:.1f}" width="{slot * 0.33:.1f}" '
                f'height="{h:.1f}" fill="{COLORS[side]}"><title>{side}: {value:.4g} ms'
                "</title></rect>"
            )
        lines.append(
            f'<text x="{MARGIN_L + (i + 0.5) * slot:.1f}" y="{PLOT_H - MARGIN_B + 12}" '
            f'font-size="10" text-anchor="middle">batch {row.get("batch_size")}</text>'
        )
    for j, side in enumerate(("original", "converted")):
        x = PLOT_W - MARGIN_R - 150 + j * 78
        lines.append(
            f'<rect x="{x}" y="6" width="10" height="10" fill="{COLORS[side]}"/>'
        )
        lines.append(f'<text x="{x + 13}" y="15" font-size="10">{side}</text>')
    lines.append("</svg>")
    return "\n".join(lines)


CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:20px} h2{font-size:16px;margin-top:24px}
table{border-collapse:collapse;font-size:12px} td,th{border:1px solid #ccc;padding:3px 6px}
th{background:#f3f3f3} .pass{color:#2a7a2a;font-weight:600} .fail{color:#b00;font-weight:600}
.plots{display:flex;flex-wrap:wrap;gap:16px} figure{margin:0}
figcaption{font-size:12px;text-align:center}
"""


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for cell in row:
            cls = ' class="pass"' if cell == "pass" else ' class="fail"' if cell == "FAIL" else ""
            cells.append(f"<td{cls}>{html.escape(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def plotted_entries(report: Report) -> list[dict[str, Any]]:
    """One parity entry per output (its largest batch size) that has an error histogram."""
    best: dict[str, dict[str, Any]] = {}
    for entry in report.parity:
        if not entry.get("error_histogram"):
            continue
        name = str(entry.get("output"))
        if name not in best or entry.get("batch_size", 0) > best[name].get("batch_size", 0):
            best[name] = entry
    return [best[k] for k in sorted(best)]


def to_html(report: Report) -> str:
    """A self-contained page: no scripts, no fonts or images fetched, plots as inline SVG."""
    title = report.case or f"{report.source} model"
    verdict_cls = "pass" if report.passed else "fail"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>interop check: {html.escape(title)} → {html.escape(report.target)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>interop check: {html.escape(title)} → {html.escape(report.target)}</h1>",
        f'<p>Verdict: <span class="{verdict_cls}">{html.escape(report.verdict)}</span> · '
        f"converter <code>{html.escape(report.converter)}</code> · original on "
        f"<code>{html.escape(report.original_runtime)}</code>, converted on "
        f"<code>{html.escape(report.runtime)}</code></p>",
    ]
    if report.failures:
        parts.append("<h2>Failures</h2><ul>")
        parts += [f"<li>{html.escape(f)}</li>" for f in report.failures]
        parts.append("</ul>")
    plots = []
    for i, entry in enumerate(plotted_entries(report)):
        caption = f"{entry.get('output')} (batch {entry.get('batch_size')})"
        plots.append(
            f"<figure>{error_plot(f'plot-errors-{i}', entry)}"
            f"<figcaption>errors of {html.escape(caption)}</figcaption></figure>"
        )
    if report.latency:
        plots.append(
            f"<figure>{latency_plot('plot-latency', report.latency)}"
            "<figcaption>latency per batch size</figcaption></figure>"
        )
    if report.diagnosis and report.diagnosis.get("layers"):
        from interop.harness.layer_plot import layer_error_plot

        first = (report.diagnosis.get("first_divergence") or {}).get("layer")
        plots.append(
            f"<figure>{layer_error_plot('plot-layers', report.diagnosis['layers'], first)}"
            f"<figcaption>{html.escape(str(report.diagnosis.get('summary', '')))}"
            "</figcaption></figure>"
        )
    if plots:
        parts.append('<h2>Plots</h2><div class="plots">' + "".join(plots) + "</div>")
    if report.parity:
        parts += ["<h2>Parity</h2>", _html_table(PARITY_HEADER, _parity_rows(report))]
    if report.latency:
        parts += ["<h2>Latency</h2>", _html_table(LATENCY_HEADER, _latency_rows(report))]
    if report.notes:
        parts.append("<h2>Notes</h2><ul>")
        parts += [f"<li>{html.escape(n)}</li>" for n in report.notes]
        parts.append("</ul>")
    env_rows = [[str(k), str(v)] for k, v in report.environment.items()]
    parts += ["<h2>Environment</h2>", _html_table(["name", "version"], env_rows)]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# -- JUnit XML ----------------------------------------------------------------------------
def to_junit(report: Report) -> str:
    """One testsuite; a testcase per output and batch size, or one for a side that failed."""
    suite_name = report.case or f"{report.source}.{report.target}"
    suite = ET.Element("testsuite", name=f"interop.check.{suite_name}")
    cases = 0
    failed = 0
    errors = 0
    for entry in report.parity:
        cases += 1
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"interop.{report.converter}.{suite_name}",
            name=f"{entry.get('output')}[batch={entry.get('batch_size')}]",
        )
        if not entry.get("passed"):
            failed += 1
            ET.SubElement(case, "failure", message=str(entry.get("reason") or "failed")).text = (
                json.dumps(_clean({k: v for k, v in entry.items() if k != "error_histogram"}))
            )
    if not report.parity or report.verdict in ("crash", "timeout", "out-of-memory", "error"):
        cases += 1
        errors += 0 if report.passed else 1
        case = ET.SubElement(
            suite, "testcase", classname=f"interop.{report.converter}.{suite_name}", name="run"
        )
        if not report.passed:
            ET.SubElement(case, "error", type=report.verdict, message="; ".join(report.failures))
    suite.set("tests", str(cases))
    suite.set("failures", str(failed))
    suite.set("errors", str(errors))
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
