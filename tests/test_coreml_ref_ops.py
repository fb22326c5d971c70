"""The Core ML reference executor, op by op, against numpy and torch formulas.

Each test builds a tiny MIL program with coremltools' builder, serialises it as an ML
program (no optimisation passes, so the op under test survives) and runs it through
interop.coreml_ref; weights large enough to land in weight.bin exercise the blob reader.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

ct = pytest.importorskip("coremltools")
torch = pytest.importorskip("torch")
F = torch.nn.functional

from coremltools.converters.mil import Builder as mb  # noqa: E402

from interop.coreml_ref import load_executor  # noqa: E402
from interop.coreml_ref.mlprogram import UnsupportedOp  # noqa: E402

RNG = np.random.default_rng(0)


def randn(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def run_mil(build, inputs: dict[str, np.ndarray], precision: str = "fp32", model_out=None):
    """Build ``build(**placeholders)`` as an ML program and run it on the reference executor."""
    from coremltools.converters.mil.mil import Function, Program, types

    placeholders = {
        name: mb.placeholder(
            shape=a.shape, dtype=types.int32 if a.dtype.kind in "iu" else types.fp32
        )
        for name, a in inputs.items()
    }
    with Function(placeholders, opset_version=ct.target.iOS17) as func:
        result = build(**func.inputs)
        func.set_outputs(list(result) if isinstance(result, (list, tuple)) else [result])
    prog = Program()
    prog.add_function("main", func)

    ml = ct.convert(
        prog,
        convert_to="mlprogram",
        compute_precision=ct.precision.FLOAT32 if precision == "fp32" else ct.precision.FLOAT16,
        pass_pipeline=ct.PassPipeline.EMPTY if precision == "fp32" else None,
        minimum_deployment_target=ct.target.iOS17,
    )
    if model_out is not None:
        model_out.append(ml)
    executor = load_executor(ml)
    names = [i.name for i in ml.get_spec().description.input]
    feed = dict(zip(names, inputs.values(), strict=True))
    outputs = executor.run(feed)
    values = [outputs[o.name] for o in ml.get_spec().description.output]
    return values[0] if len(values) == 1 else values


def close(got, want, atol=1e-5, rtol=1e-5):
    want = want.detach().numpy() if hasattr(want, "detach") else np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, atol=atol, rtol=rtol)


# -- convolution --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pad_type", "strides", "dilations", "groups", "size", "torch_pad"),
    [
        ("valid", [1, 1], [1, 1], 1, 8, (0, 0, 0, 0)),
        ("custom", [2, 1], [1, 2], 1, 9, (1, 2, 0, 1)),  # torch pad order: W then H
        ("same", [1, 1], [2, 2], 2, 8, (2, 2, 2, 2)),
        ("same", [2, 2], [1, 1], 1, 8, (0, 1, 0, 1)),  # odd total: extra pixel at the end
        ("same_lower", [2, 2], [1, 1], 4, 8, (1, 0, 1, 0)),  # ... or at the beginning
    ],
)
def test_conv2d_padding_strides_dilations_groups(
    pad_type, strides, dilations, groups, size, torch_pad
):
    x = randn(2, 4, size, size)
    w = randn(6 if groups != 4 else 4, 4 // groups, 3, 3)
    b = randn(w.shape[0])
    pad = [0, 1, 1, 2] if pad_type == "custom" else [0, 0, 0, 0]
    got = run_mil(
        lambda x: mb.conv(
            x=x,
            weight=w,
            bias=b,
            strides=strides,
            pad_type=pad_type,
            pad=pad,
            dilations=dilations,
            groups=groups,
        ),
        {"x": x},
    )
    want = F.conv2d(
        F.pad(torch.from_numpy(x), torch_pad),
        torch.from_numpy(w),
        torch.from_numpy(b),
        stride=strides,
        dilation=dilations,
        groups=groups,
    )
    close(got, want, atol=1e-4)


def test_conv1d_and_conv3d():
    x1, w1 = randn(2, 3, 11), randn(5, 3, 3)
    got = run_mil(lambda x: mb.conv(x=x, weight=w1, strides=[2], pad_type="valid"), {"x": x1})
    close(got, F.conv1d(torch.from_numpy(x1), torch.from_numpy(w1), stride=2), atol=1e-4)
    x3, w3 = randn(1, 2, 5, 6, 4), randn(3, 2, 2, 3, 2)
    got = run_mil(lambda x: mb.conv(x=x, weight=w3, pad_type="valid"), {"x": x3})
    close(got, F.conv3d(torch.from_numpy(x3), torch.from_numpy(w3)), atol=1e-4)


@pytest.mark.parametrize(
    ("kernel", "groups", "strides", "dilations", "pad_type"),
    [
        (1, 1, [1, 1], [1, 1], "valid"),  # pointwise: a matmul over channels, no patches
        (1, 1, [2, 2], [1, 1], "valid"),  # pointwise with a stride: subsampled first
        (1, 1, [1, 1], [1, 1], "same"),
        (3, 6, [1, 1], [1, 1], "same"),  # depthwise: a multiply-add per kernel offset
        (3, 6, [2, 1], [2, 2], "valid"),
        (5, 6, [2, 2], [1, 1], "same_lower"),
    ],
)
def test_pointwise_and_depthwise_conv_fast_paths(kernel, groups, strides, dilations, pad_type):
    x = randn(2, 6, 9, 10)
    w = randn(6 if groups == 6 else 5, 6 // groups, kernel, kernel)
    b = randn(w.shape[0])
    conv = lambda x: mb.conv(  # noqa: E731
        x=x, weight=w, bias=b, strides=strides, pad_type=pad_type, dilations=dilations,
        groups=groups,
    )
    got = run_mil(conv, {"x": x})
    padding = 0 if pad_type == "valid" else (kernel - 1) // 2 if strides == [1, 1] else None
    if padding is None:  # same_lower, stride 2, kernel 5 on 9x10: begin 2, end 1 / 2, 1
        xt = F.pad(torch.from_numpy(x), (2, 1, 2, 2))
        want = F.conv2d(xt, torch.from_numpy(w), torch.from_numpy(b), stride=strides,
                        groups=groups)
    else:
        want = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b),
                        stride=strides, dilation=dilations, padding=padding, groups=groups)
    close(got, want, atol=1e-4)


@pytest.mark.parametrize(
    ("strides", "pad", "groups", "dilations", "output_padding"),
    [
        ([2, 2], [1, 1, 1, 1], 1, [1, 1], 0),
        ([2, 3], [0, 0, 1, 1], 2, [1, 2], 1),
        ([1, 1], [0, 0, 0, 0], 1, [1, 1], 0),
    ],
)
def test_conv_transpose(strides, pad, groups, dilations, output_padding):
    x = randn(2, 4, 5, 6)
    w = randn(4, 6 // groups, 3, 3)
    b = randn(6)
    want = F.conv_transpose2d(
        torch.from_numpy(x),
        torch.from_numpy(w),
        torch.from_numpy(b),
        stride=strides,
        padding=(pad[0], pad[2]),
        output_padding=output_padding,
        groups=groups,
        dilation=dilations,
    )
    got = run_mil(
        lambda x: mb.conv_transpose(
            x=x,
            weight=w,
            bias=b,
            strides=strides,
            pad_type="custom",
            pad=pad,
            output_shape=list(want.shape),
            groups=groups,
            dilations=dilations,
        ),
        {"x": x},
    )
    close(got, want, atol=1e-4)


# -- linear algebra -----------------------------------------------------------------------


def test_linear_and_matmul_with_transposes_and_broadcasting():
    x, w, b = randn(3, 7), randn(5, 7), randn(5)
    close(run_mil(lambda x: mb.linear(x=x, weight=w, bias=b), {"x": x}), x @ w.T + b, atol=1e-5)
    a, c = randn(2, 1, 4, 3), randn(5, 4, 6)
    got = run_mil(lambda a, c: mb.matmul(x=a, y=c, transpose_x=True), {"a": a, "c": c})
    close(got, np.matmul(np.swapaxes(a, -1, -2), c), atol=1e-5)
    d = randn(7, 6)
    got = run_mil(lambda c, d: mb.matmul(x=c, y=d, transpose_y=True), {"c": c, "d": d})
    close(got, c @ d.T, atol=1e-5)


# -- pooling ------------------------------------------------------------------------------


# MIL allows ceil_mode only with valid and custom padding
@pytest.mark.parametrize(
    ("pad_type", "ceil_mode"),
    [("valid", False), ("valid", True), ("custom", False), ("custom", True), ("same", False)],
)
def test_max_and_avg_pool(pad_type, ceil_mode):
    x = randn(2, 3, 9, 8)
    pad = [1, 1, 1, 1] if pad_type == "custom" else [0, 0, 0, 0]
    tx = torch.from_numpy(x)
    if pad_type == "same":  # 9 -> 5 needs (1, 1); 8 -> 4 needs (0, 1)
        want_max = F.max_pool2d(F.pad(tx, (0, 1, 1, 1), value=-math.inf), 3, 2)
        counts = F.avg_pool2d(F.pad(torch.ones_like(tx), (0, 1, 1, 1)), 3, 2)
        want_avg = F.avg_pool2d(F.pad(tx, (0, 1, 1, 1)), 3, 2) / counts
    else:
        p = 1 if pad_type == "custom" else 0
        want_max = F.max_pool2d(tx, 3, 2, padding=p, ceil_mode=ceil_mode)
        want_avg = F.avg_pool2d(tx, 3, 2, padding=p, ceil_mode=ceil_mode, count_include_pad=False)
    got = run_mil(
        lambda x: mb.max_pool(
            x=x,
            kernel_sizes=[3, 3],
            strides=[2, 2],
            pad_type=pad_type,
            pad=pad,
            ceil_mode=ceil_mode,
        ),
        {"x": x},
    )
    close(got, want_max)
    got = run_mil(
        lambda x: mb.avg_pool(
            x=x,
            kernel_sizes=[3, 3],
            strides=[2, 2],
            pad_type=pad_type,
            pad=pad,
            ceil_mode=ceil_mode,
            exclude_padding_from_average=True,
        ),
        {"x": x},
    )
    close(got, want_avg)


@pytest.mark.parametrize("op", ["max_pool", "avg_pool", "l2_pool"])
def test_global_pooling_fast_path(op):
    x = randn(2, 3, 7, 5)
    got = run_mil(
        lambda x: getattr(mb, op)(x=x, kernel_sizes=[7, 5], strides=[1, 1], pad_type="valid"),
        {"x": x},
    )
    tx = torch.from_numpy(x)
    want = {
        "max_pool": F.max_pool2d(tx, (7, 5)),
        "avg_pool": F.avg_pool2d(tx, (7, 5)),
        "l2_pool": F.lp_pool2d(tx, 2, (7, 5)),
    }[op]
    close(got, want, atol=1e-5)


def test_ceil_mode_pool_with_a_kernel_larger_than_the_input():
    """HF EfficientNet's pooler: AvgPool2d(320, ceil_mode=True) on a small map."""
    x = randn(2, 3, 2, 3)
    got = run_mil(
        lambda x: mb.avg_pool(x=x, kernel_sizes=[40, 40], strides=[40, 40], pad_type="custom",
                              pad=[0, 0, 0, 0], ceil_mode=True),
        {"x": x},
    )
    close(got, F.avg_pool2d(torch.from_numpy(x), 40, ceil_mode=True), atol=1e-5)


def test_avg_pool_counting_padding():
    x = randn(1, 2, 6, 6)
    got = run_mil(
        lambda x: mb.avg_pool(
            x=x,
            kernel_sizes=[3, 3],
            strides=[1, 1],
            pad_type="custom",
            pad=[1, 1, 1, 1],
            exclude_padding_from_average=False,
        ),
        {"x": x},
    )
    close(got, F.avg_pool2d(torch.from_numpy(x), 3, 1, padding=1, count_include_pad=True))


# -- normalisation ------------------------------------------------------------------------


def test_batch_layer_instance_norm():
    x = randn(4, 3, 5, 5)
    mean, var, gamma, beta = randn(3), np.abs(randn(3)) + 0.1, randn(3), randn(3)
    got = run_mil(
        lambda x: mb.batch_norm(x=x, mean=mean, variance=var, gamma=gamma, beta=beta, epsilon=1e-3),
        {"x": x},
    )
    want = F.batch_norm(
        torch.from_numpy(x),
        torch.from_numpy(mean),
        torch.from_numpy(var),
        torch.from_numpy(gamma),
        torch.from_numpy(beta),
        eps=1e-3,
    )
    close(got, want, atol=1e-5)
    g2, b2 = randn(5, 5), randn(5, 5)
    got = run_mil(lambda x: mb.layer_norm(x=x, axes=[-2, -1], gamma=g2, beta=b2), {"x": x})
    want = F.layer_norm(torch.from_numpy(x), (5, 5), torch.from_numpy(g2), torch.from_numpy(b2))
    close(got, want, atol=1e-5)
    got = run_mil(lambda x: mb.instance_norm(x=x, gamma=gamma, beta=beta), {"x": x})
    want = F.instance_norm(
        torch.from_numpy(x), weight=torch.from_numpy(gamma), bias=torch.from_numpy(beta)
    )
    close(got, want, atol=1e-5)


# -- activations and elementwise ----------------------------------------------------------

X = randn(3, 4, 5)
ACTIVATIONS = [
    ("relu", lambda x: mb.relu(x=x), F.relu),
    ("relu6", lambda x: mb.relu6(x=x), F.relu6),
    ("sigmoid", lambda x: mb.sigmoid(x=x), torch.sigmoid),
    ("tanh", lambda x: mb.tanh(x=x), torch.tanh),
    ("gelu_exact", lambda x: mb.gelu(x=x, mode="EXACT"), F.gelu),
    (
        "gelu_tanh",
        lambda x: mb.gelu(x=x, mode="TANH_APPROXIMATION"),
        lambda t: F.gelu(t, approximate="tanh"),
    ),
    ("silu", lambda x: mb.silu(x=x), F.silu),
    ("softplus", lambda x: mb.softplus(x=x), F.softplus),
    ("elu", lambda x: mb.elu(x=x, alpha=0.7), lambda t: F.elu(t, 0.7)),
    ("leaky_relu", lambda x: mb.leaky_relu(x=x, alpha=0.1), lambda t: F.leaky_relu(t, 0.1)),
    ("clip", lambda x: mb.clip(x=x, alpha=-0.5, beta=0.8), lambda t: t.clamp(-0.5, 0.8)),
    ("softmax", lambda x: mb.softmax(x=x, axis=1), lambda t: F.softmax(t, dim=1)),
    ("erf", lambda x: mb.erf(x=x), torch.erf),
    ("exp", lambda x: mb.exp(x=x), torch.exp),
    ("abs", lambda x: mb.abs(x=x), torch.abs),
    ("square", lambda x: mb.square(x=x), torch.square),
    ("sqrt", lambda x: mb.sqrt(x=mb.abs(x=x)), lambda t: torch.sqrt(t.abs())),
    (
        "rsqrt",
        lambda x: mb.rsqrt(x=mb.abs(x=x), epsilon=1e-3),
        lambda t: torch.rsqrt(t.abs() + 1e-3),
    ),
    ("log", lambda x: mb.log(x=mb.abs(x=x), epsilon=1e-3), lambda t: torch.log(t.abs() + 1e-3)),
    (
        "hard_sigmoid",
        lambda x: mb.sigmoid_hard(x=x, alpha=0.2, beta=0.5),
        lambda t: (0.2 * t + 0.5).clamp(0, 1),
    ),
]


# One program per family keeps the test quick: every op is an output of the same program.
@pytest.fixture(scope="module")
def activation_outputs():
    outputs = run_mil(lambda x: [build(x) for _, build, _ in ACTIVATIONS], {"x": X})
    return dict(zip([a[0] for a in ACTIVATIONS], outputs, strict=True))


@pytest.mark.parametrize(
    ("name", "reference"), [(a[0], a[2]) for a in ACTIVATIONS], ids=[a[0] for a in ACTIVATIONS]
)
def test_activation(activation_outputs, name, reference):
    close(activation_outputs[name], reference(torch.from_numpy(X)), atol=2e-6, rtol=1e-5)


BINARY = [
    ("add", mb.add, np.add),
    ("sub", mb.sub, np.subtract),
    ("mul", mb.mul, np.multiply),
    ("real_div", mb.real_div, np.true_divide),
    ("maximum", mb.maximum, np.maximum),
    ("minimum", mb.minimum, np.minimum),
    ("greater", mb.greater, np.greater),
    ("less", mb.less, np.less),
    ("equal", mb.equal, np.equal),
]
A, B = randn(2, 1, 5), randn(3, 1)
B[0, 0] = A[0, 0, 0]  # one exact tie, so equal has a True to find


@pytest.fixture(scope="module")
def binary_outputs():
    outputs = run_mil(lambda a, b: [op(x=a, y=b) for _, op, _ in BINARY], {"a": A, "b": B})
    return dict(zip([b[0] for b in BINARY], outputs, strict=True))


@pytest.mark.parametrize(
    ("name", "reference"), [(b[0], b[2]) for b in BINARY], ids=[b[0] for b in BINARY]
)
def test_binary_broadcasting(binary_outputs, name, reference):
    close(binary_outputs[name], reference(A, B))


def test_pow_with_scalar_exponent():
    a = np.abs(randn(4, 3)) + 0.5
    close(run_mil(lambda a: mb.pow(x=a, y=np.float32(1.7)), {"a": a}), a**1.7, rtol=1e-5)


REDUCTIONS = [
    ("reduce_mean", mb.reduce_mean, np.mean),
    ("reduce_sum", mb.reduce_sum, np.sum),
    ("reduce_max", mb.reduce_max, np.max),
    ("reduce_min", mb.reduce_min, np.min),
    ("reduce_prod", mb.reduce_prod, np.prod),
]
AXES = [([1], False), ([-1, 0], True)]
XR = randn(3, 4, 5)


@pytest.fixture(scope="module")
def reduction_outputs():
    outputs = run_mil(
        lambda x: [
            op(x=x, axes=axes, keep_dims=keep) for _, op, _ in REDUCTIONS for axes, keep in AXES
        ],
        {"x": XR},
    )
    keys = [(name, i) for name, _, _ in REDUCTIONS for i in range(len(AXES))]
    return dict(zip(keys, outputs, strict=True))


@pytest.mark.parametrize(
    ("name", "reference"), [(r[0], r[2]) for r in REDUCTIONS], ids=[r[0] for r in REDUCTIONS]
)
@pytest.mark.parametrize("which", range(len(AXES)))
def test_reductions(reduction_outputs, name, reference, which):
    axes, keep = AXES[which]
    want = reference(XR, axis=tuple(a % 3 for a in axes), keepdims=keep)
    close(reduction_outputs[(name, which)], want, rtol=1e-5)


# -- shapes, slicing and indexing ---------------------------------------------------------


def test_reshape_transpose_expand_squeeze():
    x = randn(2, 3, 4)
    close(run_mil(lambda x: mb.reshape(x=x, shape=[4, -1]), {"x": x}), x.reshape(4, -1))
    close(run_mil(lambda x: mb.transpose(x=x, perm=[2, 0, 1]), {"x": x}), x.transpose(2, 0, 1))
    close(run_mil(lambda x: mb.expand_dims(x=x, axes=[0, -1]), {"x": x}), x[None, ..., None])
    y = randn(1, 3, 1, 2)
    close(run_mil(lambda y: mb.squeeze(x=y, axes=[2]), {"y": y}), y[:, :, 0])
    close(run_mil(lambda y: mb.squeeze(x=y), {"y": y}), y.squeeze())


def test_slice_by_index_masks_strides_and_squeeze():
    x = randn(4, 6, 5)
    got = run_mil(
        lambda x: mb.slice_by_index(
            x=x,
            begin=[1, 0, -1],
            end=[3, 5, 0],
            stride=[1, 2, -2],
            begin_mask=[False, True, False],
            end_mask=[False, False, True],
            squeeze_mask=[False, False, False],
        ),
        {"x": x},
    )
    close(got, x[1:3, :5:2, -1::-2])
    got = run_mil(
        lambda x: mb.slice_by_index(
            x=x, begin=[2, 1, 0], end=[3, 4, 5], squeeze_mask=[True, False, False]
        ),
        {"x": x},
    )
    close(got, x[2, 1:4, 0:5])
    close(
        run_mil(lambda x: mb.slice_by_size(x=x, begin=[1, 2, 0], size=[2, -1, 3]), {"x": x}),
        x[1:3, 2:, 0:3],
    )


def test_concat_split_stack_tile():
    a, b = randn(2, 3), randn(2, 5)
    close(
        run_mil(lambda a, b: mb.concat(values=[a, b], axis=1), {"a": a, "b": b}),
        np.concatenate([a, b], 1),
    )
    parts = run_mil(lambda b: mb.split(x=b, split_sizes=[1, 3, 1], axis=1), {"b": b})
    for got, want in zip(parts, np.split(b, [1, 4], axis=1), strict=True):
        close(got, want)
    parts = run_mil(lambda b: mb.split(x=b, num_splits=2, axis=0), {"b": b})
    close(parts[1], b[1:])
    close(run_mil(lambda a: mb.stack(values=[a, a], axis=1), {"a": a}), np.stack([a, a], 1))
    close(run_mil(lambda a: mb.tile(x=a, reps=[2, 3]), {"a": a}), np.tile(a, [2, 3]))


def test_gather_and_gather_along_axis():
    x = randn(5, 4)
    idx = np.array([[4, 0], [1, -1]], np.int32)
    close(
        run_mil(lambda x: mb.gather(x=x, indices=idx, axis=0), {"x": x}),
        x[np.where(idx < 0, idx + 5, idx)],
    )
    idx2 = np.array([[3, 0, 1, 2], [0, 0, 4, 1]], np.int32)
    close(
        run_mil(lambda x: mb.gather_along_axis(x=x, indices=idx2, axis=0), {"x": x}),
        np.take_along_axis(x, idx2, 0),
    )
    ids = np.array([[2, 0, 1]], np.int32)
    close(run_mil(lambda i: mb.gather(x=x, indices=i, axis=0), {"i": ids}), x[ids])


@pytest.mark.parametrize(
    ("mode", "np_mode"), [("constant", "constant"), ("reflect", "reflect"), ("replicate", "edge")]
)
def test_pad_modes(mode, np_mode):
    x = randn(2, 3, 4, 5)
    got = run_mil(lambda x: mb.pad(x=x, pad=[1, 2, 2, 1], mode=mode, constant_val=0.5), {"x": x})
    kwargs = {"constant_values": 0.5} if mode == "constant" else {}
    close(got, np.pad(x, [(0, 0), (0, 0), (1, 2), (2, 1)], mode=np_mode, **kwargs))


def test_select_comparisons_shape_fill_range_band_part_cast():
    a, b = randn(3, 4), randn(3, 4)
    got = run_mil(lambda a, b: mb.select(cond=mb.greater(x=a, y=b), a=a, b=b), {"a": a, "b": b})
    close(got, np.maximum(a, b))
    got = run_mil(lambda a: mb.fill(shape=mb.shape(x=a), value=2.5), {"a": a})
    close(got, np.full((3, 4), 2.5, np.float32))
    got = run_mil(
        lambda a: mb.range_1d(start=np.int32(1), end=np.int32(10), step=np.int32(3)), {"a": a}
    )
    close(got, np.arange(1, 10, 3))
    got = run_mil(lambda a: mb.band_part(x=a, lower=1, upper=0), {"a": a})
    close(got, np.tril(np.triu(a, -1)))
    got = run_mil(lambda a: mb.cast(x=mb.mul(x=a, y=3.0), dtype="int32"), {"a": a})
    close(got, np.trunc(a * 3).astype(np.int32))


def test_upsample_nearest_and_bilinear():
    x = randn(1, 2, 3, 4)
    tx = torch.from_numpy(x)
    got = run_mil(
        lambda x: mb.upsample_nearest_neighbor(x=x, scale_factor_height=2, scale_factor_width=3),
        {"x": x},
    )
    close(got, F.interpolate(tx, scale_factor=(2, 3), mode="nearest"))
    for align in (True, False):
        got = run_mil(
            lambda x, align=align: mb.upsample_bilinear(
                x=x, scale_factor_height=2.0, scale_factor_width=2.0, align_corners=align
            ),
            {"x": x},
        )
        close(
            got, F.interpolate(tx, scale_factor=2, mode="bilinear", align_corners=align), atol=1e-5
        )


# -- recurrent ----------------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_lstm_matches_torch(direction):
    torch.manual_seed(0)
    bidirectional = direction == "bidirectional"
    lstm = torch.nn.LSTM(4, 3, bidirectional=bidirectional).eval()
    x = randn(6, 2, 4)  # (time, batch, features)
    dirs = 2 if bidirectional else 1
    h0, c0 = randn(2, 3 * dirs), randn(2, 3 * dirs)

    def ifoz(w):  # torch gates i, f, g, o -> MIL i, f, o, z
        i, f, g, o = np.split(w, 4)
        return np.concatenate([i, f, o, g])

    params = {}
    for suffix, key in (("", ""), ("_reverse", "_back")):
        if key and not bidirectional:
            continue
        params["weight_ih" + key] = ifoz(getattr(lstm, "weight_ih_l0" + suffix).detach().numpy())
        params["weight_hh" + key] = ifoz(getattr(lstm, "weight_hh_l0" + suffix).detach().numpy())
        params["bias" + key] = ifoz(
            (getattr(lstm, "bias_ih_l0" + suffix) + getattr(lstm, "bias_hh_l0" + suffix))
            .detach()
            .numpy()
        )
    out, h, c = run_mil(
        lambda x, h0, c0: mb.lstm(
            x=x, initial_h=h0, initial_c=c0, direction=direction, output_sequence=True, **params
        ),
        {"x": x, "h0": h0, "c0": c0},
    )
    to_torch = lambda v: torch.from_numpy(v.reshape(2, dirs, 3).transpose(1, 0, 2).copy())  # noqa: E731
    want, (want_h, want_c) = lstm(torch.from_numpy(x), (to_torch(h0), to_torch(c0)))
    close(out, want, atol=1e-5)
    close(h, want_h.permute(1, 0, 2).reshape(2, -1), atol=1e-5)
    close(c, want_c.permute(1, 0, 2).reshape(2, -1), atol=1e-5)


def test_gru_follows_mil_formula():
    x, h0 = randn(5, 2, 4), randn(2, 3)
    w_ih, w_hh, bias = randn(9, 4), randn(9, 3), randn(9)
    out, h = run_mil(
        lambda x, h0: mb.gru(
            x=x, initial_h=h0, weight_ih=w_ih, weight_hh=w_hh, bias=bias, output_sequence=True
        ),
        {"x": x, "h0": h0},
    )
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    state, steps = h0.astype(np.float64), []
    wr, wo, wz = np.split(w_ih, 3)
    rr, ro, rz = np.split(w_hh, 3)
    br, bo, bz = np.split(bias, 3)
    for t in range(5):
        r = sig(x[t] @ wr.T + state @ rr.T + br)
        z = sig(x[t] @ wz.T + state @ rz.T + bz)
        o = np.tanh(x[t] @ wo.T + (state * r) @ ro.T + bo)
        state = (1 - z) * o + z * state
        steps.append(state)
    close(out, np.stack(steps), atol=1e-5)
    close(h, state, atol=1e-5)


# -- fp16, blobs, errors ------------------------------------------------------------------


def test_fp16_program_rounds_every_intermediate_to_half():
    a, b = randn(64), randn(64)
    got = run_mil(lambda a, b: mb.mul(x=mb.add(x=a, y=b), y=a), {"a": a, "b": b}, precision="fp16")
    h = np.float16
    want = ((h(a) + h(b)).astype(h) * h(a)).astype(h).astype(np.float32)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    # and the emulation is visible: fp32 arithmetic gives other numbers
    assert np.max(np.abs(want - (a + b) * a)) > 1e-4


def test_weights_from_the_blob_file_of_a_saved_package(tmp_path):
    x, w = randn(2, 64), randn(32, 64)
    models: list = []
    got = run_mil(lambda x: mb.linear(x=x, weight=w), {"x": x}, model_out=models)
    spec = models[0].get_spec()
    fn = spec.mlProgram.functions["main"]
    ops = fn.block_specializations[fn.opset].operations
    weights = [
        op
        for op in ops
        if op.type == "const" and op.attributes["val"].WhichOneof("value") == "blobFileValue"
    ]
    assert weights, "the weight should live in weight.bin"
    path = tmp_path / "m.mlpackage"
    models[0].save(str(path))
    from_disk = load_executor(path).run({spec.description.input[0].name: x})
    close(got, x @ w.T, atol=1e-5)
    close(next(iter(from_disk.values())), x @ w.T, atol=1e-5)


def test_unknown_op_is_named_not_guessed():
    x = randn(2, 3)
    models: list = []
    run_mil(lambda x: mb.relu(x=x), {"x": x}, model_out=models)
    spec = models[0].get_spec()
    fn = spec.mlProgram.functions["main"]
    block = fn.block_specializations[fn.opset]
    next(op for op in block.operations if op.type == "relu").type = "frobnicate"
    from interop.coreml_ref.mlprogram import MLProgramExecutor

    with pytest.raises(UnsupportedOp, match="frobnicate"):
        MLProgramExecutor(spec, None)


def _patched_spec(build, inputs, op_type: str):
    """The spec of ``build`` and its first ``op_type`` op, to corrupt in a test."""
    models: list = []
    run_mil(build, inputs, model_out=models)
    spec = models[0].get_spec()
    fn = spec.mlProgram.functions["main"]
    ops = fn.block_specializations[fn.opset].operations
    return spec, ops, next(op for op in ops if op.type == op_type)


def _string_param(ops, op, name: str):
    """The tensor holding op's string parameter ``name`` (inline or in its const op)."""
    binding = op.inputs[name].arguments[0]
    if binding.WhichOneof("binding") == "value":
        return binding.value.immediateValue.tensor.strings
    const = next(c for c in ops if c.type == "const" and c.outputs[0].name == binding.name)
    return const.attributes["val"].immediateValue.tensor.strings


def test_unknown_output_dtype_is_an_error_not_fp32():
    # a bfloat16 result has no numpy storage: computing it in fp32 would hide the rounding
    spec, _, relu = _patched_spec(lambda x: mb.relu(x=x), {"x": randn(2, 3)}, "relu")
    relu.outputs[0].type.tensorType.dataType = 13  # BFLOAT16
    from interop.coreml_ref.mlprogram import MLProgramExecutor

    with pytest.raises(UnsupportedOp, match=r"data type 13 .*relu"):
        MLProgramExecutor(spec, None)


@pytest.mark.parametrize(
    ("build", "op_type", "param", "value"),
    [
        (
            lambda x: mb.conv_transpose(x=x, weight=np.ones((2, 1, 2, 2), np.float32)),
            "conv_transpose",
            "pad_type",
            "mirror",
        ),
        (lambda x: mb.cast(x=x, dtype="int32"), "cast", "dtype", "bf16"),
    ],
)
def test_unknown_mode_is_named_not_guessed(build, op_type, param, value):
    from interop.errors import ConversionError

    x = randn(1, 2, 4, 4)
    spec, ops, op = _patched_spec(build, {"x": x}, op_type)
    strings = _string_param(ops, op, param)
    strings.values[0] = value
    with pytest.raises(ConversionError, match=rf"{op_type}.*{value}"):
        load_executor(spec).run({spec.description.input[0].name: x})
