"""Isolation: a crash, a hang and an out-of-memory are recorded results, and work goes on."""

from __future__ import annotations

import time

import pytest

import interop
from interop import registry
from tests.harness_fixtures import mlp_onnx, mlp_weights, onnx_conversion

WEIGHTS = mlp_weights()
FAULTY = {
    "crash-test": "tests.harness_fixtures:CrashRuntime",
    "hang-test": "tests.harness_fixtures:HangRuntime",
    "greedy-test": "tests.harness_fixtures:GreedyRuntime",
}


@pytest.fixture(scope="module", autouse=True)
def faulty_runtimes():
    # registered by import string: the spawned child imports the class from that string
    for name, ref in FAULTY.items():
        registry.RUNTIMES.register(name, ref, clobber=True)
    yield
    for name in FAULTY:
        registry.RUNTIMES.unregister(name)


def _check(runtime: str, **options):
    return interop.check(
        mlp_onnx(WEIGHTS), onnx_conversion(mlp_onnx(WEIGHTS), runtime=runtime),
        isolate=True, time_budget_s=0.05, **options,
    )


def test_a_run_of_crash_hang_and_healthy_checks_goes_on():
    """One after another, as a suite would: each fault is a result, the next check runs."""
    started = time.perf_counter()
    crash = _check("crash-test", timeout=60)
    hang = _check("hang-test", timeout=4)
    healthy = _check("onnx", timeout=60)
    assert crash.verdict == "crash" and not crash.passed
    assert crash.failures == ["converted side: crash: the process died with SIGABRT"]
    assert hang.verdict == "timeout" and not hang.passed
    assert hang.failures == ["converted side: timeout: no result within 4 s"]
    assert healthy.passed and healthy.settings["isolate"] is True
    assert healthy.latency[0]["converted_p50_ms"] > 0
    # the hang is stopped at its timeout, not waited out
    assert time.perf_counter() - started < 60


def test_out_of_memory_under_the_cap_is_recorded():
    report = _check("greedy-test", timeout=60, memory_limit_mb=1536)
    assert report.verdict == "out-of-memory" and not report.passed
    assert "MemoryError" in report.failures[0] and "64.0 GiB" in report.failures[0]
    assert report.settings["memory_limit_mb"] == 1536


def test_unpicklable_model_is_an_error_result_with_a_hint():
    class Local:  # a class defined in a function cannot be imported by the child
        pass

    from interop.harness.isolate import SideJob, run_isolated

    result = run_isolated(SideJob("interop.runtimes.onnxruntime:OnnxRuntime", Local(), None, {}))
    assert result.status == "error" and "cannot send the model to a subprocess" in result.cause
