"""The HTML report renders its plots in a real browser (headless Chromium).

The report is self-contained (no scripts, no network), so to find where the plots landed
this test renders a copy with a small script that writes each plot's bounding box into the
DOM (read back with --dump-dom), then screenshots the unmodified page at the same window
size and checks that each box holds drawn pixels, not a blank area.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import interop
from tests.harness_fixtures import mlp_onnx, mlp_weights, onnx_conversion

WINDOW = (1400, 1800)
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")

PROBE = """<script>
document.addEventListener('DOMContentLoaded', () => {
  const boxes = {};
  for (const el of document.querySelectorAll('svg.plot')) {
    const r = el.getBoundingClientRect();
    boxes[el.id] = [r.left, r.top, r.width, r.height];
  }
  const out = document.createElement('pre');
  out.id = 'plot-boxes';
  out.textContent = JSON.stringify(boxes);
  out.style.display = 'none';
  document.body.appendChild(out);
});
</script>"""


def _chromium() -> str:
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    message = "headless Chromium is needed (apt-get install chromium)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message + "; CI must install it (see .ci/run)")
    pytest.skip(message)


def _browser(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    base = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--no-first-run", "--disable-extensions", "--force-device-scale-factor=1",
        f"--user-data-dir={tmp / 'profile'}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
    ]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def report():
    weights = mlp_weights()
    drifted = {**weights, "w2": weights["w2"] * np.float32(1.001)}
    # a failing check still has errors to plot, and both sides have latency figures
    return interop.check(mlp_onnx(weights, extra_output="hidden"),
                         onnx_conversion(mlp_onnx(drifted, extra_output="hidden"),
                                         outputs=("y", "hidden")),
                         batch_sizes=(1, 8, 32), time_budget_s=0.05)


def test_html_is_self_contained(report, tmp_path):
    page = report.save(tmp_path / "report.html").read_text()
    assert "<script" not in page and not re.search(r"(src|href)=\"https?:", page)
    assert page.count('class="plot"') == 3  # errors of y and hidden, and latency
    assert 'id="plot-latency"' in page and "FAIL" in page


def test_plots_render_in_headless_chromium(report, tmp_path):
    from PIL import Image

    page = report.save(tmp_path / "report.html")
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom = _browser(["--dump-dom", probe.as_uri()], tmp_path)
    found = re.search(r'<pre id="plot-boxes"[^>]*>(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stderr[-2000:]
    boxes = json.loads(found.group(1))
    assert sorted(boxes) == ["plot-errors-0", "plot-errors-1", "plot-latency"]

    shot = tmp_path / "shot.png"
    result = _browser([f"--screenshot={shot}", page.as_uri()], tmp_path)
    assert shot.exists(), result.stderr[-2000:]
    image = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert image.shape == (WINDOW[1], WINDOW[0])
    for plot_id, (left, top, width, height) in boxes.items():
        assert width > 300 and height > 150, (plot_id, width, height)
        assert top + height <= WINDOW[1], f"{plot_id} below the fold"
        region = image[int(top):int(top + height), int(left):int(left + width)]
        drawn = float(np.mean(region < 200))  # bars, axes and labels are dark on white
        assert region.std() > 20 and drawn > 0.03, (plot_id, region.std(), drawn)
    # the bars themselves are there: the latency plot holds both bar colours
    rgb = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int32)
    left, top, width, height = (int(v) for v in boxes["plot-latency"])
    region = rgb[top:top + height, left:left + width].reshape(-1, 3)
    for color in ("#4c72b0", "#dd8452"):
        want = np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)])
        assert np.sum(np.all(np.abs(region - want) <= 6, axis=1)) > 50, color
