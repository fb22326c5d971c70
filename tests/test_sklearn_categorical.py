"""Tabular data as people fit it: DataFrames with text categories, native categorical splits.

ONNX parity is computed here with onnxruntime and numpy directly against ``predict_proba``,
and Core ML parity with the reference executor, beside ``interop.check``. The inputs carry
unseen categories and missing values, which scikit-learn's rules route explicitly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("skl2onnx", reason="the sklearn extra is not installed")
pd = pytest.importorskip("pandas")

from threadpoolctl import threadpool_limits  # noqa: E402

import interop  # noqa: E402

CITIES = ["paris", "rome", "oslo", "lima", None]


def _frame(rows: int, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "city": rng.choice(np.asarray(CITIES, dtype=object), rows),
        "x": rng.normal(size=rows).astype(np.float32).astype(np.float64),
        "k": rng.integers(0, 5, rows),
    })


def _target(frame: Any) -> np.ndarray:
    return ((frame.city == "rome") | (frame.x > 0.5)).astype(int).to_numpy() + (frame.k > 2)


def _unseen(frame: Any) -> Any:
    test = frame.copy()
    test.loc[:4, "city"] = "tokyo"  # never seen in fit
    test.loc[5:8, "city"] = None  # missing
    return test


def _ort(conversion: Any, frame: Any) -> list[np.ndarray]:
    import onnxruntime as ort

    feed = {}
    for value in conversion.model.graph.input:
        column = frame[value.name]
        elem = value.type.tensor_type.elem_type
        if elem == 8:  # string
            feed[value.name] = column.astype(str).to_numpy(dtype=object).reshape(-1, 1)
        elif elem == 7:  # int64
            feed[value.name] = column.to_numpy(np.int64).reshape(-1, 1)
        else:
            feed[value.name] = column.to_numpy(np.float32).reshape(-1, 1)
    session = ort.InferenceSession(
        conversion.model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, feed)


def _coreml(conversion: Any, frame: Any) -> dict[str, np.ndarray]:
    from interop.coreml_ref.classic import ClassicExecutor

    executor = ClassicExecutor(conversion.model.get_spec())
    feed = {}
    for spec in conversion.input_specs:
        column = frame[spec.name]
        feed[spec.name] = (column.astype(str).to_numpy(dtype=object) if spec.dtype == "object"
                           else column.to_numpy().reshape(-1, 1) if spec.dtype == "float64"
                           else column.to_numpy())
    return executor.run(feed)


@pytest.fixture(scope="module")
def one_hot_lr() -> Any:
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = _frame(200, 0)
    frame["city"] = frame["city"].fillna("unknown")
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["city"]),
            (StandardScaler(), ["x", "k"]),
        ),
        LogisticRegression(),
    ).fit(frame, _target(frame))
    return model, frame


@pytest.fixture(scope="module")
def hgb_by_name() -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame = _frame(300, 1)
    model = HistGradientBoostingClassifier(categorical_features=["city"], max_iter=15,
                                           random_state=0)
    with threadpool_limits(limits=1):  # OpenMP fitting crawls on a shared, busy machine
        return model.fit(frame, _target(frame)), frame


def test_string_categories_one_hot_lr_to_onnx(one_hot_lr: Any) -> None:
    model, frame = one_hot_lr
    test = _frame(60, 5).fillna({"city": "unknown"})
    test.loc[:4, "city"] = "tokyo"
    conversion = interop.convert(model, to="onnx", example_inputs=frame[:8])
    label, proba = _ort(conversion, test)
    np.testing.assert_array_equal(label, model.predict(test))
    np.testing.assert_allclose(proba, model.predict_proba(test), atol=1e-6, rtol=0)
    assert interop.check(model, conversion, latency=False).passed


def test_string_categories_one_hot_lr_to_coreml(one_hot_lr: Any) -> None:
    model, frame = one_hot_lr
    test = _frame(60, 5).fillna({"city": "unknown"})
    test.loc[:4, "city"] = "tokyo"
    conversion = interop.convert(model, to="coreml", example_inputs=frame[:8])
    out = _coreml(conversion, test)
    np.testing.assert_array_equal(out["classLabel"], model.predict(test))
    # multinomial LR is a float32 neural network in Core ML: the converter's float32 tolerance
    np.testing.assert_allclose(out["classProbability"], model.predict_proba(test), atol=1e-5,
                               rtol=1e-4)
    assert interop.check(model, conversion, latency=False).passed


def test_hgb_native_categorical_to_onnx(hgb_by_name: Any) -> None:
    model, frame = hgb_by_name
    test = _unseen(_frame(80, 7))
    conversion = interop.convert(model, to="onnx", example_inputs=frame[:8])
    ops = [n.op_type for n in conversion.model.graph.node]
    assert "LabelEncoder" in ops and "TreeEnsembleClassifier" in ops
    label, proba = _ort(conversion, test)
    np.testing.assert_array_equal(label, model.predict(test))
    np.testing.assert_allclose(proba, model.predict_proba(test), atol=1e-6, rtol=0)
    assert interop.check(model, conversion, latency=False).passed


def test_hgb_native_categorical_to_coreml(hgb_by_name: Any) -> None:
    model, frame = hgb_by_name
    test = _unseen(_frame(80, 7))
    conversion = interop.convert(model, to="coreml", example_inputs=frame[:8])
    out = _coreml(conversion, test)
    np.testing.assert_array_equal(out["classLabel"], model.predict(test))
    np.testing.assert_allclose(out["classProbability"], model.predict_proba(test), atol=1e-12)
    assert interop.check(model, conversion, latency=False).passed


def test_hgb_categorical_dtype_column() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame = _frame(300, 2)
    frame["city"] = frame["city"].astype("category")
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=10)
    with threadpool_limits(limits=1):
        model.fit(frame, _target(frame))
    test = _frame(50, 9)
    test.loc[:3, "city"] = None
    for target in ("onnx", "coreml"):
        conversion = interop.convert(model, to=target, example_inputs=frame[:8])
        assert interop.check(model, conversion, latency=False).passed, target
    proba = _ort(interop.convert(model, to="onnx", example_inputs=frame[:8]), test)[1]
    np.testing.assert_allclose(proba, model.predict_proba(test), atol=1e-6, rtol=0)


@pytest.mark.parametrize("select", ["index", "mask"])
def test_hgb_categorical_codes_by_index_or_mask(select: str) -> None:
    """Integer codes in an ndarray: unseen (9), negative (-1) and NaN codes are missing."""
    import onnxruntime as ort
    from sklearn.ensemble import HistGradientBoostingRegressor

    from interop.coreml_ref.classic import ClassicExecutor

    rng = np.random.default_rng(3)
    X = np.c_[rng.integers(0, 6, 400).astype(float), rng.normal(size=400)]
    X[::17, 0] = np.nan
    X[:, 1] = X[:, 1].astype(np.float32)
    y = X[:, 1] + np.nan_to_num(X[:, 0] % 3)
    categorical = [0] if select == "index" else [True, False]
    model = HistGradientBoostingRegressor(categorical_features=categorical, max_iter=15)
    with threadpool_limits(limits=1):
        model.fit(X, y)
    test = X[:40].copy()
    test[:5, 0], test[5:8, 0], test[8:11, 0] = 9.0, -1.0, np.nan
    expected = model.predict(test)
    onnx_conv = interop.convert(model, to="onnx", example_inputs=X[:8])
    session = ort.InferenceSession(onnx_conv.model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"X": test.astype(np.float32)})
    np.testing.assert_allclose(got[:, 0], expected, atol=1e-5, rtol=1e-5)
    coreml_conv = interop.convert(model, to="coreml", example_inputs=X[:8])
    out = ClassicExecutor(coreml_conv.model.get_spec()).run({"X": test})
    np.testing.assert_allclose(out["predictions"][:, 0], expected, atol=1e-12)
    for conversion in (onnx_conv, coreml_conv):
        assert interop.check(model, conversion, latency=False).passed
