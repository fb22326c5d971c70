"""Zoo tier, Keras Applications: the SMOKE subset converts to ONNX and Core ML and matches.

Through the public API only (interop.convert, interop.check), at the default tolerances.
The full family runs in ``python -m conformance --tier zoo``.
"""

from __future__ import annotations

import pytest

pytest.importorskip("tensorflow", reason="the tensorflow extra is not installed")
pytest.importorskip("tf2onnx", reason="the tensorflow extra is not installed")
pytest.importorskip("coremltools", reason="the coreml extra is not installed")

import interop  # noqa: E402
from conformance.cases import zoo_keras  # noqa: E402

CASES = {case.name: case for case in zoo_keras.CASES}

# Measured failures under the default profiles (scale-relative atol plus relative RMS; see
# docs/tolerances.md), kept strict so that a change in either direction shows. These are
# random-weight networks whose BatchNorm statistics come from 8 example images; check's
# generated inputs drive them far outside that range. Core ML fp32 of the same conversions
# passes (mobilenet_a050: relative RMS 1.4e-5), so the fp16 figures are the fp16 programs'
# own drift on these networks. Not loosened.
DRIFT = {
    ("keras_efficientnet_b0", "onnx"): "fp32: max abs 3.39 on logits of RMS 3740 (relative "
    "RMS 2.1e-4 passes; elementwise needs 9e-4 of scale)",
    ("keras_mobilenet_v3_small", "coreml"): "fp16: max abs 0.035 on scale 0.9",
    ("keras_efficientnet_b0", "coreml"): "fp16: max abs 9.9 on scale 260",
    ("keras_mobilenet_a050", "coreml"): "fp16: relative RMS 1.0e-2 (batch 1) to 3.6e-2 (batch 8)",
}


def _params(target: str) -> list:
    return [
        pytest.param(n, marks=pytest.mark.xfail(reason=DRIFT[(n, target)], strict=True))
        if (n, target) in DRIFT
        else n
        for n in zoo_keras.SMOKE
    ]


_BUILT: dict[str, tuple] = {}


def _built(name: str) -> tuple:
    if name not in _BUILT:
        _BUILT[name] = CASES[name].build()
    return _BUILT[name]


@pytest.fixture(scope="module", autouse=True)
def _forget_models():
    yield
    _BUILT.clear()


def test_every_keras_applications_family_is_in_the_zoo():
    import keras

    def family(factory_name: str) -> str:
        return getattr(keras.applications, factory_name).__module__.rsplit(".", 1)[-1]

    families = {family(n) for n in dir(keras.applications) if n[:1].isupper()}
    covered = {family(case.build.application) for case in zoo_keras.CASES}
    assert families == covered
    assert len(families) >= 14
    assert set(zoo_keras.SMOKE) <= set(CASES)
    assert all(c.framework == "tensorflow" and "keras-app" in c.tags for c in zoo_keras.CASES)


@pytest.mark.parametrize("name", _params("onnx"))
def test_smoke_model_converts_to_onnx_and_matches(name):
    model, images = _built(name)
    conv = interop.convert(model, to="onnx", example_inputs=images)
    assert [i.name for i in conv.model.graph.input] == list(conv.input_map)
    assert "StatefulPartitionedCall" not in {n.op_type for n in conv.model.graph.node}
    report = interop.check(model, conv, latency=False)
    assert report.passed, report.to_dict()["parity"]
    worst = max(p["max_abs_error"] for p in report.to_dict()["parity"])
    assert worst < 1e-3, worst


@pytest.mark.parametrize("name", _params("coreml"))
def test_smoke_model_converts_to_coreml_fp16_and_matches(name):
    model, images = _built(name)
    conv = interop.convert(model, to="coreml", example_inputs=images)
    report = interop.check(model, conv, latency=False)
    assert report.passed, report.to_dict()["parity"]


def test_zoo_conversion_is_quiet_at_the_file_descriptors(capfd):
    model, images = _built(zoo_keras.SMOKE[0])
    capfd.readouterr()
    interop.convert(model, to="onnx", example_inputs=images)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == "", captured
