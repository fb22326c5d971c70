"""A third-party plugin, written and pip-installed in a temporary directory, extends interop.

The plugin adds a source framework interop has never heard of (a pure-numpy linear model),
its ONNX converter and its native runtime, through entry points only. A fresh interpreter
that sees the installed plugin converts, checks, saves and lists through it, with no change
to interop itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "interop-toylinear"
version = "0.3.0"
dependencies = []

[project.entry-points."interop.converters"]
"toylinear.onnx" = "toylinear.interop_plugin:ToyLinearToOnnx"

[project.entry-points."interop.runtimes"]
toylinear = "toylinear.interop_plugin:ToyLinearRuntime"

[tool.setuptools]
packages = ["toylinear"]
"""

MODEL = '''
"""toylinear: least-squares linear regression in numpy (the third party's own framework)."""

import numpy as np


class LinearModel:
    def fit(self, x, y):
        x = np.asarray(x, dtype=np.float64)
        design = np.hstack([x, np.ones((len(x), 1))])
        solution, *_ = np.linalg.lstsq(design, np.asarray(y, dtype=np.float64), rcond=None)
        self.coef_, self.intercept_ = solution[:-1], solution[-1]
        return self

    def predict(self, x):
        return np.asarray(x, dtype=np.float64) @ self.coef_ + self.intercept_
'''

PLUGIN = '''
"""interop entry points for toylinear: an ONNX converter and the native runtime."""

import numpy as np

from interop.converters.base import Converter
from interop.runtimes.base import Runtime
from interop.types import Conversion, TensorSpec, Tolerance


class ToyLinearToOnnx(Converter):
    name, source, target = "toylinear.onnx", "toylinear", "onnx"
    options = {"opset": 17}
    default_tolerance = Tolerance(atol=1e-4, rtol=1e-4)
    requires = ("onnx",)

    def _convert(self, model, example_inputs, options):
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        coef = np.asarray(model.coef_, np.float32).reshape(-1, 1)
        graph = helper.make_graph(
            [helper.make_node("MatMul", ["features", "coef"], ["xw"]),
             helper.make_node("Add", ["xw", "intercept"], ["prediction"])],
            "toylinear",
            [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", len(coef)])],
            [helper.make_tensor_value_info("prediction", TensorProto.FLOAT, ["batch", 1])],
            [numpy_helper.from_array(coef, "coef"),
             numpy_helper.from_array(np.asarray([model.intercept_], np.float32), "intercept")],
        )
        onx = helper.make_model(graph, opset_imports=[helper.make_opsetid("", options["opset"])])
        onnx.checker.check_model(onx, full_check=True)
        return Conversion(
            source=self.source, target="onnx", converter=self.name, model=onx,
            input_specs=(TensorSpec("features", ("batch", len(coef)), "float32"),),
            output_specs=(TensorSpec("prediction", ("batch", 1), "float32"),),
            input_map={"x": "features"}, output_map={"y": "prediction"},
            saver=lambda m, path: onnx.save_model(m, str(path)), suffix=".onnx",
            default_tolerance=self.default_tolerance,
            example_feed={"features": np.asarray(example_inputs, np.float32)},
        )


class ToyLinearRuntime(Runtime):
    name = "toylinear"

    @staticmethod
    def available():
        return True, ""

    def input_specs(self):
        return (TensorSpec("x", ("batch", len(self.model.coef_)), "float32"),)

    def run(self, feed):
        return {"y": self.model.predict(feed["x"]).reshape(-1, 1)}
'''

SCRIPT = """
import json, sys
import numpy as np
import interop
from interop.api import converters
from interop.testing import check_entry_points
from toylinear import LinearModel

rng = np.random.default_rng(0)
x = rng.normal(size=(200, 4)).astype(np.float32)
y = x @ np.array([1.5, -2.0, 0.25, 3.0]) + 0.5 + rng.normal(scale=0.01, size=200)
model = LinearModel().fit(x, y)
conv = interop.convert(model, to="onnx", example_inputs=x[:8])
report = interop.check(model, conv, batch_sizes=(1, 8, 32), latency=False)
saved = conv.save(sys.argv[1])
info = {i.name: i.to_dict() for i in converters()}["toylinear.onnx"]
print(json.dumps({
    "source": conv.source, "converter": conv.converter, "validation": conv.validation,
    "passed": report.passed,
    "parity": [(r["batch_size"], r["output"], r["passed"], r["max_abs_error"])
               for r in report.to_dict()["parity"]],
    "saved": str(saved), "info": info, "entry_points": check_entry_points("interop-toylinear"),
    "frameworks": sorted(m for m in ("torch", "tensorflow", "sklearn") if m in sys.modules),
}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The plugin's source tree written to a temporary directory and pip-installed beside it."""
    root = tmp_path_factory.mktemp("toylinear")
    src = root / "src"
    (src / "toylinear").mkdir(parents=True)
    (src / "pyproject.toml").write_text(PYPROJECT)
    (src / "toylinear" / "__init__.py").write_text(textwrap.dedent(MODEL))
    (src / "toylinear" / "interop_plugin.py").write_text(textwrap.dedent(PLUGIN))
    site = root / "site"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(site),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert (site / "interop_toylinear-0.3.0.dist-info" / "entry_points.txt").is_file()
    return site


def _env(site: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("INTEROP_DISABLE_PLUGIN_AUTOLOAD", None)
    return env


def test_installed_plugin_converts_and_checks(installed, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "toy.onnx")],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(installed),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (out["source"], out["converter"]) == ("toylinear", "toylinear.onnx")
    assert out["validation"]["passed"] and out["passed"]
    assert {b for b, *_ in out["parity"]} == {1, 8, 32}
    assert all(ok and err < 1e-4 for _, name, ok, err in out["parity"]), out["parity"]
    assert out["info"]["distribution"] == "interop-toylinear" and out["info"]["available"]
    assert out["entry_points"] == {"converters": ["toylinear.onnx"], "runtimes": ["toylinear"]}
    assert out["frameworks"] == []  # nothing but numpy, onnx and onnxruntime was needed

    import onnx
    import onnxruntime as ort

    model = onnx.load(out["saved"])
    assert [o.name for o in model.graph.output] == ["prediction"]
    session = ort.InferenceSession(out["saved"], providers=["CPUExecutionProvider"])
    (pred,) = session.run(None, {"features": [[1.0, 0.0, 0.0, 0.0]]})
    assert abs(float(pred[0, 0]) - 2.0) < 0.01  # 1.5 * 1 + 0.5


def test_cli_lists_the_plugin_with_its_distribution(installed):
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("interop-convert")), "--list"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(installed),
    )
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines()]
    expected = ["toylinear.onnx", "toylinear", "->", "onnx", "available", "interop-toylinear", "0"]
    assert expected in rows
    assert ["toylinear", "available", "interop-toylinear"] in rows


def test_without_the_plugin_interop_does_not_know_the_model(installed, tmp_path):
    """The same script fails cleanly when the plugin is not on the path: it is what adds it."""
    code = (
        f"import sys; sys.path.insert(0, {str(installed)!r}); "
        "import importlib.metadata as md, interop, numpy as np\n"
        "from toylinear import LinearModel\n"
        "m = LinearModel().fit(np.eye(3), np.ones(3))\n"
        "try:\n    interop.convert(m, to='onnx', example_inputs=np.eye(3))\n"
        "except interop.InteropError as e:\n    print(type(e).__name__, e.message)\n"
    )
    env = _env(installed)
    env["INTEROP_BLOCK_PLUGINS"] = "interop-toylinear"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("InvalidInput cannot tell which framework"), proc.stdout
