"""A probe: one layer's value on both sides, and how a converted value is matched to it.

Pair modules (torch_onnx, keras, sklearn, ...) produce probes; ``core`` compares them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Probe:
    """The original's output of ``layer`` and the converted model's value for it.

    ``nodes`` are the converted model's node or op names that compute the layer;
    ``converted`` is None where no converted value could be matched (the layer is then
    listed in the diagnosis's notes, not compared).
    """

    layer: str
    nodes: list[str]
    original: np.ndarray
    converted: np.ndarray | None = None
    value: str = ""  # the converted value's name
    notes: list[str] = field(default_factory=list)


def as_float(value: Any) -> np.ndarray | None:
    """A numeric array as float64, or None for strings and other things we cannot subtract."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        return None
    return array.astype(np.float64)


def align(original: np.ndarray, candidate: np.ndarray) -> np.ndarray | None:
    """``candidate`` shaped like ``original``: as is, squeezed, or channels moved
    (NCHW <-> NHWC, as converters move them), else None."""
    if candidate.shape == original.shape:
        return candidate
    if candidate.size != original.size:
        return None
    if np.squeeze(candidate).shape == np.squeeze(original).shape:
        return candidate.reshape(original.shape)
    if candidate.ndim == original.ndim and candidate.ndim >= 3:
        last = (0, *range(2, candidate.ndim), 1)  # channels first -> channels last
        first = (0, candidate.ndim - 1, *range(1, candidate.ndim - 1))
        for perm in (last, first):
            moved = np.transpose(candidate, perm)
            if moved.shape == original.shape:
                return moved
    return None


def pick(
    original: np.ndarray, candidates: Sequence[tuple[str, Any]]
) -> tuple[str, np.ndarray] | None:
    """The last candidate (in execution order) whose value lines up with ``original``.

    Exact shapes win over a move of channels, which could pair the wrong tensors of a
    square layer.
    """
    exact = [(n, v) for n, v in candidates if np.shape(v) == original.shape]
    for name, value in reversed(exact or list(candidates)):
        array = as_float(value)
        if array is None:
            continue
        aligned = align(original, array)
        if aligned is not None:
            return name, aligned
    return None


def leaves(value: Any) -> list[np.ndarray]:
    """The numeric arrays in a nested output (tensor, tuple, list, dict), in order."""
    if isinstance(value, dict):
        return [a for v in value.values() for a in leaves(v)]
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in leaves(v)]
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    array = np.asarray(value) if hasattr(value, "shape") or hasattr(value, "__array__") else None
    return [array] if array is not None and array.dtype.kind in "biuf" else []
