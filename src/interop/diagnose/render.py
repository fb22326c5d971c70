"""Markdown and self-contained HTML for a diagnosis dictionary (schema interop.diagnosis/1)."""

from __future__ import annotations

import html
from typing import Any

from interop.harness.layer_plot import layer_error_plot

HEADER = ["#", "layer", "passed", "max abs error", "required atol", "atol", "nodes"]


def _rows(data: dict[str, Any]) -> list[list[str]]:
    first = (data.get("first_divergence") or {}).get("layer")
    rows = []
    for i, d in enumerate(data.get("layers", [])):
        mark = " ← first divergence" if d["layer"] == first else ""
        nodes = ", ".join(d.get("nodes", [])[:4]) + (" …" if len(d.get("nodes", [])) > 4 else "")
        rows.append([
            str(i),
            f"{d['layer']}{mark}",
            "yes" if d["passed"] else "NO",
            f"{d['max_abs_error']:.3g}" if isinstance(d["max_abs_error"], float) else "?",
            f"{d['required_atol']:.3g}" if isinstance(d["required_atol"], float) else "?",
            f"{d['atol']:g}",
            nodes,
        ])
    return rows


def to_markdown(data: dict[str, Any]) -> str:
    lines = [f"# interop diagnosis: {data['source']} → {data['target']}", "", data["summary"], ""]
    lines += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in _rows(data)]
    if data.get("minimal_input_info"):
        lines += ["", "Minimal failing input: " + ", ".join(
            f"{k} {v}" for k, v in data["minimal_input_info"].items())]
    if data.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in data["notes"]]
    return "\n".join(lines) + "\n"


def to_html(data: dict[str, Any]) -> str:
    first = (data.get("first_divergence") or {}).get("layer")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>interop diagnosis: {html.escape(data['source'])} → "
        f"{html.escape(data['target'])}</title></head><body>",
        f"<h1>interop diagnosis: {html.escape(data['source'])} → "
        f"{html.escape(data['target'])}</h1>",
        f"<p>{html.escape(data['summary'])}</p>",
        f"<figure>{layer_error_plot('plot-layers', data.get('layers', []), first)}"
        "<figcaption>max abs error per layer, tolerance dashed</figcaption></figure>",
        "<table><tr>" + "".join(f"<th>{h}</th>" for h in HEADER) + "</tr>",
    ]
    parts += [
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
        for row in _rows(data)
    ]
    parts.append("</table>")
    if data.get("notes"):
        parts.append("<h2>Notes</h2><ul>")
        parts += [f"<li>{html.escape(n)}</li>" for n in data["notes"]]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
