"""An inline SVG of the error per layer (log scale) with the first divergence marked.

Takes plain dicts (a diagnosis's ``layers``), so the check report and the diagnosis page
draw the same plot without importing each other.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 260, 56, 40, 24
FLOOR = 1e-12


def _log(value: Any) -> float:
    number = float(value) if isinstance(value, (int, float)) else FLOOR
    return math.log10(max(number, FLOOR)) if math.isfinite(number) else 12.0


def layer_error_plot(
    plot_id: str, layers: Sequence[dict[str, Any]], first_divergence: str | None
) -> str:
    """Bars of max abs error per layer in execution order; the tolerance as a dashed line;
    the first divergent layer in red and named under the axis."""
    if not layers:
        return ""
    logs = [_log(d.get("max_abs_error")) for d in layers]
    atols = [_log(d.get("atol")) for d in layers]
    low = math.floor(min(logs + atols)) - 1
    high = math.ceil(max(logs + atols)) + 1
    span = max(high - low, 1)
    plot_w, plot_h = WIDTH - LEFT - 10, HEIGHT - BOTTOM - TOP
    step = plot_w / len(layers)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - (value - low) / span)

    out = [
        f'<svg id="{html.escape(plot_id)}" class="plot" xmlns="http://www.w3.org/2000/svg" '
        f'width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img">',
        f'<title>max abs error per layer (log10), {len(layers)} layers</title>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#444"/>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 10}" y2="{TOP + plot_h}" '
        'stroke="#444"/>',
    ]
    for tick in range(low, high + 1, max(1, span // 6)):
        out.append(
            f'<text x="{LEFT - 4}" y="{y(tick) + 4:.1f}" font-size="10" text-anchor="end">'
            f"1e{tick}</text>"
        )
    for i, (entry, value) in enumerate(zip(layers, logs, strict=True)):
        name = str(entry.get("layer", ""))
        first = name == first_divergence
        colour = "#c0392b" if first else ("#2e7d32" if entry.get("passed") else "#e67e22")
        top = y(value)
        out.append(
            f'<rect x="{LEFT + i * step + 0.5:.1f}" y="{top:.1f}" '
            f'width="{max(step - 1, 0.5):.1f}" height="{TOP + plot_h - top:.1f}" '
            f'fill="{colour}"><title>{html.escape(name)}: '
            f'{entry.get("max_abs_error")}</title></rect>'
        )
        tol_y = y(atols[i])
        out.append(
            f'<line x1="{LEFT + i * step:.1f}" x2="{LEFT + (i + 1) * step:.1f}" '
            f'y1="{tol_y:.1f}" y2="{tol_y:.1f}" stroke="#555" stroke-dasharray="3,2"/>'
        )
        if first:
            out.append(
                f'<text x="{LEFT + (i + 0.5) * step:.1f}" y="{HEIGHT - 8}" font-size="11" '
                f'fill="#c0392b" text-anchor="middle">first divergence: '
                f"{html.escape(name)}</text>"
            )
    out.append("</svg>")
    return "\n".join(out)
