"""Hugging Face models to ONNX, called as their users call them, through the public API.

The zoo's SMOKE subset (one model per family) is converted and checked at batch 1 and 8;
inputs are keyword tensors, outputs are named by the ``ModelOutput``'s fields in the ONNX
graph, the conversion and the check's report. The fallback routes of torch.onnx are proved on
real models: T5's encoder fails torch.export both ways and goes through the TorchScript
exporter; a model with a hard-coded batch fails the dynamic batch and is exported at a fixed
one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")

import interop  # noqa: E402
from conformance.cases import zoo_hf  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMOKE = [c for c in zoo_hf.CASES if c.name in zoo_hf.SMOKE]


def eager(model, feed):
    import torch

    with torch.no_grad():
        return model(**feed)


@pytest.fixture(scope="module")
def converted():
    """Each SMOKE case built and converted once: name -> (model, example, conversion)."""
    done = {}
    for case in SMOKE:
        model, example = case.build()
        done[case.name] = (model, example, interop.convert(model, to="onnx",
                                                           example_inputs=example))
    return done


def test_smoke_covers_every_family():
    tags = {t for c in SMOKE for t in c.tags}
    assert {"encoder", "decoder", "enc-dec", "vision", "audio", "clip"} <= tags
    assert len(zoo_hf.CASES) >= 30
    assert len({c.name for c in zoo_hf.CASES}) == len(zoo_hf.CASES)


@pytest.mark.parametrize("name", [c.name for c in SMOKE])
def test_smoke_converts_and_passes_at_batch_1_and_8(converted, name):
    model, example, conv = converted[name]
    fields = list(eager(model, example).keys())
    graph_outputs = [o.name for o in conv.model.graph.output]
    graph_inputs = [i.name for i in conv.model.graph.input]
    assert conv.input_layout == "named"
    assert graph_inputs == list(example) == list(conv.input_map)
    assert graph_outputs == fields == list(conv.output_map)

    report = interop.check(model, conv, batch_sizes=(1, 8), latency=False, isolate=False)
    parity = report.to_dict()["parity"]
    assert report.passed, [p for p in parity if not p["passed"]]
    assert {p["batch_size"] for p in parity} == {1, 8}
    assert [p["output"] for p in parity if p["batch_size"] == 8] == fields
    assert max(p["max_abs_error"] for p in parity) < 1e-4


def test_model_output_fields_name_the_onnx_outputs_and_agree_with_onnxruntime(converted):
    import onnxruntime as ort

    model, example, conv = converted["hf_bert"]
    assert list(conv.output_map) == ["last_hidden_state", "pooler_output"]
    assert conv.output_map == {"last_hidden_state": "last_hidden_state",
                               "pooler_output": "pooler_output"}
    session = ort.InferenceSession(conv.model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    feed = {k: v.numpy() for k, v in example.items()}
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, feed),
                   strict=True))
    want = eager(model, example)
    for field in ("last_hidden_state", "pooler_output"):
        assert np.abs(got[field] - want[field].numpy()).max() < 1e-5
    # the names travel in the saved file's metadata, so a check from the path uses them too
    meta = {p.key: p.value for p in conv.model.metadata_props}
    io = json.loads(meta["interop.io"])
    assert io["input_layout"] == "named"
    assert list(io["output_map"]) == ["last_hidden_state", "pooler_output"]


def test_check_from_saved_path_calls_by_keyword(converted, tmp_path):
    model, _, conv = converted["hf_clip_text"]
    path = conv.save(tmp_path / "clip_text.onnx")
    report = interop.check(model, str(path), batch_sizes=(2,), latency=False, isolate=False)
    assert report.passed
    assert [p["output"] for p in report.to_dict()["parity"]] == [
        "last_hidden_state", "pooler_output"
    ]


def test_route_three_torchscript_for_t5_encoder(converted):
    """torch.export fails T5's encoder with a dynamic batch and at a fixed one ("Cannot view
    a tensor ..."); the TorchScript exporter exports it with the batch still free."""
    _, _, conv = converted["hf_t5_encoder"]
    assert conv.provenance["interop.route"] == "torchscript"
    fallbacks = [w for w in conv.warnings if w.startswith("route ")]
    assert len(fallbacks) == 2
    assert fallbacks[0].startswith("route dynamo failed") and "Cannot view" in fallbacks[0]
    assert fallbacks[1].startswith("route dynamo-static failed")
    assert all(w.endswith("fell back to torchscript") for w in fallbacks)
    assert conv.input_specs[0].shape[0] == "batch"
    assert not any("fixed at" in w for w in conv.warnings)


def test_route_one_is_the_default_and_says_so(converted):
    _, _, conv = converted["hf_bert"]
    assert conv.provenance["interop.route"] == "dynamo"
    assert not any(w.startswith("route ") for w in conv.warnings)
    assert all(s.shape[0] == "batch" for s in conv.input_specs)


def _fixed_batch_model():
    """A real model with the batch written into it: a per-row bias of 8 rows, so only a batch
    of 8 broadcasts. torch.export, asked for a free batch, specializes it to 8."""
    import torch

    class RowBiased(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Linear(12, 4)
            self.register_buffer("row_bias", torch.linspace(-1, 1, 8).reshape(8, 1, 1))

        def forward(self, x):
            return (self.proj(x) + self.row_bias).tanh()

    torch.manual_seed(0)
    return RowBiased().eval(), (torch.randn(8, 3, 12),)


def test_a_batch_the_exporter_fixes_is_stated():
    model, example = _fixed_batch_model()
    conv = interop.convert(model, to="onnx", example_inputs=example)
    assert conv.provenance["interop.route"] in ("dynamo", "dynamo-static")
    assert any(w.startswith("the batch dimension is fixed at 8") for w in conv.warnings)
    assert conv.input_specs[0].shape == (8, 3, 12)
    report = interop.check(model, conv, batch_sizes=(1, 8), latency=False, isolate=False)
    assert report.passed
    assert report.to_dict()["settings"]["batch_sizes"] == [8]
    assert max(p["max_abs_error"] for p in report.to_dict()["parity"]) < 1e-5


def test_dict_inputs_with_an_unknown_keyword_are_refused():
    from interop.errors import InvalidInput

    model, example = SMOKE[0].build()
    # transformers 5's forward() takes **kwargs, so the name reaches the model, which fails;
    # the hint names the keyword forward() does not have
    with pytest.raises(InvalidInput, match="no argument named 'input_idz'"):
        interop.convert(model, to="onnx", example_inputs={"input_idz": example["input_ids"]})


def test_cli_factory_returning_a_hf_model_and_dict(tmp_path, capsys, monkeypatch):
    from interop.cli import main

    monkeypatch.chdir(ROOT)
    out = tmp_path / "clip.onnx"
    report = tmp_path / "report.json"
    code = main(["conformance.cases.zoo_hf:build_clip_vision", "--to", "onnx", "-o", str(out),
                 "--report", str(report)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    import onnx

    saved = onnx.load(str(out))
    assert [i.name for i in saved.graph.input] == ["pixel_values"]
    assert [o.name for o in saved.graph.output] == ["image_embeds", "last_hidden_state"]
    data = json.loads(report.read_text())
    assert data["passed"]
    assert {p["output"] for p in data["parity"]} == {"image_embeds", "last_hidden_state"}
