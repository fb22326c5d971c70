"""Real XGBoost and LightGBM models through the plugin's entry points: contract and parity."""

from __future__ import annotations

import numpy as np
import pytest

import interop
from interop.api import converters as list_converters
from interop.testing import check_converter_contract, check_entry_points, run_conformance

xgb = pytest.importorskip("xgboost", reason="the plugins session installs xgboost-cpu")
lgb = pytest.importorskip("lightgbm", reason="the plugins session installs lightgbm")

ROWS = np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32)
BINARY = (ROWS[:, 0] + 0.5 * ROWS[:, 1] > 0).astype(np.int64)
MULTI = np.digitize(ROWS[:, 2] - ROWS[:, 3], [-0.7, 0.7]).astype(np.int64)
TARGET = (ROWS @ np.arange(1, 7, dtype=np.float32) + 3.0).astype(np.float32)


def _fit(model, y):
    return model.fit(ROWS, y), ROWS[:8]


CASES = {
    "xgboost.onnx": [
        (
            "xgb_binary",
            lambda: _fit(
                xgb.XGBClassifier(n_estimators=20, max_depth=3, random_state=0, n_jobs=1), BINARY
            ),
        ),
        (
            "xgb_multiclass",
            lambda: _fit(
                xgb.XGBClassifier(n_estimators=15, max_depth=3, random_state=0, n_jobs=1), MULTI
            ),
        ),
        (
            "xgb_regressor",
            lambda: _fit(
                xgb.XGBRegressor(n_estimators=30, max_depth=4, random_state=0, n_jobs=1), TARGET
            ),
        ),
    ],
    "lightgbm.onnx": [
        (
            "lgbm_binary",
            lambda: _fit(
                lgb.LGBMClassifier(n_estimators=20, random_state=0, verbose=-1, n_jobs=1), BINARY
            ),
        ),
        (
            "lgbm_multiclass",
            lambda: _fit(
                lgb.LGBMClassifier(n_estimators=15, random_state=0, verbose=-1, n_jobs=1), MULTI
            ),
        ),
        (
            "lgbm_regressor",
            lambda: _fit(
                lgb.LGBMRegressor(n_estimators=30, random_state=0, verbose=-1, n_jobs=1), TARGET
            ),
        ),
    ],
}


def test_entry_points_satisfy_the_contract():
    found = check_entry_points("interop-boosting")
    assert sorted(found["converters"]) == ["lightgbm.onnx", "xgboost.onnx"]
    assert sorted(found["runtimes"]) == ["lightgbm", "xgboost"]
    from interop_boosting.converters import LightGBMToOnnx, XGBoostToOnnx

    check_converter_contract(XGBoostToOnnx)
    check_converter_contract(LightGBMToOnnx)


def test_listing_names_the_distribution():
    # interop.converters is shadowed by the interop.converters package once a converter
    # module is imported, so call the API function directly.
    infos = {i.name: i for i in list_converters()}
    assert infos["xgboost.onnx"].distribution == "interop-boosting"
    assert infos["lightgbm.onnx"].available, infos["lightgbm.onnx"].reason


@pytest.mark.parametrize("converter", sorted(CASES))
def test_parity_against_native_predict(converter):
    results = run_conformance(converter, CASES[converter], batch_sizes=(1, 8, 64))
    assert [r.name for r in results] == [name for name, _ in CASES[converter]]
    for result in results:
        assert result.passed, result.reason
        for batch in (1, 8, 64):
            errors = [e for e in result.max_abs_error[batch].values() if e is not None]
            assert errors and max(errors) < 1e-4, (result.name, batch, result.max_abs_error)


def test_source_is_detected_from_the_model_class():
    model, x = _fit(xgb.XGBRegressor(n_estimators=5, max_depth=2, n_jobs=1), TARGET)
    conv = interop.convert(model, to="onnx", example_inputs=x)
    assert (conv.source, conv.converter) == ("xgboost", "xgboost.onnx")
    assert conv.validation["passed"]
    model, x = _fit(lgb.LGBMClassifier(n_estimators=5, verbose=-1, n_jobs=1), BINARY)
    conv = interop.convert(model, to="onnx", example_inputs=x)
    assert (conv.source, conv.converter) == ("lightgbm", "lightgbm.onnx")
    assert conv.validation["outputs"]["label"]["label_agreement"] == 1.0


def test_saved_model_runs_and_matches(tmp_path):
    import onnxruntime as ort

    model, x = _fit(xgb.XGBClassifier(n_estimators=10, max_depth=3, n_jobs=1), MULTI)
    conv = interop.convert(model, to="onnx", example_inputs=x)
    path = conv.save(tmp_path / "xgb.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    label, proba = session.run(None, {"X": ROWS[:50]})
    assert np.array_equal(label, model.predict(ROWS[:50]))
    assert np.abs(proba - model.predict_proba(ROWS[:50])).max() < 1e-5


def test_unfitted_model_and_bad_inputs_are_clear_errors():
    with pytest.raises(interop.InvalidInput, match="not fitted"):
        interop.convert(lgb.LGBMRegressor(), to="onnx", example_inputs=ROWS[:4])
    model, _ = _fit(xgb.XGBRegressor(n_estimators=3, n_jobs=1), TARGET)
    with pytest.raises(interop.InvalidInput, match=r"expects \(rows, 6\)"):
        interop.convert(model, to="onnx", example_inputs=ROWS[:4, :3])
    with pytest.raises(interop.InvalidInput, match="unknown option"):
        interop.convert(model, to="onnx", example_inputs=ROWS[:4], options={"zipmap": True})
