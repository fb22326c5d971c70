"""Seeded inputs from a model's input specs, cached so both sides see identical arrays.

Value ranges per dtype: floats follow a normal with the example feed's mean and spread
(standard normal without one); integers are drawn uniformly between the example's smallest
and largest values (0..9 without one); booleans are fair coins. For scikit-learn every
column is resampled from the example sample's own values, so categories, strings, NaNs and
the scale of each feature stay realistic. Imports no framework.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from interop.errors import InvalidInput
from interop.types import TensorSpec

DEFAULT_SYMBOLIC_DIM = 8


def _is_batch_dim(dim: Any) -> bool:
    return not isinstance(dim, int)


def fixed_batch(specs: Sequence[TensorSpec]) -> int | None:
    """The batch size every input fixes, or None when the batch dimension is free."""
    sizes = {s.shape[0] for s in specs if s.shape and isinstance(s.shape[0], int)}
    free = any(s.shape and _is_batch_dim(s.shape[0]) for s in specs)
    return sizes.pop() if len(sizes) == 1 and not free else None


def _shape(spec: TensorSpec, batch: int, example: np.ndarray | None) -> tuple[int, ...]:
    shape = []
    for axis, dim in enumerate(spec.shape):
        if axis == 0:
            shape.append(batch)
        elif isinstance(dim, int):
            shape.append(dim)
        elif example is not None and example.ndim == len(spec.shape):
            shape.append(int(example.shape[axis]))
        else:
            shape.append(DEFAULT_SYMBOLIC_DIM)
    return tuple(shape)


def _numpy_dtype(spec: TensorSpec, example: np.ndarray | None) -> np.dtype:
    if spec.dtype in ("object", "str", "string"):
        return np.dtype(object)
    try:
        return np.dtype(spec.dtype)
    except TypeError:
        if example is not None:
            return example.dtype
        raise InvalidInput(
            f"cannot generate inputs of dtype {spec.dtype!r} for {spec.name!r}",
            "pass inputs= with your own data",
        ) from None


def _resample(rng: np.random.Generator, example: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Each trailing column drawn from that column's observed values."""
    rows = example.reshape(example.shape[0], -1) if example.ndim > 1 else example[:, None]
    picks = rng.integers(0, rows.shape[0], size=(shape[0], rows.shape[1]))
    out = np.take_along_axis(rows, picks, axis=0)
    return out.reshape(shape) if example.ndim > 1 else out[:, 0]


def generate(
    spec: TensorSpec,
    batch: int,
    rng: np.random.Generator,
    example: np.ndarray | None = None,
    resample: bool = False,
) -> np.ndarray:
    """One array for ``spec`` at ``batch`` rows."""
    dtype = _numpy_dtype(spec, example)
    shape = _shape(spec, batch, example)
    if example is not None and example.size and (resample or dtype.kind == "O"):
        if example.shape[1:] == shape[1:]:
            return _resample(rng, example, shape).astype(dtype, copy=False)
        if dtype.kind == "O":
            return rng.choice(example.ravel(), size=shape).astype(object)
    if dtype.kind == "O":
        return rng.choice(np.array(["a", "b", "c"], dtype=object), size=shape)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "iu":
        if example is not None and example.size:
            low, high = int(np.min(example)), int(np.max(example))
        else:
            low, high = 0, 9
        return rng.integers(low, high + 1, size=shape).astype(dtype)
    if dtype.kind in "fc":
        mean, std = 0.0, 1.0
        if example is not None and example.size:
            finite = np.asarray(example, dtype=np.float64)
            finite = finite[np.isfinite(finite)]
            if finite.size:
                mean, std = float(finite.mean()), float(finite.std()) or 1.0
        return (rng.standard_normal(size=shape) * std + mean).astype(dtype)
    raise InvalidInput(
        f"cannot generate inputs of dtype {dtype} for {spec.name!r}",
        "pass inputs= with your own data",
    )


class InputCache:
    """Feeds keyed by the converted model's input names, one seeded draw per batch size."""

    def __init__(
        self,
        specs: Sequence[TensorSpec],
        *,
        seed: int = 0,
        example_feed: Mapping[str, Any] | None = None,
        resample: bool = False,
    ) -> None:
        self.specs = tuple(specs)
        self.seed = seed
        self.example_feed = {k: np.asarray(v) for k, v in (example_feed or {}).items()}
        self.resample = resample
        self._feeds: dict[int, dict[str, np.ndarray]] = {}

    def feed(self, batch: int) -> dict[str, np.ndarray]:
        if batch not in self._feeds:
            # seeded per batch size, so a feed does not depend on which sizes came before
            rng = np.random.default_rng([self.seed, batch])
            self._feeds[batch] = {
                spec.name: generate(
                    spec, batch, rng, self.example_feed.get(spec.name), self.resample
                )
                for spec in self.specs
            }
        return self._feeds[batch]


def from_user(
    data: Any, specs: Sequence[TensorSpec], input_map: Mapping[str, str]
) -> dict[str, np.ndarray]:
    """The user's ``inputs=`` as a feed keyed by converted input names.

    Accepts a dict keyed by the original's or the converted model's input names, one array
    (a single-input model), a tuple/list of arrays in the original's input order, or a pandas
    DataFrame (one converted input per column). Numeric arrays take the converted model's
    dtype so that both sides run on the same numbers.
    """
    converted_names = [s.name for s in specs]
    originals = list(input_map)
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):
        data = {str(col): data[col].to_numpy().reshape(-1, 1) for col in data.columns}
    if isinstance(data, Mapping):
        feed = {}
        for key, value in data.items():
            name = input_map.get(key, key)
            if name not in converted_names:
                raise InvalidInput(
                    f"inputs= has {key!r}, which is not an input of the model",
                    "inputs: " + ", ".join(originals or converted_names),
                )
            feed[name] = np.asarray(value)
    else:
        arrays = list(data) if isinstance(data, (tuple, list)) else [data]
        order = [input_map[o] for o in originals] if originals else converted_names
        if len(arrays) != len(order):
            raise InvalidInput(
                f"inputs= gives {len(arrays)} array(s); the model takes {len(order)}",
                "pass one array per input, in order, or a dict keyed by input name",
            )
        feed = {name: np.asarray(a) for name, a in zip(order, arrays, strict=True)}
    missing = [n for n in converted_names if n not in feed]
    if missing:
        raise InvalidInput(
            "inputs= lacks input(s): " + ", ".join(missing),
            "give a value for every input of the model",
        )
    for spec in specs:
        value = feed[spec.name]
        try:
            want = np.dtype(spec.dtype)
        except TypeError:
            continue
        if value.dtype != want and value.dtype.kind in "biuf" and want.kind in "biuf":
            feed[spec.name] = value.astype(want)
    return feed


def batch_of(feed: Mapping[str, Any]) -> int:
    for value in feed.values():
        shape = getattr(value, "shape", ())
        if shape:
            return int(shape[0])
    return 1
