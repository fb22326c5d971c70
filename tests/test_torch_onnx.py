"""PyTorch -> ONNX: every torch case matches at batch 1 and 8; saving, options and failures."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch extra is not installed")
onnx = pytest.importorskip("onnx", reason="the torch extra is not installed")
ort = pytest.importorskip("onnxruntime", reason="the torch extra is not installed")

from conftest import assert_parity  # noqa: E402

import interop  # noqa: E402
from conformance.cases.torch_models import CASES  # noqa: E402
from interop.api import validate  # noqa: E402
from interop.converters.torch_onnx import TorchToOnnx  # noqa: E402
from interop.errors import ConversionError, InvalidInput  # noqa: E402
from interop.runtimes.torch import TorchRuntime  # noqa: E402
from interop.types import Tolerance  # noqa: E402

CASE_NAMES = [case.name for case in CASES]


@pytest.fixture(scope="module")
def converted() -> dict[str, tuple[Any, Any]]:
    """Conversions made on first request, so each case's model is exported once per module."""
    return {}


def conversion_of(cache: dict[str, tuple[Any, Any]], name: str) -> tuple[Any, Any]:
    if name not in cache:
        case = next(c for c in CASES if c.name == name)
        model, example = case.build()
        cache[name] = (model, interop.convert(model, to="onnx", example_inputs=example))
    return cache[name]


def test_there_are_enough_cases_with_the_required_families() -> None:
    tags = {tag for case in CASES for tag in case.tags}
    assert len(CASES) >= 8
    assert {"multi-io", "rnn", "attention", "batchnorm", "large", "int64"} <= tags
    assert all(case.framework == "torch" for case in CASES)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_case_converts_and_matches_at_batch_1_and_8(
    converted: dict[str, tuple[Any, Any]], name: str
) -> None:
    model, conv = conversion_of(converted, name)
    assert (conv.source, conv.target, conv.converter, conv.runtime) == (
        "torch", "onnx", "torch.onnx", "onnx",
    )
    assert conv.validation["passed"]
    # the batch dimension is symbolic on every input and output
    assert all(spec.shape[0] == "batch" for spec in conv.input_specs + conv.output_specs)
    assert list(conv.output_map) == [f"output_{i}" for i in range(len(conv.output_map))]
    figures = assert_parity(model, conv, batch_sizes=(1, 8), max_abs=1e-4)
    print(f"{name}: max abs error {figures}")
    for batch in (1, 8):
        assert set(figures[batch]) == set(conv.output_map)


def test_int64_input_keeps_its_dtype(converted: dict[str, tuple[Any, Any]]) -> None:
    _, conv = conversion_of(converted, "torch_embedding")
    assert [spec.dtype for spec in conv.input_specs] == ["int64"]
    assert conv.example_feed["token_ids"].dtype == np.int64


def test_two_inputs_two_outputs_are_mapped_by_name(
    converted: dict[str, tuple[Any, Any]],
) -> None:
    _, conv = conversion_of(converted, "torch_two_in_two_out")
    assert conv.input_map == {"features": "features", "context": "context"}
    assert conv.output_map == {"output_0": "output_0", "output_1": "output_1"}
    assert [s.shape for s in conv.output_specs] == [("batch", 3), ("batch", 1)]


def test_exported_program_with_dynamic_batch_converts_without_example_inputs() -> None:
    from conformance.cases.torch_models import build_two_in_two_out

    model, example = build_two_in_two_out()
    batch = torch.export.Dim("batch")
    program = torch.export.export(model, example, dynamic_shapes=({0: batch}, {0: batch}))
    conv = interop.convert(program, to="onnx")  # example inputs come from the program
    assert conv.source == "torch"
    assert conv.warnings == []
    assert list(conv.input_map) == ["features", "context"]
    assert all(spec.shape[0] == "batch" for spec in conv.input_specs)
    figures = assert_parity(program, conv, batch_sizes=(1, 8))
    print(f"ExportedProgram: max abs error {figures}")


def test_exported_program_with_fixed_batch_warns() -> None:
    from conformance.cases.torch_models import build_mlp

    model, example = build_mlp()
    program = torch.export.export(model, example)
    conv = interop.convert(program, to="onnx", example_inputs=example)
    assert any("fixed batch size" in w for w in conv.warnings), conv.warnings
    assert conv.input_specs[0].shape == (8, 16)
    assert assert_parity(program, conv, batch_sizes=(8,))[8]["output_0"] <= 1e-4


class BatchAndColumnSums(torch.nn.Module):
    """output_0 follows the batch; output_1 (sums over the batch) has a fixed first dim."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x * 2, x.sum(0)


def test_dynamic_program_warns_only_for_outputs_that_do_not_follow_the_batch(
    tmp_path: Any,
) -> None:
    from conformance.cases.torch_models import build_mlp
    from interop import loaders

    model, example = build_mlp()
    batch = torch.export.Dim("batch", min=1, max=1024)
    torch.export.save(
        torch.export.export(model, example, dynamic_shapes=({0: batch},)), tmp_path / "m.pt2"
    )
    # Loading reads the input specs from the symbolic shapes: that must not pin the batch.
    loaded = loaders.load_model(str(tmp_path / "m.pt2"))
    assert loaded.input_specs[0].shape == ("batch", 16)
    conv = interop.convert(loaded.model, to="onnx", example_inputs=loaded.example_inputs)
    assert conv.warnings == []
    assert conv.output_specs[0].shape == ("batch", 5)
    assert assert_parity(loaded.model, conv, batch_sizes=(1, 8))[1]["output_0"] <= 1e-4

    program = torch.export.export(
        BatchAndColumnSums(), (torch.randn(8, 4),), dynamic_shapes=({0: batch},)
    )
    conv = interop.convert(program, to="onnx")
    assert [s.shape for s in conv.output_specs] == [("batch", 4), (4,)]
    assert conv.warnings == [
        "output_1 has first dimension 4, not the batch: the model may work only at the "
        "example's batch size"
    ]


class ScriptableTwoInTwoOut(torch.nn.Module):
    """Two inputs, two outputs, annotated so torch.jit.script accepts it."""

    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Linear(12, 16)
        self.context = torch.nn.Linear(4, 16)
        self.head_a = torch.nn.Linear(16, 3)
        self.head_b = torch.nn.Linear(16, 1)

    def forward(
        self, features: torch.Tensor, context: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = torch.tanh(self.features(features) + self.context(context))
        return torch.softmax(self.head_a(hidden), dim=-1), self.head_b(hidden) * 2.0


@pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("capture", ["script", "trace"])
def test_torchscript_module_converts_with_parity(capture: str, tmp_path: Any) -> None:
    torch.manual_seed(2)
    model = ScriptableTwoInTwoOut().eval()
    example = (torch.randn(8, 12), torch.randn(8, 4))
    capturing = {"script": lambda: torch.jit.script(model),
                 "trace": lambda: torch.jit.trace(model, example)}
    scripted = capturing[capture]()
    torch.jit.save(scripted, tmp_path / "model.pt")
    module = torch.jit.load(tmp_path / "model.pt")  # what the CLI hands to convert
    conv = interop.convert(module, to="onnx", example_inputs=example)
    assert conv.converter == "torch.onnx"
    assert list(conv.input_map) == ["features", "context"]
    assert [s.name for s in conv.input_specs] == ["features", "context"]
    assert all(spec.shape[0] == "batch" for spec in conv.input_specs + conv.output_specs)
    assert all(isinstance(d, int) for spec in conv.input_specs for d in spec.shape[1:])
    assert len(conv.warnings) == 1 and "TS2EPConverter, a private torch API" in conv.warnings[0]
    # the original side runs the ScriptModule itself
    figures = assert_parity(module, conv, batch_sizes=(1, 8), max_abs=1e-5)
    print(f"TorchScript ({capture}): max abs error {figures}")
    with TorchRuntime(module, conversion=conv, threads=1) as runtime:
        feed = {o: conv.example_feed[c] for o, c in conv.input_map.items()}
        outputs = runtime.run(feed)
    with torch.no_grad():
        expected = model(*[torch.from_numpy(feed[n]) for n in ("features", "context")])
    for k, value in enumerate(expected):
        np.testing.assert_allclose(outputs[f"output_{k}"], value.numpy(), atol=1e-6)


@pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:DeprecationWarning")
def test_torchscript_with_a_batch_of_one_still_gets_a_dynamic_batch() -> None:
    from conformance.cases.torch_models import build_mlp

    model, (x,) = build_mlp()
    conv = interop.convert(torch.jit.script(model), to="onnx", example_inputs=(x[:1],))
    assert conv.input_specs[0].shape == ("batch", 16)
    assert conv.output_specs[0].shape == ("batch", 5)
    assert conv.example_feed[conv.input_specs[0].name].shape == (1, 16)


def test_save_writes_one_self_contained_file_with_provenance(
    converted: dict[str, tuple[Any, Any]], tmp_path: Any
) -> None:
    model, conv = conversion_of(converted, "torch_two_in_two_out")
    path = conv.save(tmp_path / "model.onnx")
    assert path == tmp_path / "model.onnx"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]  # no .onnx.data

    loaded = onnx.load(str(path), load_external_data=False)
    assert all(
        init.data_location == onnx.TensorProto.DEFAULT for init in loaded.graph.initializer
    )
    meta = {p.key: p.value for p in loaded.metadata_props}
    assert meta["interop.converter"] == "torch.onnx"
    assert meta["interop.source"] == "torch"
    assert meta["interop.source_version"] == torch.__version__
    assert meta["interop.opset"] == str(loaded.opset_import[0].version)
    assert meta["interop.version"] == interop.__version__
    assert "interop.converted_at" in meta
    onnx.checker.check_model(loaded, full_check=True)

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = conv.example_feed
    produced = session.run(["output_0", "output_1"], feed)
    with torch.inference_mode():
        expected = model(*(torch.from_numpy(feed[n]) for n in conv.input_map.values()))
    errors = [float(np.max(np.abs(e.numpy() - p))) for e, p in zip(expected, produced, strict=True)]
    print(f"reloaded model max abs error {errors}")
    assert max(errors) <= 1e-4


def test_convert_prints_nothing_and_writes_nothing_to_cwd(
    capfd: Any, caplog: Any, monkeypatch: Any, tmp_path: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG, logger="interop.converters.torch_onnx")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh()).eval()
    conv = interop.convert(model, to="onnx", example_inputs=torch.randn(4, 3))
    out, _ = capfd.readouterr()
    assert out == ""
    assert list(tmp_path.iterdir()) == []
    # the exporter's progress lines went to logging instead
    assert any("[torch.onnx]" in r.getMessage() for r in caplog.records)
    assert conv.validation["passed"]


def test_options_names_opset_and_fixed_batch() -> None:
    from conformance.cases.torch_models import build_two_in_two_out

    model, example = build_two_in_two_out()
    conv = interop.convert(
        model,
        to="onnx",
        example_inputs=example,
        opset=18,
        dynamic_batch=False,
        options={"input_names": ["a", "b"], "output_names": ["probs", "score"]},
    )
    assert conv.model.opset_import[0].version == 18
    assert conv.provenance["interop.opset"] == "18"
    assert conv.input_map == {"features": "a", "context": "b"}
    assert conv.output_map == {"output_0": "probs", "output_1": "score"}
    assert [s.shape for s in conv.input_specs] == [(8, 12), (8, 4)]
    assert assert_parity(model, conv, batch_sizes=(8,))[8]["output_1"] <= 1e-4


def test_training_model_with_batch_one_example_exports_in_eval_with_dynamic_batch() -> None:
    from conformance.cases.torch_models import build_mlp

    model, example = build_mlp()
    model.train()  # its Dropout must not be exported
    model[0].eval()  # a submodule the caller froze keeps its own mode
    conv = interop.convert(model, to="onnx", example_inputs=example[0][:1].numpy())
    assert model.training and model[4].training and not model[0].training
    assert any("training mode" in w for w in conv.warnings)
    assert conv.input_specs[0].shape == ("batch", 16)
    assert conv.example_feed["input"].shape == (1, 16)
    # traced at batch 1, still runs and matches at batch 8
    wide = dataclasses.replace(conv, example_feed={"input": example[0].numpy()})
    validate(model, wide, Tolerance(atol=1e-4, rtol=0.0))
    print(f"batch-1 trace, run at batch 8: {wide.validation['outputs']}")
    assert wide.validation["passed"]
    assert model.training  # validation restored the mode too


class FixedBatchReshape(torch.nn.Module):
    def forward(self, x: Any) -> Any:
        return x.reshape(8, -1) * 2


def test_model_that_fixes_its_batch_size_is_flagged() -> None:
    conv = interop.convert(
        FixedBatchReshape().eval(), to="onnx", example_inputs=torch.randn(8, 2, 3)
    )
    assert conv.input_specs[0].shape == ("batch", 2, 3)
    assert conv.warnings == [
        "output_0 has first dimension 8, not the batch: the model may work only at the "
        "example's batch size"
    ]


def test_unknown_option_lists_known_ones() -> None:
    with pytest.raises(InvalidInput) as info:
        TorchToOnnx().convert(torch.nn.Linear(2, 2), torch.randn(2, 2), dynamic_axes={0: "b"})
    assert "unknown option for torch.onnx: dynamic_axes" in info.value.message
    assert info.value.hint == (
        "known options: dynamic_batch, input_names, opset, optimize, output_names"
    )


@pytest.mark.parametrize("opset", [17, 99, "20", True])
def test_bad_opset_is_a_clear_error(opset: Any) -> None:
    with pytest.raises(InvalidInput) as info:
        interop.convert(torch.nn.Linear(2, 2), example_inputs=torch.randn(2, 2), opset=opset)
    assert f"opset {opset!r} is not supported by torch.onnx" == info.value.message
    assert "between 18 and" in info.value.hint


@pytest.mark.parametrize(
    ("example", "message"),
    [
        (None, "needs example_inputs"),
        ((3,), "example input 0 is a int"),
        ({"x": torch.zeros(2, 2)}, "forward() takes no argument named 'x'"),
        ((torch.zeros(2, 5),), "the model failed on the example inputs"),
    ],
)
def test_bad_example_inputs_are_clear_errors(example: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        interop.convert(torch.nn.Linear(2, 2), example_inputs=example)
    assert message in info.value.message


class Eigenvalues(torch.nn.Module):
    def forward(self, x: Any) -> Any:
        return torch.linalg.eigvals(x).real


class BranchOnValues(torch.nn.Module):
    def forward(self, x: Any) -> Any:
        if x.sum() > 0:
            return x * 2
        return x - 1


def test_unsupported_op_is_a_conversion_error_naming_it(
    monkeypatch: Any, tmp_path: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConversionError) as info:
        interop.convert(Eigenvalues(), to="onnx", example_inputs=torch.randn(8, 3, 3))
    message = info.value.message
    print(message)
    assert message == (
        "torch.onnx could not export Eigenvalues: no ONNX translation for the op aten.linalg_eig"
    )
    assert "\n" not in message and "Traceback" not in str(info.value)
    assert info.value.hint
    assert list(tmp_path.iterdir()) == []


def test_data_dependent_control_flow_is_a_conversion_error_with_its_line(
    monkeypatch: Any, tmp_path: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConversionError) as info:
        interop.convert(BranchOnValues(), to="onnx", example_inputs=torch.randn(8, 4))
    message = info.value.message
    print(message)
    assert message.startswith("torch.onnx could not export BranchOnValues: data-dependent")
    assert "test_torch_onnx.py" in message and "`if x.sum() > 0:`" in message
    assert "torch.where" in info.value.hint
    assert list(tmp_path.iterdir()) == []


def test_runtime_restores_mode_and_threads_and_maps_names(
    converted: dict[str, tuple[Any, Any]],
) -> None:
    model, conv = conversion_of(converted, "torch_two_in_two_out")
    threads_before = torch.get_num_threads()
    model.train()
    model.head_b.eval()
    try:
        with TorchRuntime(model, conversion=conv, threads=1) as runtime:
            assert not any(m.training for m in model.modules())
            assert torch.get_num_threads() == 1
            specs = runtime.input_specs()
            assert [(s.name, s.shape, s.dtype) for s in specs] == [
                ("features", ("batch", 12), "float32"),
                ("context", ("batch", 4), "float32"),
            ]
            feed = {o: conv.example_feed[c] for o, c in conv.input_map.items()}
            outputs = runtime.run(feed)
            assert sorted(outputs) == ["output_0", "output_1"]
            assert outputs["output_0"].shape == (8, 3)
            with pytest.raises(InvalidInput, match="no value for input"):
                runtime.run({"features": feed["features"]})
        assert model.training and model.features.training and not model.head_b.training
        assert torch.get_num_threads() == threads_before
    finally:
        model.eval()


def test_modules_import_without_torch_and_runtime_reports_availability() -> None:
    code = textwrap.dedent(
        """
        import sys
        import interop.converters.torch_onnx
        from interop.runtimes.torch import TorchRuntime
        ok, reason = TorchRuntime.available()
        ok2, reason2 = interop.converters.torch_onnx.TorchToOnnx().available()
        heavy = [m for m in ("torch", "onnx", "onnxruntime", "onnxscript") if m in sys.modules]
        print(ok, ok2, heavy)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "True True []"
