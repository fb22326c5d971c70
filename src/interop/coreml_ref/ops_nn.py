"""Neural-network ops of ML programs in numpy: linear algebra, convolution, pooling,
normalisation, recurrent layers and resizing."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from interop.coreml_ref.base import Args, OpFn
from interop.coreml_ref.ops_math import sigmoid


def _linear(a: Args) -> np.ndarray:
    x, weight = a["x"], a["weight"]
    out = np.matmul(x, weight.T)
    bias = a.get("bias")
    return out if bias is None else out + bias


def _matmul(a: Args) -> np.ndarray:
    x, y = a["x"], a["y"]
    if bool(a.scalar("transpose_x", False)) and x.ndim >= 2:
        x = np.swapaxes(x, -1, -2)
    if bool(a.scalar("transpose_y", False)) and y.ndim >= 2:
        y = np.swapaxes(y, -1, -2)
    return np.matmul(x, y)


def padding(
    pad_type: str,
    pad: list[int] | None,
    in_sizes: tuple[int, ...],
    kernel: tuple[int, ...],
    strides: list[int],
    dilations: list[int],
) -> list[tuple[int, int]]:
    """(begin, end) padding per spatial dimension for pad_type valid/same/same_lower/custom."""
    n = len(in_sizes)
    if pad_type == "valid":
        return [(0, 0)] * n
    if pad_type == "custom":
        pad = pad or [0] * (2 * n)
        return [(int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(n)]
    if pad_type in ("same", "same_lower"):
        pads = []
        for size, k, s, d in zip(in_sizes, kernel, strides, dilations, strict=True):
            effective = (k - 1) * d + 1
            out = -(-size // s)
            total = max((out - 1) * s + effective - size, 0)
            small, large = total // 2, total - total // 2
            # same puts the odd pixel at the end, same_lower at the beginning
            pads.append((small, large) if pad_type == "same" else (large, small))
        return pads
    raise ValueError(f"unknown pad_type {pad_type!r}")


def _spatial_params(a: Args, n: int) -> tuple[list[int], list[int]]:
    strides = a.ints("strides") or [1] * n
    dilations = a.ints("dilations") or [1] * n
    return strides, dilations


def conv_nd(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    strides: list[int],
    pads: list[tuple[int, int]],
    dilations: list[int],
    groups: int,
) -> np.ndarray:
    """N-D grouped, strided, dilated convolution (cross-correlation) by gathering patches.

    Two common shapes skip the patch copy: a 1x1 kernel (a matmul over channels) and a
    depthwise kernel (one multiply-add per kernel offset).
    """
    n = x.ndim - 2
    kernel = weight.shape[2:]
    if groups == 1 and all(k == 1 for k in kernel) and not any(p for pair in pads for p in pair):
        return _pointwise_conv(x, weight, bias, strides)
    x = np.pad(x, [(0, 0), (0, 0), *pads]) if any(p for pair in pads for p in pair) else x
    if groups > 1 and groups == x.shape[1] == weight.shape[0] and weight.shape[1] == 1:
        return _depthwise_conv(x, weight, bias, strides, dilations)
    batch, channels = x.shape[:2]
    out_channels = weight.shape[0]
    out_sizes = [
        (x.shape[2 + i] - ((kernel[i] - 1) * dilations[i] + 1)) // strides[i] + 1 for i in range(n)
    ]
    k_total = int(np.prod(kernel))
    cols = np.empty((batch, channels, k_total, *out_sizes), dtype=np.result_type(x, weight))
    for idx, offsets in enumerate(np.ndindex(*kernel)):
        window = tuple(
            slice(o * d, o * d + (size - 1) * s + 1, s)
            for o, d, s, size in zip(offsets, dilations, strides, out_sizes, strict=True)
        )
        cols[:, :, idx] = x[(slice(None), slice(None), *window)]
    positions = int(np.prod(out_sizes))
    cols = cols.reshape(batch, groups, (channels // groups) * k_total, positions)
    w = weight.reshape(groups, out_channels // groups, (channels // groups) * k_total)
    out = np.matmul(w, cols).reshape(batch, out_channels, *out_sizes)
    if bias is not None:
        out = out + bias.reshape((1, -1) + (1,) * n)
    return out


def _out_sizes(
    in_sizes: tuple[int, ...], kernel: tuple[int, ...], strides: list[int], dilations: list[int]
) -> list[int]:
    return [
        (size - ((k - 1) * d + 1)) // s + 1
        for size, k, s, d in zip(in_sizes, kernel, strides, dilations, strict=True)
    ]


def _pointwise_conv(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, strides: list[int]
) -> np.ndarray:
    if any(s != 1 for s in strides):
        x = x[(slice(None), slice(None), *(slice(None, None, s) for s in strides))]
    batch, channels, *sizes = x.shape
    w = weight.reshape(weight.shape[0], channels)
    out = np.matmul(w, x.reshape(batch, channels, -1)).reshape(batch, -1, *sizes)
    if bias is not None:
        out += bias.reshape((1, -1) + (1,) * len(sizes))
    return out


def _depthwise_conv(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    strides: list[int],
    dilations: list[int],
) -> np.ndarray:
    """x already padded; weight (C, 1, *kernel)."""
    n = x.ndim - 2
    kernel = weight.shape[2:]
    out_sizes = _out_sizes(x.shape[2:], kernel, strides, dilations)
    out = np.zeros((x.shape[0], x.shape[1], *out_sizes), dtype=np.result_type(x, weight))
    for offsets in np.ndindex(*kernel):
        window = tuple(
            slice(o * d, o * d + (size - 1) * s + 1, s)
            for o, d, s, size in zip(offsets, dilations, strides, out_sizes, strict=True)
        )
        tap = weight[(slice(None), 0, *offsets)].reshape((1, -1) + (1,) * n)
        out += x[(slice(None), slice(None), *window)] * tap
    if bias is not None:
        out += bias.reshape((1, -1) + (1,) * n)
    return out


def _conv(a: Args) -> np.ndarray:
    x, weight = a["x"], a["weight"]
    n = x.ndim - 2
    strides, dilations = _spatial_params(a, n)
    pads = padding(
        str(a.scalar("pad_type", "valid")),
        a.ints("pad"),
        x.shape[2:],
        weight.shape[2:],
        strides,
        dilations,
    )
    return conv_nd(x, weight, a.get("bias"), strides, pads, dilations, int(a.scalar("groups", 1)))


def conv_transpose_nd(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    strides: list[int],
    dilations: list[int],
    groups: int,
    crop: list[tuple[int, int]],
    out_sizes: list[int] | None,
) -> np.ndarray:
    """N-D transposed convolution: scatter-add every input position's kernel footprint.

    ``weight`` is (C_in, C_out / groups, *K). The full result is cropped by ``crop``, or,
    where ``out_sizes`` is given, cut to that size after the begin crop.
    """
    n = x.ndim - 2
    batch, channels = x.shape[:2]
    in_sizes = x.shape[2:]
    per_group_out, kernel = weight.shape[1], weight.shape[2:]
    k_total = int(np.prod(kernel))
    full = [(in_sizes[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 for i in range(n)]
    xg = x.reshape(batch, groups, channels // groups, int(np.prod(in_sizes)))
    wg = weight.reshape(groups, channels // groups, per_group_out * k_total).transpose(0, 2, 1)
    contrib = np.matmul(wg, xg).reshape(batch, groups * per_group_out, k_total, *in_sizes)
    out = np.zeros((batch, groups * per_group_out, *full), dtype=contrib.dtype)
    for idx, offsets in enumerate(np.ndindex(*kernel)):
        window = tuple(
            slice(o * d, o * d + (size - 1) * s + 1, s)
            for o, d, s, size in zip(offsets, dilations, strides, in_sizes, strict=True)
        )
        out[(slice(None), slice(None), *window)] += contrib[:, :, idx]
    if out_sizes is None:
        sl = tuple(slice(b, full[i] - e) for i, (b, e) in enumerate(crop))
    else:
        # an explicit output shape wins over the end padding: the window starts after the
        # begin padding and is as long as asked (zeros beyond the full result)
        extend = [
            (0, max(b + t - f, 0)) for (b, _), t, f in zip(crop, out_sizes, full, strict=True)
        ]
        out = np.pad(out, [(0, 0), (0, 0), *extend])
        sl = tuple(slice(b, b + t) for (b, _), t in zip(crop, out_sizes, strict=True))
    out = out[(slice(None), slice(None), *sl)]
    if bias is not None:
        out = out + bias.reshape((1, -1) + (1,) * n)
    return out


def _conv_transpose(a: Args) -> np.ndarray:
    x, weight = a["x"], a["weight"]
    n = x.ndim - 2
    strides, dilations = _spatial_params(a, n)
    kernel = weight.shape[2:]
    pad_type = str(a.scalar("pad_type", "valid"))
    in_sizes = x.shape[2:]
    full = [(in_sizes[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 for i in range(n)]
    if pad_type == "custom":
        pad = a.ints("pad") or [0] * (2 * n)
        crop = [(pad[2 * i], pad[2 * i + 1]) for i in range(n)]
    elif pad_type in ("same", "same_lower"):
        crop = []
        for i in range(n):
            total = max(full[i] - in_sizes[i] * strides[i], 0)
            small, large = total // 2, total - total // 2
            crop.append((small, large) if pad_type == "same" else (large, small))
    elif pad_type == "valid":
        crop = [(0, 0)] * n
    else:
        raise ValueError(f"unknown pad_type {pad_type!r}")
    output_shape = a.ints("output_shape")
    out_sizes = output_shape[-n:] if output_shape else None
    return conv_transpose_nd(
        x, weight, a.get("bias"), strides, dilations, int(a.scalar("groups", 1)), crop, out_sizes
    )


def _pool(kind: str) -> OpFn:
    def run(a: Args) -> np.ndarray:
        x = a["x"]
        kernel: tuple[int, ...] = tuple(a.ints("kernel_sizes") or [])
        n = len(kernel)
        strides = a.ints("strides") or [1] * n
        in_sizes = x.shape[-n:]
        pads = padding(
            str(a.scalar("pad_type", "valid")), a.ints("pad"), in_sizes, kernel, strides, [1] * n
        )
        ceil_mode = bool(a.scalar("ceil_mode", False))
        out_sizes, extra = [], []
        for size, k, s, (b, e) in zip(in_sizes, kernel, strides, pads, strict=True):
            span = size + b + e - k
            out = (-(-span // s) if ceil_mode else span // s) + 1
            if ceil_mode and (out - 1) * s >= size + b:
                out -= 1  # the last window must start inside the input or the begin padding
            out_sizes.append(out)
            extra.append(max((out - 1) * s + k - (size + b + e), 0))
        lead = x.ndim - n
        if all(o == 1 for o in out_sizes) and all(
            k >= size for k, size in zip(kernel, in_sizes, strict=True)
        ) and not any(b or e for b, e in pads):
            # one window over the whole input (global pooling; HF EfficientNet's 320x320
            # ceil-mode pooler on a 1x1 map): one reduction instead of a loop over every
            # kernel offset (15 s -> milliseconds). Overhang beyond the input is never counted.
            return _global_pool(x, kind, tuple(range(lead, x.ndim)))
        fill = -np.inf if kind == "max" else 0.0
        widths = [(0, 0)] * lead + [(b, e + x_) for (b, e), x_ in zip(pads, extra, strict=True)]
        padded = np.pad(x, widths, constant_values=fill)
        # 1 inside the input, 2 inside explicit padding, 0 in the ceil-mode overhang
        region = np.pad(np.ones(in_sizes), [(b, e) for b, e in pads], constant_values=2.0)
        region = np.pad(region, [(0, x_) for x_ in extra])
        acc = None
        inside = np.zeros(out_sizes)
        counted = np.zeros(out_sizes)
        for offsets in np.ndindex(*kernel):
            window = tuple(
                slice(o, o + (size - 1) * s + 1, s)
                for o, s, size in zip(offsets, strides, out_sizes, strict=True)
            )
            part = padded[(Ellipsis, *window)]  # type: ignore[arg-type]
            if kind == "max":
                acc = part if acc is None else np.maximum(acc, part)
            elif kind == "l2":
                acc = part * part if acc is None else acc + part * part
            else:
                acc = part if acc is None else acc + part
            r = region[window]
            inside += r == 1.0
            counted += r > 0.0
        assert acc is not None
        if kind == "max":
            return acc
        if kind == "l2":
            return np.sqrt(acc)
        exclude = bool(a.scalar("exclude_padding_from_average", False))
        return acc / np.maximum(inside if exclude else counted, 1.0)

    return run


def _global_pool(x: np.ndarray, kind: str, axes: tuple[int, ...]) -> np.ndarray:
    if kind == "max":
        return np.max(x, axis=axes, keepdims=True)
    if kind == "l2":
        return np.sqrt(np.sum(x * x, axis=axes, keepdims=True))
    return np.mean(x, axis=axes, keepdims=True)


def _batch_norm(a: Args) -> np.ndarray:
    x = a["x"]
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = a["mean"].reshape(shape)
    variance = a["variance"].reshape(shape)
    out = (x - mean) / np.sqrt(variance + float(a.scalar("epsilon", 1e-5)))
    return _scale_shift(out, a, shape)


def _scale_shift(out: np.ndarray, a: Args, shape: tuple[int, ...]) -> np.ndarray:
    """The optional per-channel ``gamma`` scale and ``beta`` shift of the normalisation ops."""
    gamma, beta = a.get("gamma"), a.get("beta")
    if gamma is not None:
        out = out * gamma.reshape(shape)
    if beta is not None:
        out = out + beta.reshape(shape)
    return out


def _normalise(x: np.ndarray, axes: tuple[int, ...], epsilon: float) -> np.ndarray:
    mean = np.mean(x, axis=axes, keepdims=True)
    variance = np.mean(np.square(x - mean), axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon)


def _layer_norm(a: Args) -> np.ndarray:
    x = a["x"]
    axes_list = a.ints("axes")
    axes = tuple(range(x.ndim)) if axes_list is None else tuple(ax % x.ndim for ax in axes_list)
    out = _normalise(x, axes, float(a.scalar("epsilon", 1e-5)))
    param_shape = tuple(x.shape[i] if i in axes else 1 for i in range(x.ndim))
    return _scale_shift(out, a, param_shape)


def _instance_norm(a: Args) -> np.ndarray:
    x = a["x"]
    out = _normalise(x, tuple(range(2, x.ndim)), float(a.scalar("epsilon", 1e-5)))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return _scale_shift(out, a, shape)


def _l2_norm(a: Args) -> np.ndarray:
    # MIL l2_norm normalises over the last three dimensions (or all of them, if fewer)
    x = a["x"]
    axes = tuple(range(max(x.ndim - 3, 1 if x.ndim > 1 else 0), x.ndim))
    norm = np.sqrt(
        np.maximum(np.sum(x * x, axis=axes, keepdims=True), float(a.scalar("epsilon", 1e-6)))
    )
    return x / norm


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "relu": lambda v: np.maximum(v, 0),
    "linear": lambda v: v,
    "hard_sigmoid": lambda v: np.clip(0.2 * v + 0.5, 0, 1),
    "scaled_tanh": np.tanh,
}


def _activation(name: Any) -> Callable[[np.ndarray], np.ndarray]:
    key = str(name).lower()
    if key not in ACTIVATIONS:
        raise ValueError(f"unknown recurrent activation {name!r}")
    return ACTIVATIONS[key]


def _lstm_direction(
    x: np.ndarray,
    h: np.ndarray,
    c: np.ndarray,
    w_ih: np.ndarray,
    w_hh: np.ndarray,
    bias: np.ndarray | None,
    peephole: np.ndarray | None,
    reverse: bool,
    acts: tuple[Callable[..., np.ndarray], ...],
    clip: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rec, cell_act, act = acts
    hidden = w_hh.shape[1]
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    outputs = [np.empty(0)] * x.shape[0]
    x_proj = np.matmul(x, w_ih.T) + (0 if bias is None else bias)
    for t in steps:
        gates = x_proj[t] + h @ w_hh.T
        i, f, o, z = (gates[:, k * hidden : (k + 1) * hidden] for k in range(4))
        if peephole is not None:
            i = i + c * peephole[:hidden]
            f = f + c * peephole[hidden : 2 * hidden]
        c = rec(f) * c + rec(i) * cell_act(z)
        if clip is not None:
            c = np.clip(c, -clip, clip)
        if peephole is not None:
            o = o + c * peephole[2 * hidden :]
        h = rec(o) * act(c)
        outputs[t] = h
    return np.stack(outputs), h, c


def _direction(a: Args, allowed: tuple[str, ...]) -> str:
    direction = str(a.scalar("direction", "forward"))
    if direction not in allowed:
        raise ValueError(f"{a.op_type} direction {direction!r} is not implemented")
    return direction


def _lstm(a: Args) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, h0, c0 = a["x"], a["initial_h"], a["initial_c"]
    direction = _direction(a, ("forward", "reverse", "bidirectional"))
    acts = (
        _activation(a.scalar("recurrent_activation", "sigmoid")),
        _activation(a.scalar("cell_activation", "tanh")),
        _activation(a.scalar("activation", "tanh")),
    )
    clip = a.scalar("clip")
    clip = None if clip is None else float(clip)
    hidden = a["weight_hh"].shape[1]
    if direction == "bidirectional":
        fwd = _lstm_direction(
            x,
            h0[:, :hidden],
            c0[:, :hidden],
            a["weight_ih"],
            a["weight_hh"],
            a.get("bias"),
            a.get("peephole"),
            False,
            acts,
            clip,
        )
        bwd = _lstm_direction(
            x,
            h0[:, hidden:],
            c0[:, hidden:],
            a["weight_ih_back"],
            a["weight_hh_back"],
            a.get("bias_back"),
            a.get("peephole_back"),
            True,
            acts,
            clip,
        )
        seq = np.concatenate([fwd[0], bwd[0]], axis=-1)
        h = np.concatenate([fwd[1], bwd[1]], axis=-1)
        c = np.concatenate([fwd[2], bwd[2]], axis=-1)
    else:
        seq, h, c = _lstm_direction(
            x,
            h0,
            c0,
            a["weight_ih"],
            a["weight_hh"],
            a.get("bias"),
            a.get("peephole"),
            direction == "reverse",
            acts,
            clip,
        )
    out = seq if bool(a.scalar("output_sequence", False)) else h[None]
    return out, h, c


def _gru(a: Args) -> tuple[np.ndarray, np.ndarray]:
    # MIL's GRU: gates ordered [r, o, z]; the reset gate scales h before the recurrent
    # weight (h * r) @ W_ho, and one bias holds the summed input and hidden biases.
    x, h = a["x"], a["initial_h"]
    w_ih, w_hh = a["weight_ih"], a["weight_hh"]
    bias = a.get("bias")
    hidden = w_hh.shape[1]
    rec = _activation(a.scalar("recurrent_activation", "sigmoid"))
    act = _activation(a.scalar("activation", "tanh"))
    reverse = _direction(a, ("forward", "reverse")) == "reverse"
    x_proj = np.matmul(x, w_ih.T) + (0 if bias is None else bias)
    w_r, w_o, w_z = (w_hh[k * hidden : (k + 1) * hidden] for k in range(3))
    outputs = [np.empty(0)] * x.shape[0]
    for t in range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0]):
        p_r, p_o, p_z = (x_proj[t][:, k * hidden : (k + 1) * hidden] for k in range(3))
        r = rec(p_r + h @ w_r.T)
        z = rec(p_z + h @ w_z.T)
        o = act(p_o + (h * r) @ w_o.T)
        h = (1 - z) * o + z * h
        outputs[t] = h
    seq = np.stack(outputs)
    out = seq if bool(a.scalar("output_sequence", False)) else h[None]
    return out, h


def _nearest_indices(in_size: int, out_size: int) -> np.ndarray:
    return np.minimum(np.floor(np.arange(out_size) * (in_size / out_size)).astype(int), in_size - 1)


def _upsample_nearest(a: Args) -> np.ndarray:
    x = a["x"]
    h_in, w_in = x.shape[-2:]
    h_out = int(math.floor(h_in * float(a.scalar("scale_factor_height", 1))))
    w_out = int(math.floor(w_in * float(a.scalar("scale_factor_width", 1))))
    return x[..., _nearest_indices(h_in, h_out)[:, None], _nearest_indices(w_in, w_out)[None, :]]


def _resize_nearest(a: Args) -> np.ndarray:
    x = a["x"]
    h_in, w_in = x.shape[-2:]
    h_out = int(a.scalar("target_size_height"))
    w_out = int(a.scalar("target_size_width"))
    return x[..., _nearest_indices(h_in, h_out)[:, None], _nearest_indices(w_in, w_out)[None, :]]


def _grid(in_size: int, out_size: int, align_corners: bool, half_pixel: bool) -> np.ndarray:
    i = np.arange(out_size, dtype=np.float64)
    if align_corners:
        spacing = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        points = i * spacing
    else:
        spacing = in_size / out_size
        points = i * spacing + (0.5 * spacing - 0.5 if half_pixel else 0.0)
    return np.clip(points, 0, in_size - 1)


def _interpolate(x: np.ndarray, axis: int, points: np.ndarray) -> np.ndarray:
    lo = np.floor(points).astype(int)
    hi = np.minimum(lo + 1, x.shape[axis] - 1)
    frac = (points - lo).astype(x.dtype)
    shape = [1] * x.ndim
    shape[axis] = -1
    frac = frac.reshape(shape)
    return np.take(x, lo, axis=axis) * (1 - frac) + np.take(x, hi, axis=axis) * frac


def _upsample_bilinear(a: Args) -> np.ndarray:
    x = a["x"]
    align = bool(a.scalar("align_corners", True))
    half = a.scalar("half_pixel_centers")
    half_pixel = (not align) if half is None else bool(half)
    h_in, w_in = x.shape[-2:]
    h_out = int(math.floor(h_in * float(a.scalar("scale_factor_height", 1))))
    w_out = int(math.floor(w_in * float(a.scalar("scale_factor_width", 1))))
    out = _interpolate(x, x.ndim - 2, _grid(h_in, h_out, align, half_pixel))
    return _interpolate(out, x.ndim - 1, _grid(w_in, w_out, align, half_pixel))


OPS: dict[str, OpFn] = {
    "linear": _linear,
    "matmul": _matmul,
    "conv": _conv,
    "conv_transpose": _conv_transpose,
    "max_pool": _pool("max"),
    "avg_pool": _pool("avg"),
    "l2_pool": _pool("l2"),
    "batch_norm": _batch_norm,
    "layer_norm": _layer_norm,
    "instance_norm": _instance_norm,
    "l2_norm": _l2_norm,
    "lstm": _lstm,
    "gru": _gru,
    "upsample_nearest_neighbor": _upsample_nearest,
    "resize_nearest_neighbor": _resize_nearest,
    "upsample_bilinear": _upsample_bilinear,
}
