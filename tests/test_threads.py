"""interop.convert and interop.check from several threads at once (issue 16).

Eight threads start together behind a barrier: three torch models, one Keras model and four
scikit-learn models, each converted to ONNX and to Core ML and checked against its original.
Every one must pass, with real numbers. The library steps that keep process-wide state are
serialised by ``interop.frameworks.locks``; everything else overlaps.
"""

from __future__ import annotations

import sys
import threading
import traceback
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("tensorflow")
pytest.importorskip("sklearn")
pytest.importorskip("coremltools")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from thread_models import MODELS, build  # noqa: E402

import interop  # noqa: E402
from interop.errors import ConversionError  # noqa: E402
from interop.frameworks import locks  # noqa: E402


def _run(name: str, barrier: threading.Barrier, results: dict[str, Any]) -> None:
    try:
        model, example = build(name)
        barrier.wait(timeout=120)
        out: dict[str, Any] = {}
        for target in ("onnx", "coreml"):
            conv = interop.convert(model, to=target, example_inputs=example)
            report = interop.check(model, conv, latency=False)
            out[target] = (report.passed, report.worst_abs_error(), conv.converter)
        results[name] = out
    except BaseException:  # the test reports it: a thread must not die silently
        results[name] = traceback.format_exc()


def _user_lowering(context: Any, node: Any) -> None:  # never called: it only has to stay
    raise AssertionError("the user's own diff lowering ran")


def test_eight_threads_convert_and_check_every_framework_to_onnx_and_coreml() -> None:
    from coremltools.converters.mil.frontend.torch.torch_op_registry import _TORCH_OPS_REGISTRY

    from interop.converters import coreml_lowerings

    # A user's own lowering for an op interop also lowers must survive every registration.
    mapping = _TORCH_OPS_REGISTRY.name_to_func_mapping
    before = mapping.get("diff")
    _user_lowering.__name__ = "diff"
    mapping["diff"] = _user_lowering
    try:
        assert len(MODELS) >= 8
        barrier = threading.Barrier(len(MODELS))
        results: dict[str, Any] = {}
        threads = [
            threading.Thread(target=_run, args=(name, barrier, results), name=f"conv-{name}")
            for name in MODELS
        ]
        # interop's own registration, raced from the same number of threads
        registered: list[list[str]] = []
        racers = [
            threading.Thread(target=lambda: registered.append(coreml_lowerings.register()))
            for _ in MODELS
        ]
        for t in threads + racers:
            t.start()
        for t in threads + racers:
            t.join(timeout=600)
        assert not any(t.is_alive() for t in threads + racers), "a thread hung"

        failures = {n: r for n, r in results.items() if isinstance(r, str)}
        assert not failures, "\n\n".join(f"{n}:\n{r}" for n, r in failures.items())
        assert sorted(results) == sorted(MODELS)
        for name, out in results.items():
            for target, (passed, max_error, converter) in out.items():
                assert passed, (name, target, max_error, converter)
                assert max_error is not None and max_error < 0.05, (name, target, max_error)
        # the user's lowering is still the one coremltools uses; interop's are there beside it
        assert mapping["diff"] is _user_lowering
        assert coreml_lowerings.is_registered()
        assert all(getattr(mapping.get(n), coreml_lowerings.MARK, False) for n in ("new_ones",))
        assert len({tuple(r) for r in registered}) <= 1, registered
        # the locks were really taken, and no thread holds one now
        totals = locks.stats()
        # three torch models to ONNX and Core ML; three torch + one Keras ct.convert
        assert totals["torch"].acquisitions >= 6 and totals["coremltools"].acquisitions >= 4
        assert locks.held() == ()
    finally:
        if before is None:
            mapping.pop("diff", None)
        else:
            mapping["diff"] = before


def test_lock_order_is_enforced() -> None:
    with locks.hold("coremltools"):
        with locks.hold("coremltools"), locks.hold("stdio"):  # re-entrant, then later
            assert locks.held() == ("coremltools", "coremltools", "stdio")
        with pytest.raises(RuntimeError, match="lock order"), locks.hold("torch"):
            pass
    with locks.hold_all("stdio", "torch", "coremltools"):
        assert locks.held() == ("torch", "coremltools", "stdio")
    assert locks.held() == ()


@pytest.mark.parametrize(
    ("library", "exc"),
    [
        ("torch", IndexError("Trying to pop empty mode stack")),
        ("torch", AssertionError("_EXPORT_MODULE_HIERARCHY must not be None")),
        ("torch", SystemError("AST constructor recursion depth mismatch (before=48, after=47)")),
        ("torch", RuntimeError("s0 (SymInt) is not tracked with proxy for <torch.fx.experi")),
    ],
)
def test_shared_state_failures_are_not_blamed_on_the_model(library: str, exc: Exception) -> None:
    try:
        try:
            raise exc
        except Exception as inner:  # as a converter wraps it
            raise ConversionError(
                f"torch.onnx could not export M: {inner}", "simplify the failing part of the model"
            ) from inner
    except ConversionError as wrapped:
        error = locks.concurrency_error(wrapped, "torch.onnx")
    assert error is not None
    assert f"this is a concurrency failure in {library}'s global state" in error.hint
    assert "not a problem with the model" in error.hint
    assert str(exc).split()[0] in error.message


def test_coremltools_block_state_error_is_a_concurrency_failure() -> None:
    from coremltools.converters.mil.mil.block import InvalidBlockStateError

    error = locks.concurrency_error(InvalidBlockStateError(), "torch.coreml")
    assert error is not None and "coremltools's global state" in error.hint
    # an ordinary model failure is left alone
    plain = ConversionError("coremltools could not convert: op 'foo' not implemented", "x")
    assert locks.concurrency_error(plain, "torch.coreml") is None
    assert locks.concurrency_error(ValueError("shapes (3,) and (4,) not aligned")) is None
