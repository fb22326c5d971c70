"""The converter registry: entry-point discovery, broken plugins, strict mode, resolution."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from interop import registry
from interop.converters.base import Converter
from interop.errors import ConverterNotFound, InvalidInput, MissingDependency


def _fake_distribution(root: Path, name: str, entry_points: str, modules: dict[str, str]) -> Path:
    """A dist-info with entry points (and its modules) in ``root``, as pip would install it."""
    dist = root / f"{name}-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    return root


def _run(code: str, path: Path, **env: str) -> dict:
    environ = {**os.environ, "PYTHONPATH": str(path), **env}
    for key in (
        "INTEROP_STRICT_PLUGINS",
        "INTEROP_DISABLE_PLUGIN_AUTOLOAD",
        "INTEROP_BLOCK_PLUGINS",
    ):
        if key not in env:
            environ.pop(key, None)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


BROKEN_EPS = """
    [interop.converters]
    sklearn.onnx.broken = fakeplug_missing_module:Converter
    sklearn.onnx.noproto = fakeplug_noproto:NotAConverter
"""
NOPROTO = """
    class NotAConverter:
        name = "sklearn.onnx.noproto"
"""

LIST_AND_CONVERT = """
    import json
    import numpy as np
    import interop
    from sklearn.linear_model import LogisticRegression
    infos = {i.name: i.to_dict() for i in interop.converters()}
    X = np.random.default_rng(0).normal(size=(40, 4)).astype("float32")
    y = (X[:, 0] > 0).astype(int)
    conv = interop.convert(LogisticRegression().fit(X, y), to="onnx", example_inputs=X[:8])
    print(json.dumps({"infos": infos, "converter": conv.converter,
                      "passed": conv.validation["passed"]}))
"""


def test_broken_plugin_is_reported_and_builtins_still_work(tmp_path):
    _fake_distribution(tmp_path, "fakeplug", BROKEN_EPS, {"fakeplug_noproto": NOPROTO})
    out = _run(LIST_AND_CONVERT, tmp_path)
    broken = out["infos"]["sklearn.onnx.broken"]
    assert broken["broken"] is True and broken["available"] is False
    assert broken["distribution"] == "fakeplug"
    assert "fakeplug_missing_module" in broken["reason"]
    assert "ModuleNotFoundError" in broken["reason"]
    noproto = out["infos"]["sklearn.onnx.noproto"]
    assert noproto["broken"] and noproto["distribution"] == "fakeplug"
    assert "missing" in noproto["reason"] and "convert" in noproto["reason"]
    builtin = out["infos"]["sklearn.onnx"]
    assert builtin["distribution"] == "interop" and builtin["available"] and not builtin["broken"]
    # the broken entries compete for sklearn -> onnx, yet the built-in is chosen and checked
    assert out["converter"] == "sklearn.onnx" and out["passed"] is True


def test_strict_mode_makes_a_broken_plugin_fatal(tmp_path):
    _fake_distribution(tmp_path, "fakeplug", BROKEN_EPS, {"fakeplug_noproto": NOPROTO})
    code = """
        import json, interop
        from interop.errors import PluginError
        try:
            interop.converters()
        except PluginError as exc:
            print(json.dumps({"error": exc.message, "hint": exc.hint}))
        else:
            print(json.dumps({"error": None}))
    """
    out = _run(code, tmp_path, INTEROP_STRICT_PLUGINS="1")
    assert out["error"] and "fakeplug" in out["error"]
    assert "INTEROP_STRICT_PLUGINS" in out["hint"]


def test_autoload_off_and_blocking_hide_plugins(tmp_path):
    _fake_distribution(tmp_path, "fakeplug", BROKEN_EPS, {"fakeplug_noproto": NOPROTO})
    code = """
        import json, interop
        print(json.dumps(sorted(i.name for i in interop.converters())))
    """
    names = _run(code, tmp_path, INTEROP_DISABLE_PLUGIN_AUTOLOAD="1")
    assert "sklearn.onnx" in names and not any(n.endswith((".broken", ".noproto")) for n in names)
    names = _run(code, tmp_path, INTEROP_BLOCK_PLUGINS="sklearn.onnx.broken")
    assert "sklearn.onnx.broken" not in names and "sklearn.onnx.noproto" in names
    names = _run(code, tmp_path, INTEROP_BLOCK_PLUGINS="fakeplug")
    assert not any(n.endswith((".broken", ".noproto")) for n in names)


def test_listing_converters_imports_no_framework():
    code = """
        import json, sys, interop
        infos = interop.converters()
        heavy = [m for m in ("torch", "tensorflow", "keras", "sklearn", "onnx", "onnxruntime",
                             "coremltools", "tf2onnx", "skl2onnx") if m in sys.modules]
        print(json.dumps({"n": len(infos), "heavy": heavy}))
    """
    out = _run(code, Path("."))
    assert out["n"] >= 6 and out["heavy"] == []


class _Toy(Converter):
    source = "toy"
    target = "onnx"
    options = {"opset": None}


@pytest.fixture
def toy_converters():
    made = []

    def add(name: str, priority: int, requires: tuple[str, ...] = ()) -> None:
        cls = type(name, (_Toy,), {"name": name, "priority": priority, "requires": requires})
        registry.CONVERTERS.register(name, cls())
        made.append(name)

    yield add
    for name in made:
        registry.CONVERTERS.unregister(name)


def test_higher_priority_wins_and_converter_name_overrides(toy_converters):
    toy_converters("toy.onnx.a", 1)
    toy_converters("toy.onnx.b", 5)
    assert registry.resolve("toy", "onnx").name == "toy.onnx.b"
    assert registry.resolve("toy", "onnx", "toy.onnx.a").name == "toy.onnx.a"


def test_equal_priority_is_an_error_naming_both(toy_converters):
    toy_converters("toy.onnx.a", 3)
    toy_converters("toy.onnx.b", 3)
    with pytest.raises(ConverterNotFound) as info:
        registry.resolve("toy", "onnx")
    assert "toy.onnx.a" in info.value.message and "toy.onnx.b" in info.value.message
    assert "converter=" in info.value.hint


def test_missing_framework_says_what_to_install(toy_converters):
    toy_converters("toy.onnx.needs", 0, requires=("surely_not_installed_pkg",))
    with pytest.raises(MissingDependency) as info:
        registry.resolve("toy", "onnx")
    assert "surely_not_installed_pkg" in info.value.message
    assert "pip install" in info.value.hint
    info_row = {i.name: i for i in registry.converter_infos()}["toy.onnx.needs"]
    assert not info_row.available and "surely_not_installed_pkg" in info_row.reason


def test_no_converter_for_a_pair_lists_what_exists():
    with pytest.raises(ConverterNotFound) as info:
        registry.resolve("sklearn", "tensorrt")
    assert "sklearn to tensorrt" in info.value.message
    assert "sklearn -> onnx" in info.value.hint


def test_unknown_converter_name_lists_known_ones():
    with pytest.raises(ConverterNotFound) as info:
        registry.get_converter("nope.onnx")
    assert "torch.onnx" in info.value.hint


def test_registering_twice_needs_clobber(toy_converters):
    toy_converters("toy.onnx.a", 0)
    with pytest.raises(InvalidInput):
        registry.CONVERTERS.register("toy.onnx.a", _Toy())


def test_unknown_option_lists_known_ones():
    conv = _Toy()
    with pytest.raises(InvalidInput) as info:
        conv.resolve_options({"opset": 17, "colour": "red"})
    assert "colour" in info.value.message and "opset" in info.value.hint


def test_converters_stays_callable_after_converter_modules_are_imported():
    # importing interop.converters.<module> binds the package to interop.converters
    import interop
    import interop.converters.base  # noqa: F401
    import interop.runtimes.base  # noqa: F401

    first = {i.name for i in interop.converters()}
    second = {i.name for i in interop.converters()}
    assert first == second and "torch.onnx" in first
    assert {"onnx", "torch"} <= {r.name for r in interop.runtimes()}
