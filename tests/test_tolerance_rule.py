"""The tolerance rule: atol in units of the output's scale, and the relative-RMS bound."""

from __future__ import annotations

import numpy as np
import pytest

from interop.harness.compare import compare_output, output_scale, relative_rms_error
from interop.types import FP16_TOLERANCE, FP32_TOLERANCE, Tolerance


def _logits(scale: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(scale=scale, size=(8, 1000))


def test_scale_is_one_unless_scaled_and_never_below_one() -> None:
    ref = _logits(30.0)
    assert output_scale(ref, Tolerance(1e-4, 1e-4)) == 1.0
    assert output_scale(ref, Tolerance(1e-4, 1e-4, scaled=True)) == pytest.approx(30.0, rel=0.02)
    assert output_scale(ref / 1000, Tolerance(1e-4, 1e-4, scaled=True)) == 1.0


def test_a_scaled_atol_forgives_drift_proportional_to_the_output_scale() -> None:
    ref = _logits(100.0)
    ref[0, 0] = 0.0
    got = ref.copy()
    got[0, 0] = 1e-3  # 1e-5 of the output's scale, on an element that happens to be zero
    plain = compare_output("y", "y", ref, got, Tolerance(1e-4, 1e-4))
    scaled = compare_output("y", "y", ref, got, Tolerance(1e-4, 1e-4, scaled=True))
    assert not plain.passed and scaled.passed
    assert scaled.scale == pytest.approx(100.0, rel=0.02)
    assert scaled.required_atol == pytest.approx(1e-3 / scaled.scale)


def test_the_relative_rms_bound_catches_an_error_spread_over_every_element() -> None:
    ref = _logits(3.0)
    got = ref * 1.01  # one weight tensor off by 1 %: inside 1e-2 + 1e-2*|ref| everywhere
    elementwise = compare_output("y", "y", ref, got, Tolerance(1e-2, 1e-2))
    assert elementwise.passed
    bounded = compare_output("y", "y", ref, got, Tolerance(1e-2, 1e-2, rel_rms=5e-3))
    assert not bounded.passed
    assert bounded.rel_rms_error == pytest.approx(0.01)
    assert "relative RMS error 0.01 exceeds rel_rms 0.005" in bounded.reason


def test_relative_rms_error_of_zero_outputs() -> None:
    zeros = np.zeros(4)
    assert relative_rms_error(zeros, zeros) == 0.0
    assert relative_rms_error(zeros, zeros + 1e-9) == np.inf


@pytest.mark.parametrize("tolerance", [FP32_TOLERANCE, FP16_TOLERANCE], ids=["fp32", "fp16"])
def test_the_profiles_fail_a_one_percent_fault(tolerance: Tolerance) -> None:
    for scale in (0.1, 1.0, 30.0):
        ref = _logits(scale, seed=1)
        assert not compare_output("y", "y", ref, ref * 1.01, tolerance).passed, scale
