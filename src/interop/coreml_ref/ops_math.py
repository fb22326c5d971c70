"""Elementwise, activation, comparison and reduction ops of ML programs, in numpy."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from interop.coreml_ref.base import Args, OpFn

_erf = np.vectorize(math.erf, otypes=[np.float64])

CAST_DTYPES = {
    "fp16": np.float16,
    "fp32": np.float32,
    "fp64": np.float64,
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
    "uint16": np.uint16,
    "int32": np.int32,
    "int64": np.int64,
    "bool": np.bool_,
}


def erf(x: np.ndarray) -> np.ndarray:
    try:
        from scipy.special import erf as scipy_erf
    except ImportError:  # scipy is optional; math.erf per element is exact but slow
        return _erf(x)
    return scipy_erf(x)


def sigmoid(x: np.ndarray) -> np.ndarray:
    # split by sign so exp never overflows
    out = np.empty_like(x, dtype=np.result_type(x, np.float32))
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def _unary(f: Callable[[np.ndarray], np.ndarray]) -> OpFn:
    return lambda a: f(a["x"])


def _binary(f: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> OpFn:
    return lambda a: f(a["x"], a["y"])


def _gelu(a: Args) -> np.ndarray:
    x = a["x"]
    mode = str(a.scalar("mode", "EXACT"))
    if mode == "EXACT":
        return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))
    if mode == "TANH_APPROXIMATION":
        return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))
    if mode == "SIGMOID_APPROXIMATION":
        return x * sigmoid(1.702 * x)
    raise ValueError(f"unknown gelu mode {mode!r}")


def _softmax(a: Args) -> np.ndarray:
    x = a["x"]
    axis = int(a.scalar("axis", -1))
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _elu(a: Args) -> np.ndarray:
    x = a["x"]
    alpha = float(a.scalar("alpha", 1.0))
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _leaky_relu(a: Args) -> np.ndarray:
    x = a["x"]
    return np.where(x >= 0, x, float(a.scalar("alpha", 0.01)) * x)


def _prelu(a: Args) -> np.ndarray:
    x = a["x"]
    alpha = np.asarray(a["alpha"]).reshape((1, -1) + (1,) * (x.ndim - 2))
    return np.where(x >= 0, x, alpha * x)


def _clip(a: Args) -> np.ndarray:
    return np.clip(a["x"], float(a.scalar("alpha")), float(a.scalar("beta")))


def _hard_sigmoid(a: Args) -> np.ndarray:
    alpha = float(a.scalar("alpha", 0.2))
    beta = float(a.scalar("beta", 0.5))
    return np.clip(alpha * a["x"] + beta, 0.0, 1.0)


def _linear_activation(a: Args) -> np.ndarray:
    return float(a.scalar("alpha", 1.0)) * a["x"] + float(a.scalar("beta", 0.0))


def _scaled_tanh(a: Args) -> np.ndarray:
    return float(a.scalar("alpha", 1.0)) * np.tanh(float(a.scalar("beta", 1.0)) * a["x"])


def _thresholded_relu(a: Args) -> np.ndarray:
    x = a["x"]
    return np.where(x > float(a.scalar("alpha", 1.0)), x, 0.0)


def _with_epsilon(f: Callable[[np.ndarray], np.ndarray], default: float) -> OpFn:
    return lambda a: f(a["x"] + float(a.scalar("epsilon", default)))


def _real_div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if np.issubdtype(np.asarray(x).dtype, np.integer) and np.issubdtype(
        np.asarray(y).dtype, np.integer
    ):
        return np.floor_divide(x, y)
    return np.true_divide(x, y)


def _cast(a: Args) -> np.ndarray:
    name = str(a.scalar("dtype"))
    if name not in CAST_DTYPES:
        raise ValueError(f"cast to dtype {name!r} is not implemented")
    dtype = CAST_DTYPES[name]
    x = np.asarray(a.raw("x"))
    if np.issubdtype(dtype, np.integer) and x.dtype.kind == "f":
        x = np.trunc(x)  # Core ML's float -> int cast truncates toward zero
    return x.astype(dtype)


def _round(x: np.ndarray) -> np.ndarray:
    # MIL round is half away from zero; numpy's rint rounds half to even
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _reduction(f: Callable[..., np.ndarray]) -> OpFn:
    def run(a: Args) -> np.ndarray:
        x = a["x"]
        axes = a.ints("axes")
        axis = None if axes is None else tuple(ax % max(x.ndim, 1) for ax in axes)
        return f(x, axis=axis, keepdims=bool(a.scalar("keep_dims", False)))

    return run


def _arg_reduction(f: Callable[..., np.ndarray]) -> OpFn:
    def run(a: Args) -> np.ndarray:
        x = a["x"]
        axis = int(a.scalar("axis", -1))
        out = f(x, axis=axis)
        if bool(a.scalar("keep_dims", False)):
            out = np.expand_dims(out, axis)
        return out.astype(np.int32)

    return run


def _logsumexp(x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    peak = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - peak), axis=axis, keepdims=True)) + peak
    return out if keepdims else np.squeeze(out, axis=axis)


def _l2(x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))


def _l1(x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    return np.sum(np.abs(x), axis=axis, keepdims=keepdims)


def _sum_square(x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    return np.sum(x * x, axis=axis, keepdims=keepdims)


def _log_sum(x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    return np.log(np.sum(x, axis=axis, keepdims=keepdims))


OPS: dict[str, OpFn] = {
    "cast": _cast,
    "identity": lambda a: np.asarray(a.raw("x")),
    # unary
    "abs": _unary(np.abs),
    "acos": _unary(np.arccos),
    "asin": _unary(np.arcsin),
    "atan": _unary(np.arctan),
    "atanh": _unary(np.arctanh),
    "ceil": _unary(np.ceil),
    "clip": _clip,
    "cos": _unary(np.cos),
    "cosh": _unary(np.cosh),
    "erf": _unary(erf),
    "exp": _unary(np.exp),
    "exp2": _unary(np.exp2),
    "floor": _unary(np.floor),
    "inverse": lambda a: 1.0 / (a["x"] + float(a.scalar("epsilon", 1e-4))),
    "log": _with_epsilon(np.log, 1e-45),
    "logical_not": _unary(np.logical_not),
    "round": _unary(_round),
    "rsqrt": lambda a: 1.0 / np.sqrt(a["x"] + float(a.scalar("epsilon", 1e-12))),
    "sign": _unary(np.sign),
    "sin": _unary(np.sin),
    "sinh": _unary(np.sinh),
    "sqrt": _unary(np.sqrt),
    "square": _unary(np.square),
    "tan": _unary(np.tan),
    "threshold": lambda a: np.maximum(a["x"], float(a.scalar("alpha"))),
    # activations
    "relu": _unary(lambda x: np.maximum(x, 0)),
    "relu6": _unary(lambda x: np.clip(x, 0, 6)),
    "sigmoid": _unary(sigmoid),
    "sigmoid_hard": _hard_sigmoid,
    "tanh": _unary(np.tanh),
    "gelu": _gelu,
    "silu": _unary(lambda x: x * sigmoid(x)),
    "softplus": _unary(_softplus),
    "softsign": _unary(lambda x: x / (1.0 + np.abs(x))),
    "elu": _elu,
    "leaky_relu": _leaky_relu,
    "prelu": _prelu,
    "linear_activation": _linear_activation,
    "scaled_tanh": _scaled_tanh,
    "thresholded_relu": _thresholded_relu,
    "softmax": _softmax,
    # binary, numpy broadcasting is MIL's broadcasting
    "add": _binary(np.add),
    "sub": _binary(np.subtract),
    "mul": _binary(np.multiply),
    "real_div": _binary(_real_div),
    "floor_div": _binary(np.floor_divide),
    "mod": _binary(np.mod),
    "pow": _binary(np.power),
    "maximum": _binary(np.maximum),
    "minimum": _binary(np.minimum),
    "equal": _binary(np.equal),
    "not_equal": _binary(np.not_equal),
    "greater": _binary(np.greater),
    "greater_equal": _binary(np.greater_equal),
    "less": _binary(np.less),
    "less_equal": _binary(np.less_equal),
    "logical_and": _binary(np.logical_and),
    "logical_or": _binary(np.logical_or),
    "logical_xor": _binary(np.logical_xor),
    # reductions
    "reduce_mean": _reduction(np.mean),
    "reduce_sum": _reduction(np.sum),
    "reduce_max": _reduction(np.max),
    "reduce_min": _reduction(np.min),
    "reduce_prod": _reduction(np.prod),
    "reduce_l2_norm": _reduction(_l2),
    "reduce_l1_norm": _reduction(_l1),
    "reduce_sum_square": _reduction(_sum_square),
    "reduce_log_sum": _reduction(_log_sum),
    "reduce_log_sum_exp": _reduction(_logsumexp),
    "reduce_argmax": _arg_reduction(np.argmax),
    "reduce_argmin": _arg_reduction(np.argmin),
}
