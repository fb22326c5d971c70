"""interop.optimize on small real models: a planted bad rewrite is rejected, every variant
that passes also passes an independent torch-vs-onnxruntime comparison, profiles gate the
variants, and data=(X, y) judges task accuracy."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

import interop  # noqa: E402
from interop.optimize import Candidate, NotApplicable, optimize  # noqa: E402
from interop.optimize.profiles import (  # noqa: E402
    INT8_MAX_RELATIVE_RMS,
    INT8_MIN_COSINE,
    MAX_ACCURACY_DROP,
    MIN_LABEL_AGREEMENT,
    judge_accuracy,
)
from interop.types import FP32_TOLERANCE  # noqa: E402

FAST = {"batch_sizes": (1, 4), "rounds": 1, "time_budget_s": 0.02}


class Block(torch.nn.Module):
    """Linear, GELU, residual add and LayerNorm over a sequence (batch, 8, 64): patterns
    the transformer fusion knows (BiasGelu, SkipLayerNormalization)."""

    def __init__(self, width: int = 64, classes: int = 10) -> None:
        super().__init__()
        self.inp = torch.nn.Linear(width, width)
        self.ffn = torch.nn.Linear(width, width)
        self.norm = torch.nn.LayerNorm(width)
        self.out = torch.nn.Linear(width, classes)

    def forward(self, x):  # type: ignore[no-untyped-def]
        h = self.inp(x)
        h = self.norm(h + torch.nn.functional.gelu(self.ffn(h)))
        return self.out(h)


@pytest.fixture(scope="module")
def block():  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = Block().eval()
    return model, interop.convert(model, "onnx", (torch.randn(2, 8, 64),))


def _scale_first_weight(model, ctx):  # type: ignore[no-untyped-def]
    """A "rewrite" that silently changes the numbers: one weight matrix scaled by 1.01."""
    changed = onnx.ModelProto()
    changed.CopyFrom(model)
    for init in changed.graph.initializer:
        array = onnx.numpy_helper.to_array(init)
        if array.ndim == 2:  # a MatMul weight
            init.CopyFrom(onnx.numpy_helper.from_array(array * 1.01, init.name))
            return changed
    raise NotApplicable("no weight matrix")


def _independent_outputs(model, conversion, x):  # type: ignore[no-untyped-def]
    """torch and onnxruntime run directly, outside interop's runtimes and comparison."""
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(
        conversion.model.SerializeToString(), opts, providers=["CPUExecutionProvider"]
    )
    (name,) = [i.name for i in session.get_inputs()]
    return expected, session.run(None, {name: x})[0]


def test_planted_bad_rewrite_is_rejected_and_reported(block, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model, conversion = block
    planted = Candidate("scaled-weights", "rewrite", "onnx", _scale_first_weight, "planted")
    opt = optimize(model, conversion, candidates=["transformer-fusion", planted], **FAST)
    bad = opt.candidate("scaled-weights")
    assert bad.status == "failed" and not bad.passed
    assert "max abs error" in bad.reason and "exceeds atol 0.0001" in bad.reason
    assert bad.worst_abs_error is not None and bad.worst_abs_error > FP32_TOLERANCE.atol
    assert bad.latency_ratio is None  # a failing variant is never timed, never chosen
    assert opt.best_name != "scaled-weights"
    assert "scaled-weights" in opt.table() and bad.reason in opt.table()
    saved = json.loads(opt.save(tmp_path / "opt.json").read_text())
    entry = next(c for c in saved["candidates"] if c["name"] == "scaled-weights")
    assert entry["passed"] is False and entry["reason"] == bad.reason
    assert "scaled-weights" in opt.save(tmp_path / "opt.md").read_text()
    assert "FAIL" in opt.save(tmp_path / "opt.html").read_text()


def test_every_passing_variant_passes_an_independent_parity_test(block) -> None:  # type: ignore[no-untyped-def]
    model, conversion = block
    opt = optimize(model, conversion, profile="fp32", **FAST)
    passed = [c for c in opt.candidates if c.passed]
    assert {c.name for c in passed} >= {"plain", "transformer-fusion"}
    assert opt.best_name in {c.name for c in passed}
    x = np.random.default_rng(7).standard_normal((16, 8, 64)).astype(np.float32)
    for result in passed:
        expected, got = _independent_outputs(model, result.conversion, x)
        assert np.allclose(got, expected, atol=FP32_TOLERANCE.atol, rtol=FP32_TOLERANCE.rtol), (
            result.name
        )
    fused = opt.candidate("transformer-fusion").conversion.model
    assert {"SkipLayerNormalization", "BiasGelu"} & {n.op_type for n in fused.graph.node}
    assert opt.speedup is not None and opt.speedup == pytest.approx(
        1 / opt.best_result.latency_ratio
    )


def test_profiles_gate_what_is_allowed(block) -> None:  # type: ignore[no-untyped-def]
    model, conversion = block
    names = ["onnxslim", "fp16", "int8-dynamic"]
    fp32 = optimize(model, conversion, profile="fp32", candidates=names, **FAST)
    assert fp32.candidate("fp16").status == "skipped"
    assert "does not allow precision" in fp32.candidate("fp16").reason
    assert fp32.candidate("int8-dynamic").status == "skipped"
    fp16 = optimize(model, conversion, profile="fp16", candidates=names, **FAST)
    assert fp16.candidate("fp16").status == "passed"
    assert fp16.candidate("int8-dynamic").status == "skipped"
    int8 = optimize(model, conversion, profile="int8", candidates=names, **FAST)
    quantized = int8.candidate("int8-dynamic")
    assert quantized.status in ("passed", "failed")
    assert quantized.metrics["min_cosine"] is not None
    assert quantized.passed == (
        quantized.metrics["min_cosine"] >= INT8_MIN_COSINE
        and quantized.metrics["max_relative_rms"] <= INT8_MAX_RELATIVE_RMS
    )
    # the fp16 variant, judged against the original under the fp16 profile, independently
    x = np.random.default_rng(3).standard_normal((4, 8, 64)).astype(np.float32)
    expected, got = _independent_outputs(model, fp16.candidate("fp16").conversion, x)
    assert got.dtype == np.float32 and np.allclose(got, expected, atol=1e-2, rtol=1e-2)


def _digits_classifier():  # type: ignore[no-untyped-def]
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    xt, yt = torch.from_numpy(x[:1200]), torch.from_numpy(y[:1200])
    for _ in range(150):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(xt), yt).backward()
        optimizer.step()
    return model.eval(), x[1200:], y[1200:]


def test_int8_with_data_is_judged_on_task_accuracy() -> None:
    model, x_test, y_test = _digits_classifier()
    conversion = interop.convert(model, "onnx", (torch.from_numpy(x_test[:2]),))
    opt = optimize(
        model,
        conversion,
        profile="int8",
        data=(x_test, y_test),
        candidates=["int8-dynamic", "int8-static"],
        **FAST,
    )
    with torch.no_grad():
        original_accuracy = float(
            np.mean(model(torch.from_numpy(x_test)).argmax(-1).numpy() == y_test)
        )
    assert original_accuracy > 0.9  # a real classifier, so the accuracy rule means something
    for name in ("int8-dynamic", "int8-static"):
        result = opt.candidate(name)
        assert result.status in ("passed", "failed"), result.reason
        if result.metrics.get("min_cosine", 0) < INT8_MIN_COSINE:
            continue
        metrics = result.metrics
        assert metrics["original_accuracy"] == pytest.approx(original_accuracy)
        assert result.passed == (
            metrics["label_agreement"] >= MIN_LABEL_AGREEMENT
            and metrics["accuracy_drop"] <= MAX_ACCURACY_DROP
        )
    assert any("accuracy" in c.metrics for c in opt.candidates if c.name != "plain")
    # the rule itself, on numbers worked by hand
    assert judge_accuracy(0.99, 0.95, 0.955) == ""
    assert "points below" in judge_accuracy(0.99, 0.94, 0.955)
    assert "agree" in judge_accuracy(0.97, 0.955, 0.955)


def test_static_int8_without_data_is_skipped_with_the_reason(block) -> None:  # type: ignore[no-untyped-def]
    model, conversion = block
    opt = optimize(model, conversion, profile="int8", candidates=["int8-static"], **FAST)
    assert opt.candidate("int8-static").status == "skipped"
    assert "data=(X, y)" in opt.candidate("int8-static").reason
    assert opt.best_name == "plain"


def test_convert_optimize_in_one_step(tmp_path) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(1)
    model = Block().eval()
    conversion = interop.convert(model, "onnx", (torch.randn(2, 8, 64),), optimize="fp32")
    summary = conversion.validation["optimization"]
    assert summary["profile"] == "fp32" and summary["best"]
    path = conversion.save(tmp_path / "best.onnx")
    report = interop.check(model, str(path), latency=False, profile="fp32")
    assert report.passed


@pytest.mark.slow  # coremltools conversions: about 20 s on an idle 2-core machine
def test_coreml_variants_are_checked_with_the_reference_executor() -> None:
    pytest.importorskip("coremltools")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 4)
    ).eval()
    conversion = interop.convert(model, "coreml", (torch.randn(2, 64),), precision="fp32")
    opt = optimize(model, conversion, profile="fp16", **FAST)
    half = opt.candidate("coreml-fp16")
    assert half.passed and half.size_bytes < opt.candidate("plain").size_bytes
    assert opt.best_name == "coreml-fp16"  # no honest latency here: the smallest that passed
    assert opt.speedup is None and "cannot be measured" in opt.notes[-1]
    assert opt.candidate("coreml-palettize-8bit").status == "skipped"
    # outside interop's comparison: the executor's outputs for the fp16 variant vs torch's
    from interop.coreml_ref import load_executor

    x = np.random.default_rng(5).standard_normal((3, 64)).astype(np.float32)
    (name,) = [s.name for s in half.conversion.input_specs]
    got = next(iter(load_executor(half.conversion.model).run({name: x}).values()))
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    assert np.allclose(got, expected, atol=1e-2, rtol=1e-2)


# -- models past the external-data threshold (issue 14) -----------------------------------------
THRESHOLD_ENV = "INTEROP_ONNX_EXTERNAL_DATA_BYTES"


def _outputs_from_path(model, path, x):  # type: ignore[no-untyped-def]
    """torch, and onnxruntime loading the saved pair itself."""
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    (name,) = [i.name for i in session.get_inputs()]
    return expected, session.run(None, {name: x})[0]


def test_a_model_past_the_threshold_gets_an_external_variant(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from interop.frameworks.onnx import ExternalOnnx

    monkeypatch.setenv(THRESHOLD_ENV, "100000")  # Block(256): about 0.8 MB of weights
    torch.manual_seed(0)
    model = Block(width=256).eval()
    conversion = interop.convert(model, "onnx", (torch.randn(2, 8, 256),))
    assert isinstance(conversion.model, ExternalOnnx)
    names = ["ort-extended", "onnxslim", "fp16", "transformer-fusion"]
    opt = optimize(model, conversion, profile="fp16", candidates=names, **FAST)
    for name in ("onnxslim", "fp16", "transformer-fusion"):  # never silently dropped
        result = opt.candidate(name)
        assert result.status == "skipped" and not result.passed, name
        assert "past the external-data threshold" in result.reason and THRESHOLD_ENV in (
            result.reason
        )
    rewritten = opt.candidate("ort-extended")
    assert rewritten.passed, rewritten.reason
    assert rewritten.worst_abs_error is not None and rewritten.worst_abs_error < 1e-4
    variant = rewritten.conversion.model
    assert isinstance(variant, ExternalOnnx) and variant.path != conversion.model.path
    assert {"BiasGelu", "SkipLayerNormalization"} <= {n.op_type for n in variant.graph.node}
    assert rewritten.size_bytes == variant.path.stat().st_size + variant.data_bytes()
    assert opt.best_name in ("plain", "ort-extended")

    saved = tmp_path / "variant"
    saved.mkdir()
    path = rewritten.conversion.save(saved / "model.onnx")
    assert sorted(p.name for p in saved.iterdir()) == ["model.onnx", "model.onnx.data"]
    onnx.checker.check_model(str(path))
    x = np.random.default_rng(7).standard_normal((3, 8, 256)).astype(np.float32)
    expected, got = _outputs_from_path(model, path, x)
    assert np.allclose(got, expected, atol=FP32_TOLERANCE.atol, rtol=FP32_TOLERANCE.rtol)

    # from the saved path of the plain conversion: the same variant, and it saves as the pair
    plain = tmp_path / "plain"
    plain.mkdir()
    plain_path = conversion.save(plain / "model.onnx")
    again = optimize(model, str(plain_path), candidates=["ort-extended", "onnxslim"], **FAST)
    assert again.candidate("ort-extended").passed
    assert again.candidate("onnxslim").status == "skipped"
    assert any("interop.io" in n for n in again.notes)
    best = tmp_path / "best"
    best.mkdir()
    again.best.save(best / "model.onnx")
    assert sorted(p.name for p in best.iterdir()) == ["model.onnx", "model.onnx.data"]
    expected, got = _outputs_from_path(model, best / "model.onnx", x)
    assert np.allclose(got, expected, atol=FP32_TOLERANCE.atol, rtol=FP32_TOLERANCE.rtol)
    assert sorted(p.name for p in plain.iterdir()) == ["model.onnx", "model.onnx.data"]
