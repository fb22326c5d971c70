"""torch.coreml: every torch case converts and matches through the Core ML reference executor."""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("coremltools")

from conftest import assert_parity, conversion_cache  # noqa: E402

import interop  # noqa: E402
from conformance.cases.torch_models import CASES  # noqa: E402
from interop.converters._coreml import TOLERANCES  # noqa: E402
from interop.errors import ConversionError, InvalidInput  # noqa: E402

CASE_NAMES = [c.name for c in CASES]
FIGURES: dict[tuple[str, str], dict] = {}


@pytest.fixture(scope="module")
def converted():
    """(case, precision) -> (model, conversion), each converted once per module."""
    return conversion_cache(CASES, "coreml")


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("name", CASE_NAMES)
def test_case_converts_and_matches(converted, name, precision):
    model, conv = converted(name, precision)
    assert conv.converter == "torch.coreml" and conv.target == "coreml" and conv.runtime == "coreml"
    assert conv.default_tolerance == TOLERANCES[precision]
    figures = assert_parity(model, conv, batch_sizes=(1, 8), max_abs=TOLERANCES[precision].atol)
    FIGURES[(name, precision)] = figures
    worst = max(v for per_batch in figures.values() for v in per_batch.values())
    if precision == "fp32":
        assert worst < 1e-5, worst  # fp32 programs match far inside the profile
    else:
        assert worst > 1e-6, "an fp16 program that matches to fp32 precision was not run in fp16"
    ops = _ops(conv)
    assert ("cast" in ops) == (precision == "fp16")
    print(name, precision, figures)


def _ops(conv) -> set[str]:
    from interop.converters._coreml import program_ops

    return set(program_ops(conv.model))


def test_flexible_batch_and_names(converted):
    _, conv = converted("torch_two_in_two_out", "fp32")
    assert [s.shape[0] for s in conv.input_specs] == ["batch", "batch"]
    assert list(conv.input_map) == ["features", "context"]
    assert list(conv.output_map) == ["output_0", "output_1"]


def test_changed_original_fails_against_earlier_conversion(converted):
    model, conv = converted("torch_mlp", "fp32")
    changed = copy.deepcopy(model)
    with torch.no_grad():
        for p in changed.parameters():
            p.mul_(1.05)
    with pytest.raises(ConversionError, match="different numbers"):
        interop.api.validate(changed, conv)
    report = interop.check(changed, conv, latency=False)
    assert not report.passed


def test_check_reports_reference_executor_without_latency(converted):
    model, conv = converted("torch_cnn_batchnorm", "fp32")
    report = interop.check(model, conv, batch_sizes=(1, 2), latency=True, repeat=3)
    assert report.passed
    d = report.to_dict()
    assert d["runtime"] == "coreml-reference"
    assert all(row["converted_p50_ms"] is None and row["ratio"] is None for row in d["latency"])


def test_save_writes_mlpackage_with_provenance_and_runs_from_disk(converted, tmp_path):
    model, conv = converted("torch_embedding", "fp16")
    path = conv.save(tmp_path / "model.mlpackage")
    assert path.is_dir() and (path / "Manifest.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.mlpackage"]
    from interop.runtimes.coreml import CoremlRuntime

    with CoremlRuntime(path) as rt:
        assert rt.name == "coreml-reference" and rt.measures_latency is False
        got = rt.run(conv.example_feed)
    with torch.inference_mode():
        want = model(*[torch.from_numpy(v) for v in conv.example_feed.values()]).numpy()
    np.testing.assert_allclose(got[conv.output_map["output_0"]], want, atol=1e-2, rtol=1e-2)
    import coremltools as ct

    meta = ct.models.MLModel(str(path), skip_model_load=True).user_defined_metadata
    assert meta["interop.converter"] == "torch.coreml"
    assert meta["interop.precision"] == "fp16"


def test_exported_program_input_and_quiet_conversion(capsys):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.Tanh()).eval()
    x = torch.randn(3, 6)
    program = torch.export.export(
        model, (x,), dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=64)},)
    )
    conv = interop.convert(program, to="coreml", example_inputs=(x,), precision="fp32")
    assert conv.input_specs[0].shape == ("batch", 6)
    assert conv.provenance["interop.capture"] == "torch.export"
    assert any("Torch version" in w and "not been tested" in w for w in conv.warnings)
    assert capsys.readouterr().out == ""
    assert assert_parity(model, conv, batch_sizes=(1, 3), max_abs=1e-4)


class _TwoLayer(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = torch.nn.Linear(4, 16)
        self.out = torch.nn.Linear(16, 3)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x)))


def _dynamic_program(how: str, tmp_path_factory) -> tuple:
    """An ExportedProgram with Dim("batch") (no bounds), in memory, via .pt2, or pinned."""
    torch.manual_seed(0)
    x = torch.randn(8, 4)
    program = torch.export.export(
        _TwoLayer().eval(), (x,), dynamic_shapes=({0: torch.export.Dim("batch")},)
    )
    if how in ("pt2", "pinned"):
        path = tmp_path_factory.mktemp("pt2") / "model.pt2"
        torch.export.save(program, path)
        program = torch.export.load(path)
    if how == "pinned":
        # int() of a SymInt adds a guard that pins the batch (a loader once did this): the
        # placeholder then reads (8, 4) while range_constraints still name the symbol
        for node in program.graph.nodes:
            if node.op == "placeholder":
                [int(d) for d in node.meta["val"].shape]
    return program, x


@pytest.mark.parametrize("how", ["in_memory", "pt2", "pinned"])
def test_dynamic_batch_exported_program_converts_and_matches(how, tmp_path_factory):
    program, x = _dynamic_program(how, tmp_path_factory)
    conv = interop.convert(program, to="coreml", example_inputs=(x,), precision="fp32")
    assert conv.input_specs[0].shape == ("batch", 4)
    arr = conv.model.get_spec().description.input[0].type.multiArrayType
    assert [(r.lowerBound, r.upperBound) for r in arr.shapeRange.sizeRanges][0] == (1, 1024)
    pinned_note = [w for w in conv.warnings if "pinned" in w]
    assert len(pinned_note) == (how == "pinned"), conv.warnings
    figures = assert_parity(program, conv, batch_sizes=(1, 8), max_abs=TOLERANCES["fp32"].atol)
    assert max(v for per in figures.values() for v in per.values()) < 1e-5, figures


def test_exported_program_batch_bounds_and_fixed_batch():
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 2).eval()
    x = torch.randn(8, 5)
    bounded = torch.export.export(
        model, (x,), dynamic_shapes=({0: torch.export.Dim("batch", min=2, max=16)},)
    )
    conv = interop.convert(bounded, to="coreml", example_inputs=(x,), precision="fp32")
    arr = conv.model.get_spec().description.input[0].type.multiArrayType
    # Core ML gets the program's own bounds, not the converter's default 1..1024
    assert [(r.lowerBound, r.upperBound) for r in arr.shapeRange.sizeRanges][0] == (2, 16)
    fixed = torch.export.export(model, (x,))
    conv = interop.convert(fixed, to="coreml", example_inputs=(x,), precision="fp32")
    assert conv.input_specs[0].shape == (8, 5)
    assert any("fixed batch size 8" in w for w in conv.warnings), conv.warnings
    assert assert_parity(fixed, conv, batch_sizes=(8,), max_abs=TOLERANCES["fp32"].atol)


def test_recurrent_model_falls_back_to_tracing_and_says_so(converted):
    _, conv = converted("torch_lstm", "fp32")
    assert conv.provenance["interop.capture"] == "torch.jit.trace"
    assert any("torch.jit.trace" in w for w in conv.warnings)


class _Branchy(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # data-dependent: torch.export refuses it, tracing bakes one branch in
            return x * 2
        return x - 1


def test_tracing_fallback_keeps_tracer_warnings(capsys):
    x = torch.ones(8, 3)
    conv = interop.convert(_Branchy(), to="coreml", example_inputs=(x,), precision="fp32")
    assert conv.provenance["interop.capture"] == "torch.jit.trace"
    assert any(w.startswith("torch.export failed") for w in conv.warnings), conv.warnings
    assert any(
        w.startswith("torch.jit.trace:") and "Python boolean" in w for w in conv.warnings
    ), conv.warnings
    assert capsys.readouterr().err.count("TracerWarning") == 0


def test_op_without_core_ml_lowering_is_named():
    class SpecialI0(torch.nn.Module):
        def forward(self, x):
            return torch.special.i0(x)

    with pytest.raises(ConversionError, match="special_i0"):
        interop.convert(SpecialI0(), to="coreml", example_inputs=(torch.ones(2, 3),))


def test_bad_precision_is_rejected():
    with pytest.raises(InvalidInput, match="precision"):
        interop.convert(
            torch.nn.Linear(2, 2), to="coreml", example_inputs=(torch.ones(1, 2),), precision="int8"
        )
