"""interop's Core ML op lowerings: each against torch eager, through the reference executor;
registration once, from many threads, without replacing a user's own lowering."""

from __future__ import annotations

import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("coremltools")

import interop  # noqa: E402
from interop.converters import coreml_lowerings  # noqa: E402
from interop.coreml_ref import load_executor  # noqa: E402


def _registry() -> dict:
    from coremltools.converters.mil.frontend.torch.torch_op_registry import _TORCH_OPS_REGISTRY

    return _TORCH_OPS_REGISTRY.name_to_func_mapping


def _run_both(module: torch.nn.Module, args: tuple, precision: str = "fp32") -> tuple:
    """(torch outputs, Core ML outputs through the reference executor) on the same inputs."""
    conv = interop.convert(module, to="coreml", example_inputs=args, precision=precision,
                           dynamic_batch=False)
    assert conv.provenance["interop.capture"] == "torch.export", conv.warnings
    got = load_executor(conv.model).run(conv.example_feed)
    with torch.no_grad():
        want = module(*args)
    want = want if isinstance(want, tuple) else (want,)
    return [w.numpy() for w in want], [got[s.name] for s in conv.output_specs]


def _assert_close(module, args, atol=1e-6):
    want, got = _run_both(module, args)
    for w, g in zip(want, got, strict=True):
        assert g.shape == w.shape
        np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), atol=atol, rtol=0)


class NewOnes(torch.nn.Module):
    def forward(self, x, ids):
        ones = x.new_ones(x.shape[0], x.shape[1])  # float, the tensor's dtype
        counts = ids.new_ones(ids.shape, dtype=torch.int32)  # int, the dtype asked for
        return x * ones + 2.0, (counts + ids.int()).float()


def test_new_ones_matches_torch():
    x = torch.randn(3, 5)
    ids = torch.randint(0, 9, (3, 4))
    _assert_close(NewOnes(), (x, ids))


class Diff(torch.nn.Module):
    def forward(self, x, head):
        first = torch.diff(x, dim=1)
        second = torch.diff(x, n=2, dim=-1, prepend=head, append=head)
        flips = torch.diff(x > 0, dim=1).float()  # booleans difference as !=
        return first, second, flips


def test_diff_matches_torch():
    x = torch.randn(2, 7)
    head = torch.randn(2, 2)
    _assert_close(Diff(), (x, head), atol=1e-5)


class WhereScalar(torch.nn.Module):
    def forward(self, x, ids):
        clipped = torch.where(x > 0, x, 0.5)  # where.ScalarOther
        swapped = torch.where(x > 0, -1.5, x)  # where.ScalarSelf (coremltools' own)
        labels = torch.where(ids > 3, ids, -1).float()  # an int tensor keeps its dtype
        return clipped, swapped, labels


def test_where_scalar_other_matches_torch():
    _assert_close(WhereScalar(), (torch.randn(4, 6), torch.randint(0, 8, (4, 6))))


class Bitwise(torch.nn.Module):
    def forward(self, a, b, ia, ib):
        both = ((a > 0) & (b > 0)).float()
        either = ((a > 0) | (b > 0)).float()
        one = ((a > 0) ^ (b > 0)).float()
        masks = (ia & ib).float() + 2 * (ia | ib).float() + 4 * (ia ^ ib).float()
        return both, either, one, masks


def test_bitwise_ops_on_bool_and_int_masks_match_torch():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(3, 8, generator=gen), torch.randn(3, 8, generator=gen)
    ia = torch.randint(0, 2, (3, 8), generator=gen, dtype=torch.int32)
    ib = torch.randint(0, 2, (3, 8), generator=gen, dtype=torch.int32)
    _assert_close(Bitwise(), (a, b, ia, ib))


class MaskedAttention(torch.nn.Module):
    def forward(self, q, k, v, keep):
        mask = keep[:, None, None, :].bool() & torch.ones(q.shape[2], k.shape[2]).tril().bool()
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def test_sdpa_fully_masked_rows_are_zero_as_in_torch():
    gen = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 2, 5, 4, generator=gen) for _ in range(3))
    keep = torch.tensor([[0, 1, 1, 1, 1], [0, 0, 1, 0, 1]])  # left padding: row 0 sees nothing
    want, got = _run_both(MaskedAttention(), (q, k, v, keep))
    assert np.all(want[0][:, :, 0] == 0), "torch zeroes a fully masked row"
    np.testing.assert_allclose(got[0], want[0], atol=1e-6, rtol=0)


class TracedOnly(torch.nn.Module):
    """A data-dependent branch (torch.export refuses it) around a layer whose trace holds
    int() of one-element constants, which coremltools folds with int(array) (numpy 2.4 fails)."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True)

    def forward(self, x):
        if x.abs().sum() >= 0:  # always true, but only known from the data
            return self.layer(x)
        return x


def test_jit_trace_route_with_item_cast_matches_torch():
    torch.manual_seed(0)
    model = TracedOnly().eval()
    x = torch.randn(2, 5, 16)
    # off torch's fused attention fast path, whose single op coremltools cannot lower
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        conv = interop.convert(model, to="coreml", example_inputs=(x,), precision="fp32")
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    assert conv.provenance["interop.capture"] == "torch.jit.trace"
    assert any("torch.export failed" in w for w in conv.warnings), conv.warnings
    report = interop.check(model, conv, latency=False)
    assert report.passed, report.to_dict()["parity"]
    worst = max(p["max_abs_error"] for p in report.to_dict()["parity"])
    assert worst < 1e-5


def test_every_lowering_is_registered_under_its_names():
    coreml_lowerings.register()
    mapping = _registry()
    for lowering in coreml_lowerings.LOWERINGS:
        for name in lowering.names:
            assert getattr(mapping[name], coreml_lowerings.MARK, False), name


def test_registration_is_idempotent_and_thread_safe():
    coreml_lowerings.register()
    before = dict(_registry())
    barrier = threading.Barrier(8)
    results: list = []
    errors: list = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(coreml_lowerings.register())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(results) == 8
    assert _registry() == before  # the very same functions: nothing registered twice


def test_a_users_own_lowering_is_kept(monkeypatch):
    from coremltools.converters.mil.frontend.torch.torch_op_registry import register_torch_op

    mapping = _registry()
    saved = {name: mapping.get(name) for name in ("new_ones", "diff")}
    try:
        for name in saved:
            mapping.pop(name, None)

        @register_torch_op
        def new_ones(context, node):  # the user's own; must survive interop's registration
            raise NotImplementedError

        monkeypatch.setattr(coreml_lowerings, "_registered", False)
        monkeypatch.setattr(coreml_lowerings, "_kept", [])
        kept = coreml_lowerings.register()
        assert kept == ["new_ones"]
        assert mapping["new_ones"] is new_ones
        assert getattr(mapping["diff"], coreml_lowerings.MARK, False)  # a free name is filled
    finally:
        for name, func in saved.items():
            if func is None:
                mapping.pop(name, None)
            else:
                mapping[name] = func
