"""The Hugging Face zoo's SMOKE models to Core ML through the public API, called the HF way:
a dict of keyword tensors in, ModelOutput fields out, parity through the reference executor.

Before interop's lowerings (converters/coreml_lowerings) every text model here failed in
coremltools (new_ones, diff, where.ScalarOther, __and__, alias), and the causal ones then
differed from torch at left-padded positions (fully masked attention rows).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("coremltools")
pytest.importorskip("transformers")

import interop  # noqa: E402
from conformance.cases import zoo_hf  # noqa: E402

SMOKE = [c for c in zoo_hf.CASES if c.name in zoo_hf.SMOKE]


@pytest.mark.parametrize("case", SMOKE, ids=[c.name for c in SMOKE])
def test_smoke_model_converts_to_coreml_fp16_and_matches(case):
    model, feed = case.build()
    conv = interop.convert(model, to="coreml", example_inputs=feed)  # fp16, Core ML's default
    assert conv.provenance["interop.capture"] == "torch.export", conv.warnings
    assert list(conv.input_map) == list(feed)  # keyword names kept
    assert conv.input_layout == "named"
    assert [s.name for s in conv.input_specs] == list(feed)
    with torch.no_grad():
        fields = [k for k, v in model(**feed).items() if v is not None]
    assert list(conv.output_map) == fields  # ModelOutput fields, in order
    assert [s.name for s in conv.output_specs] == fields  # ... and in the Core ML model
    # a flexible batch, or (Wav2Vec2: coremltools cannot fold its shape arithmetic with a
    # symbolic batch) the example's fixed batch, said in the warnings
    fixed = any("converted with the example's fixed batch" in w for w in conv.warnings)
    assert conv.input_specs[0].shape[0] == ("batch" if not fixed else 8)
    assert fixed == (case.name == "hf_wav2vec2")

    report = interop.check(model, conv, batch_sizes=(2,), latency=False)
    parity = report.to_dict()["parity"]
    assert report.passed, parity
    worst = max(p["max_abs_error"] for p in parity)
    assert 1e-6 < worst < 0.05, worst  # fp16 storage drift: present, and small


def test_a_decoder_at_fp32_matches_to_fp32_precision_with_left_padding():
    """Llama with a left-padded mask: the rows the mask empties are zeros, as in torch."""
    case = next(c for c in SMOKE if c.name == "hf_llama")
    model, feed = case.build()
    feed["attention_mask"][:, :3] = 0  # left padding: query rows 0..2 attend to nothing
    conv = interop.convert(model, to="coreml", example_inputs=feed, precision="fp32")
    # check's generated masks are random 0/1: many rows are fully masked there too
    report = interop.check(model, conv, batch_sizes=(8,), latency=False)
    assert report.passed, report.to_dict()["parity"]
    from interop.coreml_ref import load_executor

    got = load_executor(conv.model).run(conv.example_feed)["logits"]
    with torch.no_grad():
        want = model(**feed).logits.numpy()
    assert abs(got - want).max() < 1e-5
