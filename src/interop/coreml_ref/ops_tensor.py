"""Shape, indexing and tensor-construction ops of ML programs, in numpy."""

from __future__ import annotations

from typing import Any

import numpy as np

from interop.coreml_ref.base import Args, OpFn


def _reshape(a: Args) -> np.ndarray:
    x = np.asarray(a.raw("x"))
    shape: list[int] = a.ints("shape") or []
    # a 0 copies the input's dimension at that position (MIL reshape semantics)
    shape = [x.shape[i] if s == 0 and i < x.ndim else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _squeeze(a: Args) -> np.ndarray:
    x = np.asarray(a.raw("x"))
    axes = a.ints("axes")
    return np.squeeze(x) if axes is None else np.squeeze(x, axis=tuple(axes))


def _slice_by_index(a: Args) -> np.ndarray:
    x = np.asarray(a.raw("x"))
    rank = x.ndim
    begin = a.ints("begin") or [0] * rank
    end = a.ints("end") or list(x.shape)
    stride = a.ints("stride") or [1] * rank
    begin_mask = [bool(v) for v in (a.ints("begin_mask") or [0] * rank)]
    end_mask = [bool(v) for v in (a.ints("end_mask") or [0] * rank)]
    squeeze_mask = [bool(v) for v in (a.ints("squeeze_mask") or [0] * rank)]
    index: list[slice | int] = []
    for i in range(rank):
        if squeeze_mask[i]:
            index.append(begin[i])
            continue
        start = None if begin_mask[i] else begin[i]
        stop = None if end_mask[i] else end[i]
        index.append(slice(start, stop, stride[i]))
    return x[tuple(index)]


def _slice_by_size(a: Args) -> np.ndarray:
    x = np.asarray(a.raw("x"))
    begin: list[int] = a.ints("begin") or []
    size: list[int] = a.ints("size") or []
    index = []
    for i, (b, s) in enumerate(zip(begin, size, strict=True)):
        b = b % x.shape[i] if b < 0 else b
        index.append(slice(b, None if s == -1 else b + s))
    return x[tuple(index)]


def _concat(a: Args) -> np.ndarray:
    # coremltools concatenates scalars (shape pieces) as if they were 1-element vectors
    values = [np.atleast_1d(np.asarray(v)) for v in a.values.get("values", [])]
    axis = int(a.scalar("axis"))
    if bool(a.scalar("interleave", False)):
        # interleave: take one slice from each input in turn along the axis
        stacked = np.stack(values, axis=axis + 1 if axis >= 0 else axis)
        shape = list(values[0].shape)
        shape[axis] = -1
        return stacked.reshape(shape)
    return np.concatenate(values, axis=axis)


def _split(a: Args) -> tuple[np.ndarray, ...]:
    x = np.asarray(a.raw("x"))
    axis = int(a.scalar("axis"))
    sizes = a.ints("split_sizes")
    if sizes is None:
        return tuple(np.split(x, int(a.scalar("num_splits")), axis=axis))
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))


def _gather(a: Args) -> np.ndarray:
    x = np.asarray(a.raw("x"))
    indices = np.asarray(a.raw("indices")).astype(np.int64)
    axis = int(a.scalar("axis", 0)) % x.ndim
    batch_dims = int(a.scalar("batch_dims", 0))
    indices = np.where(indices < 0, indices + x.shape[axis], indices)
    if batch_dims == 0:
        return np.take(x, indices, axis=axis)
    if batch_dims == axis == 1 and indices.ndim >= 1:
        return np.stack([np.take(x[b], indices[b], axis=0) for b in range(x.shape[0])])
    raise ValueError(f"gather with batch_dims={batch_dims}, axis={axis} is not implemented")


def _gather_along_axis(a: Args) -> np.ndarray:
    x = np.asarray(a.raw("x"))
    indices = np.asarray(a.raw("indices")).astype(np.int64)
    axis = int(a.scalar("axis", 0)) % x.ndim
    indices = np.where(indices < 0, indices + x.shape[axis], indices)
    return np.take_along_axis(x, indices, axis=axis)


def _gather_nd(a: Args) -> np.ndarray:
    x = np.asarray(a.raw("x"))
    indices = np.asarray(a.raw("indices")).astype(np.int64)
    if int(a.scalar("batch_dims", 0)) != 0:
        raise ValueError("gather_nd with batch_dims is not implemented")
    return x[tuple(np.moveaxis(indices, -1, 0))]


_SCATTER_MODES = {
    "update": None,
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.true_divide,
    "max": np.maximum,
    "min": np.minimum,
}


def _scatter_into(out: np.ndarray, index: tuple, updates: np.ndarray, mode: str) -> np.ndarray:
    if mode not in _SCATTER_MODES:
        raise ValueError(f"scatter mode {mode!r} is not implemented")
    combine = _SCATTER_MODES[mode]
    if combine is None:
        out[index] = updates
    else:
        # .at applies repeated indices one after another, as a sequential scatter does
        combine.at(out, index, updates)
    return out


def _scatter(a: Args) -> np.ndarray:
    data = np.array(a.raw("data"), copy=True)
    indices = np.asarray(a.raw("indices")).astype(np.int64).reshape(-1)
    updates = np.asarray(a.raw("updates")).astype(data.dtype)
    axis = int(a.scalar("axis", 0)) % data.ndim
    indices = np.where(indices < 0, indices + data.shape[axis], indices)
    moved = np.moveaxis(data, axis, 0)  # a view: writes land in data
    _scatter_into(moved, (indices,), np.moveaxis(updates, axis, 0), str(a.scalar("mode", "add")))
    return data


def _scatter_along_axis(a: Args) -> np.ndarray:
    data = np.array(a.raw("data"), copy=True)
    indices = np.asarray(a.raw("indices")).astype(np.int64)
    updates = np.asarray(a.raw("updates")).astype(data.dtype)
    axis = int(a.scalar("axis", 0)) % data.ndim
    indices = np.where(indices < 0, indices + data.shape[axis], indices)
    grids: list[Any] = list(np.indices(indices.shape, sparse=True))
    grids[axis] = indices
    return _scatter_into(data, tuple(grids), updates, str(a.scalar("mode", "add")))


def _pad(a: Args) -> np.ndarray:
    x = np.asarray(a.raw("x"))
    pad: list[int] = a.ints("pad") or []
    k = len(pad) // 2
    widths = [(0, 0)] * (x.ndim - k) + [(pad[2 * i], pad[2 * i + 1]) for i in range(k)]
    mode = str(a.scalar("mode", "constant"))
    if mode == "constant":
        return np.pad(x, widths, constant_values=float(a.scalar("constant_val", 0.0)))
    if mode == "reflect":
        return np.pad(x, widths, mode="reflect")
    if mode == "replicate":
        return np.pad(x, widths, mode="edge")
    raise ValueError(f"unknown pad mode {mode!r}")


def _range_1d(a: Args) -> np.ndarray:
    start, end, step = (np.asarray(a.raw(k)) for k in ("start", "end", "step"))
    dtype = np.result_type(start, end, step)
    return np.arange(start.item(), end.item(), step.item()).astype(dtype)


def _band_part(a: Args) -> np.ndarray:
    x = np.asarray(a.raw("x"))
    lower = int(a.scalar("lower", -1))
    upper = int(a.scalar("upper", -1))
    rows, cols = x.shape[-2:]
    i = np.arange(rows)[:, None]
    j = np.arange(cols)[None, :]
    keep = np.ones((rows, cols), dtype=bool)
    if lower >= 0:
        keep &= (i - j) <= lower
    if upper >= 0:
        keep &= (j - i) <= upper
    return np.where(keep, x, np.zeros((), dtype=x.dtype))


def _cumsum(a: Args) -> np.ndarray:
    x = np.asarray(a.raw("x"))
    axis = int(a.scalar("axis", 0))
    reverse = bool(a.scalar("reverse", False))
    if reverse:
        x = np.flip(x, axis)
    out = np.cumsum(x, axis=axis)
    if bool(a.scalar("exclusive", False)):
        out = out - x
    return np.flip(out, axis) if reverse else out


def _topk(a: Args) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(a.raw("x"))
    k = int(a.scalar("k", 1))
    axis = int(a.scalar("axis", -1))
    ascending = bool(a.scalar("ascending", False))
    order = np.argsort(x if ascending else -x, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis)
    return np.take_along_axis(x, idx, axis=axis), idx.astype(np.int32)


def _argsort(a: Args) -> np.ndarray:
    x = np.asarray(a.raw("x"))
    axis = int(a.scalar("axis", -1))
    ascending = bool(a.scalar("ascending", False))
    return np.argsort(x if ascending else -x, axis=axis, kind="stable").astype(np.int32)


def _one_hot(a: Args) -> np.ndarray:
    indices = np.asarray(a.raw("indices")).astype(np.int64)
    depth = int(a.scalar("one_hot_vector_size"))
    axis = int(a.scalar("axis", -1))
    hot = np.arange(depth) == indices[..., None]
    hot = np.moveaxis(hot, -1, axis if axis >= 0 else indices.ndim + 1 + axis)
    return np.where(hot, a.scalar("on_value", 1), a.scalar("off_value", 0))


def _flatten2d(a: Args) -> np.ndarray:
    x = np.asarray(a.raw("x"))
    axis = int(a.scalar("axis", 1)) % (x.ndim + 1)
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


def _pixel_shuffle(a: Args) -> np.ndarray:
    x = np.asarray(a.raw("x"))
    r = int(a.scalar("upscale_factor"))
    n, c, h, w = x.shape
    out = x.reshape(n, c // (r * r), r, r, h, w).transpose(0, 1, 4, 2, 5, 3)
    return out.reshape(n, c // (r * r), h * r, w * r)


OPS: dict[str, OpFn] = {
    "reshape": _reshape,
    "transpose": lambda a: np.transpose(np.asarray(a.raw("x")), a.ints("perm")),
    "expand_dims": lambda a: np.expand_dims(np.asarray(a.raw("x")), tuple(a.ints("axes") or [])),
    "squeeze": _squeeze,
    "slice_by_index": _slice_by_index,
    "slice_by_size": _slice_by_size,
    "concat": _concat,
    "stack": lambda a: np.stack(
        [np.asarray(v) for v in a.values.get("values", [])], axis=int(a.scalar("axis"))
    ),
    "split": _split,
    "gather": _gather,
    "gather_along_axis": _gather_along_axis,
    "gather_nd": _gather_nd,
    "scatter": _scatter,
    "scatter_along_axis": _scatter_along_axis,
    "pad": _pad,
    "tile": lambda a: np.tile(np.asarray(a.raw("x")), a.ints("reps") or []),
    "select": lambda a: np.where(
        np.asarray(a.raw("cond")).astype(bool), np.asarray(a.raw("a")), np.asarray(a.raw("b"))
    ),
    "shape": lambda a: np.asarray(np.asarray(a.raw("x")).shape, dtype=np.int32),
    "fill": lambda a: np.full(a.ints("shape") or [], np.asarray(a.raw("value", 0.0))),
    "range_1d": _range_1d,
    "band_part": _band_part,
    "reverse": lambda a: np.flip(
        np.asarray(a.raw("x")), axis=None if a.ints("axes") is None else tuple(a.ints("axes") or [])
    ),
    "cumsum": _cumsum,
    "topk": _topk,
    "argsort": _argsort,
    "one_hot": _one_hot,
    "flatten2d": _flatten2d,
    "pixel_shuffle": _pixel_shuffle,
    "einsum": lambda a: np.einsum(
        str(a.scalar("equation")), *[np.asarray(v) for v in a.many("values")]
    ),
}
