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


# The original's own rounding noise (interop.harness.rounding): an elementwise error within
# NOISE_FACTOR x the noise passes, capped at rel_rms * S; rel_rms itself is never relaxed.


def _drifted(error: float, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Logits of scale 1 and a copy with one element off by ``error`` (a few more by less)."""
    ref = _logits(1.0, seed)
    got = ref.copy()
    got[0, 0] += error
    got[1, :10] += error / 2
    return ref, got


def test_an_error_within_four_times_the_originals_noise_passes_and_says_so() -> None:
    ref, got = _drifted(3e-4)
    plain = compare_output("y", "y", ref, got, FP32_TOLERANCE)
    assert not plain.passed and plain.noise_floor is None
    noisy = compare_output("y", "y", ref, got, FP32_TOLERANCE, noise=1e-4)
    assert noisy.passed
    assert noisy.rounding_noise == 1e-4
    assert noisy.noise_floor == pytest.approx(4e-4)
    assert noisy.max_abs_error == pytest.approx(3e-4)


def test_an_error_beyond_four_times_the_noise_fails_and_names_the_noise() -> None:
    ref, got = _drifted(3e-4)
    result = compare_output("y", "y", ref, got, FP32_TOLERANCE, noise=5e-5)
    assert not result.passed
    assert result.noise_floor == pytest.approx(2e-4)
    assert "the original's own rounding noise is 5e-05; the floor it allows, 4x, is 0.0002" in (
        result.reason
    )


def test_the_noise_floor_is_capped_at_rel_rms_times_the_scale() -> None:
    ref, got = _drifted(2e-3)  # a model that moves by whole percents under rounding
    result = compare_output("y", "y", ref, got, FP32_TOLERANCE, noise=1.0)
    assert not result.passed
    assert result.noise_floor == pytest.approx(FP32_TOLERANCE.rel_rms * result.scale)
    assert "4x capped at rel_rms*S" in result.reason
    assert "cannot tell a fault from noise on this model" in result.reason


def test_noise_never_relaxes_the_relative_rms_bound() -> None:
    ref = _logits(1.0, seed=3)
    got = ref * 1.01  # the planted fault: every element 1 % off
    result = compare_output("y", "y", ref, got, FP32_TOLERANCE, noise=1.0)
    assert not result.passed
    assert result.rel_rms_error == pytest.approx(0.01)
    # the cap means the floor never reaches a whole-output error: max abs <= rel_rms * S
    # implies relative RMS <= rel_rms whenever S is the output's RMS
    assert result.noise_floor == pytest.approx(1e-3 * result.scale)


def test_a_tolerance_without_rel_rms_ignores_the_noise() -> None:
    ref, got = _drifted(3e-4)
    result = compare_output("y", "y", ref, got, Tolerance(1e-4, 1e-4), noise=1e-3)
    assert not result.passed and result.noise_floor is None


def test_an_explicit_atol_or_rtol_holds_as_written() -> None:
    ref, got = _drifted(3e-4)
    for override in ({"atol": 1e-4}, {"rtol": 1e-4}):
        chosen = FP32_TOLERANCE.with_overrides(**override)
        assert chosen.rel_rms == FP32_TOLERANCE.rel_rms and not chosen.rounding_floor
        result = compare_output("y", "y", ref, got, chosen, noise=1e-3)
        assert not result.passed and result.noise_floor is None
    kept = FP32_TOLERANCE.with_overrides(rel_rms=2e-3)
    assert kept.rounding_floor
    assert Tolerance.from_list(FP32_TOLERANCE.to_list()) == FP32_TOLERANCE


def test_the_probe_perturbs_only_floats_by_half_an_ulp() -> None:
    from interop.harness.rounding import PERTURBATION, has_float_inputs, output_noise, perturbed

    x = np.random.default_rng(0).normal(size=(4, 100)).astype(np.float32)
    ids = np.arange(12).reshape(3, 4)
    probed = perturbed({"x": x, "ids": ids})
    assert probed["ids"] is ids and probed["x"].dtype == np.float32
    rel = np.abs(probed["x"].astype(np.float64) / x - 1)
    assert 0 < rel.max() <= 2 * PERTURBATION  # moved, by at most one float32 rounding
    assert not has_float_inputs({"ids": ids}) and has_float_inputs({"x": x})
    assert output_noise({"y": x, "label": ids}, {"y": x + 1e-3, "label": ids}) == {
        "y": pytest.approx(1e-3, rel=1e-3)
    }
