"""The original model's own rounding noise: how far its outputs move under a rounding-sized
change of its inputs. Imports no framework.

Deep networks amplify rounding. On a random-weight InceptionV3 the original Keras model in
float32 differs from the same model run in float64 by up to 3.6e-4 of its output's scale;
an ONNX conversion that is *closer* to float64 than the original still misses an
elementwise bound of 1e-4 of scale, a false alarm. How much a model amplifies rounding is
measurable on the original alone: run it once more with every floating input multiplied by
``1 + u``, ``u`` uniform in ``[-2**-24, 2**-24]`` (half a float32 ulp), and take the largest
change of each output. On the zoo's Keras models that figure tracks the float32-vs-float64
error within a factor 0.5 to 1.6 (docs/tolerances.md has the table).

The elementwise test then accepts an output whose max abs error is within ``NOISE_FACTOR``
times that noise, capped at ``rel_rms * S`` (so a model whose outputs move by whole percents
under rounding still gets judged), and only for tolerances that carry ``rel_rms``: the
relative RMS test is never relaxed, and a planted fault (one layer x1.01) still fails it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

PERTURBATION = 2.0**-24
"""Relative size of the input change: half a float32 ulp."""

NOISE_FACTOR = 4.0
"""How many times the measured noise an elementwise error may reach (see the module doc)."""

PROBE_SEED = 20261130


def has_float_inputs(feed: Mapping[str, Any]) -> bool:
    """Whether any input is floating point (token ids and categories give no probe)."""
    return any(np.asarray(v).dtype.kind == "f" for v in feed.values())


def _map_floats(feed: Mapping[str, Any], change: Any) -> dict[str, Any]:
    """A copy of ``feed`` with ``change`` applied to each non-empty floating array."""
    out: dict[str, Any] = {}
    for name, value in feed.items():
        array = np.asarray(value)
        out[name] = change(array) if array.dtype.kind == "f" and array.size else value
    return out


def perturbed(feed: Mapping[str, Any], seed: int = PROBE_SEED) -> dict[str, Any]:
    """A copy of ``feed`` with each floating array scaled elementwise by ``1 + u``."""
    rng = np.random.default_rng(seed)

    def scale(array: np.ndarray) -> np.ndarray:
        u = rng.uniform(-PERTURBATION, PERTURBATION, size=array.shape)
        return (array.astype(np.float64) * (1.0 + u)).astype(array.dtype)

    return _map_floats(feed, scale)


def rounded_to_fp16(feed: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``feed`` with each floating array rounded to fp16 (and back to its dtype)."""
    return _map_floats(feed, lambda a: a.astype(np.float16).astype(a.dtype))


def output_noise(
    reference: Mapping[str, Any], probed: Mapping[str, Any]
) -> dict[str, float]:
    """Largest change of each numeric output between the plain and the perturbed run."""
    noise: dict[str, float] = {}
    for name, ref in reference.items():
        if name not in probed:
            continue
        a = np.asarray(ref)
        b = np.asarray(probed[name])
        if a.shape != b.shape or a.dtype.kind not in "fc" or b.dtype.kind not in "fc":
            continue
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        finite = diff[np.isfinite(diff)]
        noise[name] = float(finite.max()) if finite.size else 0.0
    return noise


def noise_floor(noise: float | None, rel_rms: float | None, scale: float) -> float | None:
    """The elementwise allowance the noise buys: ``NOISE_FACTOR * noise``, at most
    ``rel_rms * scale``; None without a noise figure or a ``rel_rms``."""
    if noise is None or rel_rms is None or not np.isfinite(noise):
        return None
    return float(min(NOISE_FACTOR * noise, rel_rms * scale))
