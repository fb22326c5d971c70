"""One verdict: convert-time validation and check judge through the same function."""

from __future__ import annotations

import numpy as np
import pytest

import interop
from interop.api import validate
from interop.harness.verdict import judge_batch
from interop.types import Conversion, Tolerance


def _tied_logistic_regression() -> tuple[object, np.ndarray]:
    """A model whose decision value is +1.5e-9 in float64 and exactly 0 in float32 on 4 rows.

    float32(0.1) - 0.1 is positive in float64, so scikit-learn says class 1; ONNX computes in
    float32, where the score is 0 and the label is class 0. The probabilities tie to 1e-9.
    """
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2)).astype(np.float32)
    model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    model.coef_ = np.array([[1.0, 0.0]])
    model.intercept_ = np.array([-0.1])
    x[:4, 0] = np.float32(0.1)
    return model, x


def test_a_label_flip_on_tied_probabilities_gets_one_verdict() -> None:
    model, x = _tied_logistic_regression()
    tied = model.predict_proba(x[:4])
    assert np.all(np.abs(tied[:, 1] - tied[:, 0]) < 1e-8) and np.all(tied[:, 1] > tied[:, 0])
    assert list(model.predict(x[:4])) == [1, 1, 1, 1]
    conv = interop.convert(model, to="onnx", example_inputs=x)  # raised before one verdict
    label = conv.validation["outputs"]["label"]
    assert conv.validation["passed"] is True
    assert label["label_agreement"] == pytest.approx(0.9)
    assert label["ties_excused"] == 4
    report = interop.check(model, conv, inputs=x, latency=False)
    assert report.passed is True
    entry = next(p for p in report.parity if p["output"] == "label")
    assert entry["ties_excused"] == 4 and entry["label_agreement"] == pytest.approx(0.9)


def test_a_real_fault_fails_convert_and_check_alike() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    model = LogisticRegression().fit(x, (x[:, 0] + x[:, 1] > 0).astype(int))
    conv = interop.convert(model, to="onnx", example_inputs=x)
    # plant a fault: negate the converted model's coefficients, so labels flip with clear margins
    (node,) = [n for n in conv.model.graph.node if n.op_type == "LinearClassifier"]
    (coefficients,) = [a for a in node.attribute if a.name == "coefficients"]
    coefficients.floats[:] = [-v for v in coefficients.floats]
    with pytest.raises(interop.ConversionError, match="labels agree on") as raised:
        validate(model, conv)
    report = interop.check(model, conv, inputs=x, latency=False)
    assert report.passed is False
    assert conv.validation["passed"] is False
    failing_at_convert = {n for n, o in conv.validation["outputs"].items() if not o["passed"]}
    assert failing_at_convert == set(report.failing_outputs()) == {"label", "probabilities"}
    assert "output 'label'" in str(raised.value)


def _labels_conversion() -> Conversion:
    return Conversion(
        source="sklearn",
        target="onnx",
        converter="test",
        model=None,
        input_specs=(),
        output_specs=(),
        input_map={},
        output_map={"label": "label", "probabilities": "probabilities"},
        saver=lambda model, path: None,
        suffix=".onnx",
        output_kinds={"label": "label", "probabilities": "probabilities"},
    )


@pytest.mark.parametrize(
    ("row", "passed"),
    [([0.5, 0.5], True), ([0.50002, 0.49998], True), ([0.6, 0.4], False)],
)
def test_judge_batch_excuses_only_ties_within_the_probability_tolerance(
    row: list[float], passed: bool
) -> None:
    probabilities = np.array([row, [0.1, 0.9]])
    reference = {"label": np.array([0, 1]), "probabilities": probabilities}
    produced = {"label": np.array([1, 1]), "probabilities": probabilities}
    tol = Tolerance(atol=1e-4, rtol=1e-4)
    verdict = judge_batch(2, _labels_conversion(), reference, produced, {
        "label": tol, "probabilities": tol,
    })
    assert verdict.passed is passed
    label = verdict.comparisons["label"]
    assert label.label_agreement == 0.5
    assert label.ties_excused == (1 if passed else 0)
    assert (verdict.failures == []) is passed
