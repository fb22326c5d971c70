"""Renderings of an Optimization: a plain-text candidate table (for the command line), JSON,
Markdown and a self-contained HTML page, built from the check report's table helpers."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interop.harness.report import CSS, _fmt, _html_table, _md_table

if TYPE_CHECKING:
    from interop.optimize.result import CandidateResult, Optimization

HEADER = [
    "candidate",
    "kind",
    "status",
    "worst abs",
    "metrics",
    "vs plain",
    "p50 ms",
    "size KB",
    "reason",
]
METRIC_LABELS = (
    ("required_atol", "atol needed", ".2g"),
    ("min_cosine", "cos", ".6f"),
    ("max_relative_rms", "rel rms", ".2%"),
    ("label_agreement", "labels", ".1%"),
    ("accuracy_drop", "acc drop", "+.2%"),
)


def _metrics(result: CandidateResult) -> str:
    parts = []
    for key, label, spec in METRIC_LABELS:
        value = result.metrics.get(key)
        if isinstance(value, (int, float)):
            parts.append(f"{label} {format(value, spec)}")
    return ", ".join(parts)


def _p50(result: CandidateResult) -> str:
    return " / ".join(f"b{b} {v:.3g}" for b, v in sorted(result.p50_ms.items())) or "–"


def rows(opt: Optimization) -> list[list[str]]:
    table = []
    for r in opt.candidates:
        mark = " *" if r.name == opt.best_name else ""
        table.append(
            [
                r.name + mark,
                r.kind,
                r.status,
                _fmt(r.worst_abs_error),
                _metrics(r),
                _fmt(r.latency_ratio, ".3f"),
                _p50(r),
                _fmt(r.size_bytes / 1024 if r.size_bytes is not None else None, ".0f"),
                r.reason,
            ]
        )
    return table


def summary(opt: Optimization) -> str:
    speed = (
        f"{opt.speedup:.2f}x faster than the plain conversion"
        if opt.speedup
        else ("latency not measured")
    )
    line = f"profile {opt.profile}: best {opt.best_name} ({speed}; {opt.threads} thread(s))"
    vs = opt.original_ratio()
    if vs is not None:
        batch = max(opt.batch_sizes)
        line += f"; best/original p50 at batch {batch}: {vs:.3f}"
    return line


def text_table(opt: Optimization) -> str:
    """Aligned columns; the chosen variant is marked with *."""
    body = rows(opt)
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(HEADER)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADER, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in body:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    lines += ["", summary(opt)] + [f"note: {n}" for n in opt.notes]
    return "\n".join(lines)


def to_json(opt: Optimization) -> str:
    return json.dumps(opt.to_dict(), indent=2) + "\n"


def _originals(opt: Optimization) -> list[list[str]]:
    best = opt.best_result.p50_ms
    return [
        [
            str(b),
            _fmt(opt.original_p50_ms.get(b), ".4g"),
            _fmt(opt.plain_p50_ms.get(b), ".4g"),
            _fmt(best.get(b), ".4g"),
        ]
        for b in opt.batch_sizes
    ]


LATENCY_HEADER = ["batch", "original p50 ms", "plain p50 ms", "best p50 ms"]


def to_markdown(opt: Optimization) -> str:
    out = [
        f"# interop optimize: {opt.target}, profile {opt.profile}",
        "",
        summary(opt),
        "",
        "## Candidates",
        "",
        _md_table(HEADER, rows(opt)),
        "",
        "## Latency",
        "",
        _md_table(LATENCY_HEADER, _originals(opt)),
        "",
    ]
    if opt.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in opt.notes] + [""]
    out += ["## Environment", ""] + [f"- {k}: {v}" for k, v in opt.environment.items()]
    return "\n".join(out) + "\n"


def to_html(opt: Optimization) -> str:
    title = f"interop optimize: {opt.target}, profile {opt.profile}"
    body = rows(opt)
    for row in body:  # the report's table colours "pass" / "FAIL" cells
        row[2] = {"passed": "pass", "failed": "FAIL", "error": "FAIL"}.get(row[2], row[2])
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p>{html.escape(summary(opt))}</p>",
        "<h2>Candidates</h2>",
        _html_table(HEADER, body),
        "<h2>Latency</h2>",
        _html_table(LATENCY_HEADER, _originals(opt)),
    ]
    if opt.notes:
        parts.append(
            "<h2>Notes</h2><ul>"
            + "".join(f"<li>{html.escape(n)}</li>" for n in opt.notes)
            + "</ul>"
        )
    env = [[str(k), str(v)] for k, v in opt.environment.items()]
    parts += ["<h2>Environment</h2>", _html_table(["name", "version"], env), "</body></html>"]
    return "\n".join(parts) + "\n"


def save(opt: Optimization, path: Path) -> Path:
    from interop.errors import InvalidInput
    from interop.types import atomic_write

    renderers: dict[str, Any] = {".json": to_json, ".md": to_markdown, ".html": to_html}
    suffix = path.suffix.lower()
    if suffix not in renderers:
        raise InvalidInput(
            f"cannot tell the report format from {path.name!r}",
            "use a path ending in .json, .md or .html",
        )
    text = renderers[suffix](opt)

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    return atomic_write(path, write)
