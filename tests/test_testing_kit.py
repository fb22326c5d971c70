"""interop.testing: contract checks catch each protocol break, run_conformance asserts parity."""

from __future__ import annotations

import sys
import textwrap
from typing import Any, ClassVar

import numpy as np
import pytest

from interop import registry
from interop.converters.base import Converter
from interop.runtimes.base import Runtime
from interop.testing import (
    check_converter_contract,
    check_entry_points,
    check_runtime_contract,
    converter_contract_problems,
    import_cost_problems,
    run_conformance,
    runtime_contract_problems,
)
from interop.types import Conversion, TensorSpec, Tolerance


# -- a toy framework: y = x @ w + b, with an ONNX converter that is wrong at batch size 1 ----
class ToyLinear:
    """A model of a pretend framework whose top-level module is ``toykit``."""

    def __init__(self, w: np.ndarray, b: np.ndarray) -> None:
        self.w, self.b = w, b


ToyLinear.__module__ = "toykit.models"  # what detect.py reads to find the source


class ToyToOnnx(Converter):
    name = "toykit.onnx"
    source = "toykit"
    target = "onnx"
    options: ClassVar[dict[str, Any]] = {"skew_batch_one": 0.0}
    default_tolerance = Tolerance(1e-5, 1e-5)
    requires = ("onnx",)

    def _convert(self, model: Any, example_inputs: Any, options: dict[str, Any]) -> Conversion:
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        x = np.asarray(example_inputs, dtype=np.float32)
        n_in, n_out = model.w.shape
        nodes = [
            helper.make_node("Gemm", ["X", "W", "B"], ["Y0"]),
            # skew * (batch == 1): a bug that only a check at batch size 1 can see
            helper.make_node("Shape", ["X"], ["shape"], end=1),
            helper.make_node("Equal", ["shape", "one"], ["is_one"]),
            helper.make_node("Cast", ["is_one"], ["is_one_f"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["is_one_f", "skew"], ["delta"]),
            helper.make_node("Add", ["Y0", "delta"], ["Y"]),
        ]
        inits = [
            numpy_helper.from_array(model.w.astype(np.float32), "W"),
            numpy_helper.from_array(model.b.astype(np.float32), "B"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
            numpy_helper.from_array(np.array([options["skew_batch_one"]], np.float32), "skew"),
        ]
        graph = helper.make_graph(
            nodes,
            "toy",
            [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", n_in])],
            [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", n_out])],
            inits,
        )
        onx = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        onnx.checker.check_model(onx, full_check=True)
        return Conversion(
            source="toykit",
            target="onnx",
            converter=self.name,
            model=onx,
            input_specs=(TensorSpec("X", ("batch", n_in), "float32"),),
            output_specs=(TensorSpec("Y", ("batch", n_out), "float32"),),
            input_map={"x": "X"},
            output_map={"y": "Y"},
            saver=lambda m, p: onnx.save_model(m, str(p)),
            suffix=".onnx",
            default_tolerance=self.default_tolerance,
            example_feed={"X": x},
        )


class ToyRuntime(Runtime):
    name = "toykit"

    @staticmethod
    def available() -> tuple[bool, str]:
        return True, ""

    def input_specs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec("x", ("batch", self.model.w.shape[0]), "float32"),)

    def run(self, feed: dict[str, Any]) -> dict[str, np.ndarray]:
        x = np.asarray(feed["x"], dtype=np.float32)
        return {"y": (x @ self.model.w + self.model.b).astype(np.float32)}


def toy_case(seed: int) -> tuple[ToyLinear, np.ndarray]:
    rng = np.random.default_rng(seed)
    model = ToyLinear(rng.normal(size=(5, 3)), rng.normal(size=3))
    return model, rng.normal(size=(8, 5)).astype(np.float32)


@pytest.fixture
def toykit():
    registry.CONVERTERS.register("toykit.onnx", ToyToOnnx)
    registry.RUNTIMES.register("toykit", ToyRuntime)
    yield
    registry.CONVERTERS.unregister("toykit.onnx")
    registry.RUNTIMES.unregister("toykit")


# -- contract checks ---------------------------------------------------------------------------
def test_toy_converter_and_runtime_pass_the_contract():
    check_converter_contract(ToyToOnnx)
    check_runtime_contract(ToyRuntime)


def test_builtin_entry_points_pass_the_contract():
    found = check_entry_points("interop")
    assert len(found["converters"]) >= 6 and "sklearn.onnx" in found["converters"]
    assert {"onnx", "torch", "tensorflow", "sklearn", "coreml"} <= set(found["runtimes"])
    for name in ("sklearn.onnx", "torch.onnx"):  # importing them must not import a framework
        assert import_cost_problems(registry.CONVERTERS.load(name).obj) == [], name
    assert import_cost_problems(registry.RUNTIMES.load("onnx").obj) == []


class _NoConvert:
    name, source, target = "a.b", "a", "b"
    options: ClassVar[dict[str, Any]] = {}
    default_tolerance = Tolerance(1e-4, 1e-4)

    def available(self):
        return True, ""


class _BadName(ToyToOnnx):
    name = "Toy-ONNX"


class _Mismatch(ToyToOnnx):
    name = "toykit.coreml"


class _BareAvailable(ToyToOnnx):
    def available(self):
        return True


class _SilentUnavailable(ToyToOnnx):
    def available(self):
        return False, ""


class _AcceptsAnything(ToyToOnnx):
    def convert(self, model, example_inputs=None, **options):
        return None


class _NegativeTolerance(ToyToOnnx):
    default_tolerance = Tolerance(-1.0, 1e-4)


@pytest.mark.parametrize(
    ("cls", "expected"),
    [
        (_NoConvert, "missing method convert()"),
        (_BadName, "is not SOURCE.TARGET[.variant]"),
        (_Mismatch, "do not match the name 'toykit.coreml'"),
        (_BareAvailable, "available() must return (bool, str), returned True"),
        (_SilentUnavailable, "returned False with an empty reason"),
        (_AcceptsAnything, "accepted an unknown option"),
        (_NegativeTolerance, "atol >= 0"),
    ],
)
def test_each_converter_break_is_named(cls, expected):
    problems = converter_contract_problems(cls)
    assert any(expected in p for p in problems), problems
    with pytest.raises(AssertionError, match="breaks the converter contract"):
        check_converter_contract(cls, import_check=False)


class _InstanceAvailable(ToyRuntime):
    def available(self):  # type: ignore[override]
        return True, ""


class _NoKeywords(ToyRuntime):
    def __init__(self, model):
        super().__init__(model)


class _NoRun:
    @staticmethod
    def available():
        return True, ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def input_specs(self):
        return ()


@pytest.mark.parametrize(
    ("cls", "expected"),
    [
        (_InstanceAvailable, "must be a staticmethod or classmethod"),
        (_NoKeywords, "must accept (model, *, conversion=None, threads=1)"),
        (_NoRun, "missing method run()"),
        (ToyRuntime(None), "must be a class"),
    ],
)
def test_each_runtime_break_is_named(cls, expected):
    problems = runtime_contract_problems(cls)
    assert any(expected in p for p in problems), problems


def test_framework_imports_at_import_time_or_in_available_are_caught(tmp_path, monkeypatch):
    (tmp_path / "heavy_plugin.py").write_text(
        textwrap.dedent(
            """
            import onnx  # a framework at module level: what the check must catch

            from interop.converters.base import Converter


            class Heavy(Converter):
                name, source, target = "heavy.onnx", "heavy", "onnx"
            """
        )
    )
    (tmp_path / "eager_plugin.py").write_text(
        textwrap.dedent(
            """
            from interop.converters.base import Converter


            class Eager(Converter):
                name, source, target = "eager.onnx", "eager", "onnx"

                def available(self):
                    import onnxruntime  # imports instead of looking the module up

                    return True, ""
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import eager_plugin
    import heavy_plugin

    problems = import_cost_problems(heavy_plugin.Heavy)
    assert problems and "importing heavy_plugin imports onnx" in problems[0], problems
    problems = import_cost_problems(eager_plugin.Eager)
    assert problems == [
        "Eager.available() imports onnxruntime; use importlib.util.find_spec "
        "(interop.sdk.modules_missing) instead"
    ]
    with pytest.raises(AssertionError, match="imports onnx"):
        check_converter_contract(heavy_plugin.Heavy)
    sys.modules.pop("heavy_plugin")
    sys.modules.pop("eager_plugin")


# -- run_conformance ---------------------------------------------------------------------------
def test_run_conformance_passes_real_sklearn_models_in_every_case_form():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, Ridge

    from conformance.cases import Case

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4)).astype(np.float32)
    y = (x[:, 0] - x[:, 2] > 0).astype(np.int64)
    logreg = LogisticRegression().fit(x, y)

    def forest():
        return RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(x, y), x[:8]

    cases = [
        (logreg, x[:8]),  # (model, inputs)
        ("forest", forest),  # (name, build)
        ("ridge", Ridge().fit(x, x @ [1.0, 2.0, 0.0, -1.0]), x[:8]),  # (name, model, inputs)
        Case("logreg", "sklearn", lambda: (logreg, x[:8]), tolerance={"atol": 1e-5, "rtol": 0}),
    ]
    results = run_conformance("sklearn.onnx", cases, batch_sizes=(1, 8))
    assert [r.name for r in results] == ["case0", "forest", "ridge", "logreg"]
    for result in results:
        assert result.passed, result.reason
        assert set(result.max_abs_error) == {1, 8}
    probs = results[0].max_abs_error[8]["probabilities"]
    assert probs is not None and probs < 1e-5
    assert results[2].max_abs_error[8]["predictions"] < 1e-4


def test_run_conformance_catches_a_failure_only_at_batch_one(toykit):
    cases = {"toy_a": lambda: toy_case(1), "toy_b": lambda: toy_case(2)}
    # Correct at every batch size: passes, with the errors it measured.
    good = run_conformance("toykit.onnx", cases, batch_sizes=(1, 8))
    assert all(r.passed for r in good)
    assert max(good[0].max_abs_error[1]["y"], good[0].max_abs_error[8]["y"]) < 1e-5
    # Skewed by 0.01 at batch 1 only: convert's own check (batch 8) passes, the kit fails it.
    skewed = {"convert_options": {"skew_batch_one": 0.01}}
    with pytest.raises(AssertionError, match=r"2 of 2 case\(s\) failed with toykit.onnx") as info:
        run_conformance("toykit.onnx", cases, batch_sizes=(1, 8), **skewed)
    assert "toy_a" in str(info.value) and "batch 1" in str(info.value)
    results = run_conformance(
        "toykit.onnx", cases, batch_sizes=(1, 8), raise_on_failure=False, **skewed
    )
    assert [r.passed for r in results] == [False, False]
    assert results[0].max_abs_error[8]["y"] < 1e-5
    assert results[0].max_abs_error[1]["y"] == pytest.approx(0.01, rel=1e-3)
    # A loose enough call tolerance lets the same skew pass: the tolerance reaches the check.
    loose = run_conformance(
        "toykit.onnx", cases, batch_sizes=(1,), tolerance={"atol": 0.02, "rtol": 0.0}, **skewed
    )
    assert all(r.passed for r in loose)


def test_run_conformance_records_conversion_failures(toykit):
    def broken_build():
        raise RuntimeError("cannot build this model")

    results = run_conformance(
        "toykit.onnx",
        [("wrong_width", lambda: (toy_case(3)[0], np.zeros((4, 7), np.float32))), broken_build],
        raise_on_failure=False,
    )
    assert [r.passed for r in results] == [False, False]
    assert results[0].reason.startswith("convert failed:")
    assert "cannot build this model" in results[1].reason
    assert results[1].cause == "RuntimeError: cannot build this model"
    with pytest.raises(TypeError, match="cannot use int as a conformance case"):
        run_conformance("toykit.onnx", [42])
    with pytest.raises(ValueError, match="not a converter name"):
        run_conformance("toykit", [])
