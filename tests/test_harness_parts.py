"""The harness's parts on their own: inputs, timing, tolerance profiles."""

from __future__ import annotations

import time

import numpy as np
import pytest

from interop.harness import inputs, timing, tolerances
from interop.types import FP16_TOLERANCE, TensorSpec, Tolerance


def test_inputs_are_seeded_per_batch_and_shaped_by_spec():
    specs = (
        TensorSpec("x", ("batch", 3, None), "float32"),
        TensorSpec("ids", ("batch", 4), "int64"),
    )
    example = {"x": np.zeros((8, 3, 5), np.float32) + 2.0, "ids": np.array([[3, 7, 5, 4]] * 8)}
    a = inputs.InputCache(specs, seed=7, example_feed=example)
    b = inputs.InputCache(specs, seed=7, example_feed=example)
    b.feed(8)  # drawing another size first does not change the batch-1 draw
    assert np.array_equal(a.feed(1)["x"], b.feed(1)["x"])
    assert a.feed(1) is a.feed(1)  # one cache: both sides get the same arrays
    x8, ids8 = a.feed(8)["x"], a.feed(8)["ids"]
    assert x8.shape == (8, 3, 5) and x8.dtype == np.float32
    assert ids8.dtype == np.int64 and ids8.min() >= 3 and ids8.max() <= 7
    # centred on the example's mean; a constant example gets unit spread, not zero
    assert abs(float(x8.mean()) - 2.0) < 0.3 and 0.7 < float(x8.std()) < 1.3
    assert not np.array_equal(inputs.InputCache(specs, seed=8).feed(8)["x"], x8)


def test_sklearn_inputs_resample_each_column_from_the_example():
    example = np.array([[0.0, np.nan, 10.0], [1.0, 5.0, 20.0], [2.0, 6.0, 30.0]])
    strings = np.array([["red"], ["blue"], ["red"]], dtype=object)
    specs = (
        TensorSpec("num", ("batch", 3), "float64"),
        TensorSpec("color", ("batch", 1), "object"),
    )
    feed = inputs.InputCache(specs, example_feed={"num": example, "color": strings},
                             resample=True).feed(64)
    for j in range(3):
        observed = set(np.nan_to_num(example[:, j], nan=-1.0))
        assert set(np.nan_to_num(feed["num"][:, j], nan=-1.0)) <= observed
    assert np.isnan(feed["num"][:, 1]).any()  # missing values survive for imputers
    assert set(feed["color"].ravel()) == {"red", "blue"}


def test_user_inputs_accept_dicts_tuples_and_dataframes():
    import pandas as pd

    specs = (
        TensorSpec("a_onnx", ("batch", 1), "float32"),
        TensorSpec("b_onnx", ("batch", 1), "int64"),
    )
    imap = {"a": "a_onnx", "b": "b_onnx"}
    frame = pd.DataFrame({"a": [1.5, 2.5], "b": [1, 2]})
    feed = inputs.from_user(frame, specs, imap)
    assert feed["a_onnx"].shape == (2, 1) and feed["a_onnx"].dtype == np.float32
    assert feed["b_onnx"].tolist() == [[1], [2]]
    by_either_name = inputs.from_user({"a_onnx": [[1.0]], "b": [[2]]}, specs, imap)
    assert by_either_name["b_onnx"].dtype == np.int64
    assert inputs.from_user(([[1.0]], [[2]]), specs, imap)["a_onnx"].dtype == np.float32


def test_fixed_batch_is_found():
    assert inputs.fixed_batch((TensorSpec("x", (1, 3), "float32"),)) == 1
    assert inputs.fixed_batch((TensorSpec("x", ("N", 3), "float32"),)) is None


def test_timing_stops_at_count_or_budget_and_summarizes():
    counted = timing.measure(lambda: None, timing.TimingPlan(warmup=1, repeat=20, budget_s=10))
    assert counted.runs == 20 and counted.min_ms <= counted.p50_ms <= counted.p99_ms
    started = time.perf_counter()
    budget = timing.measure(lambda: time.sleep(0.01),
                            timing.TimingPlan(warmup=0, repeat=1000, budget_s=0.1, min_repeat=3))
    assert 3 <= budget.runs <= 12 and time.perf_counter() - started < 0.5
    assert 9.5 < budget.p50_ms < 30
    stats = timing.summarize([4.0, 1.0, 3.0, 2.0, 5.0])
    assert (stats.min_ms, stats.p50_ms, stats.mean_ms) == (1.0, 3.0, 3.0)
    assert stats.p90_ms == pytest.approx(np.percentile([1, 2, 3, 4, 5], 90))
    assert timing.ratio(2.0, 4.0) == 0.5 and timing.ratio(None, 4.0) is None


def test_profiles_and_precedence():
    default = Tolerance(1e-4, 1e-4)
    outs = ["a", "b"]
    assert tolerances.resolve(outs, "onnx", default) == {"a": default, "b": default}
    fp16 = tolerances.resolve(outs, "onnx", default, profile_name="fp16")
    assert fp16["a"] == Tolerance(1e-2, 1e-2, rel_rms=5e-3, scaled=True, rounding_floor=True)
    assert fp16["a"] == FP16_TOLERANCE
    mixed = tolerances.resolve(outs, "onnx", default, profile_name="strict",
                               case={"rtol": 0.0}, call={"b": {"atol": 0.5}})
    assert mixed["a"] == Tolerance(1e-6, 0.0) and mixed["b"] == Tolerance(0.5, 0.0)
    tolerances.PROFILES["tmp"] = {"*": Tolerance(1.0, 1.0), "coreml": Tolerance(2.0, 2.0)}
    try:
        assert tolerances.profile("tmp", "coreml") == Tolerance(2.0, 2.0)
        assert tolerances.profile("tmp", "onnx") == Tolerance(1.0, 1.0)
    finally:
        del tolerances.PROFILES["tmp"]
