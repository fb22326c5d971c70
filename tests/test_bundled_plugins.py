"""The bundled plugins use interop's public SDK only, and their entry points pass the contract.

Each plugin is installed (without dependencies) into a temporary directory, so the test sees
exactly what ``pip install plugins/NAME`` would register, and ``check_entry_points`` runs in
a fresh interpreter with that directory on the path.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
BUNDLED = {
    "interop-boosting": {"converters": ["lightgbm.onnx", "xgboost.onnx"],
                         "runtimes": ["lightgbm", "xgboost"]},
    "interop-tflite": {"converters": ["tensorflow.tflite"], "runtimes": ["tflite"]},
}
PUBLIC = ("interop", "interop.sdk", "interop.testing", "interop.frameworks")


def interop_imports(path: Path) -> list[str]:
    """Every ``interop`` module a file imports (deferred imports included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found += [n for n in names if n == "interop" or n.startswith("interop.")]
    return found


def is_public(module: str) -> bool:
    if any(part.startswith("_") for part in module.split(".")):
        return False
    return any(module == p or module.startswith("interop.frameworks.") for p in PUBLIC)


@pytest.mark.parametrize("plugin", sorted(BUNDLED))
def test_plugin_imports_only_public_interop_modules(plugin: str) -> None:
    sources = sorted((PLUGINS / plugin / "src").rglob("*.py"))
    assert sources
    used = {m for path in sources for m in interop_imports(path)}
    assert "interop.sdk" in used
    assert sorted(m for m in used if not is_public(m)) == []


def test_the_public_rule_rejects_private_modules() -> None:
    assert not is_public("interop.converters.base")
    assert not is_public("interop.runtimes.tensorflow")
    assert not is_public("interop.frameworks._private")
    assert is_public("interop.frameworks.tensorflow") and is_public("interop.sdk")


CHECK = """
import json, sys
from interop.testing import check_entry_points
print(json.dumps(check_entry_points(sys.argv[1])))
"""


@pytest.mark.parametrize("plugin", sorted(BUNDLED))
def test_plugin_entry_points_pass_the_contract(plugin: str, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(PLUGINS / plugin)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    env_path = {"PYTHONPATH": str(target)}
    import os

    done = subprocess.run(
        [sys.executable, "-c", CHECK, plugin],
        capture_output=True, text=True, timeout=300, env={**os.environ, **env_path},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert {k: sorted(v) for k, v in found.items()} == BUNDLED[plugin]
