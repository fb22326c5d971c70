"""sklearn.onnx: every conformance case matches its original; options, DataFrames, errors."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

pytest.importorskip("skl2onnx", reason="the sklearn extra is not installed")

from conftest import assert_parity  # noqa: E402

import interop  # noqa: E402
from conformance.cases.sklearn_models import CASES, _diabetes, _split  # noqa: E402
from interop import registry  # noqa: E402
from interop.api import validate  # noqa: E402
from interop.errors import ConversionError, InvalidInput  # noqa: E402
from interop.types import Tolerance  # noqa: E402

CASE_NAMES = [case.name for case in CASES]


@pytest.fixture(scope="module")
def converted() -> dict[str, tuple[Any, Any]]:
    """Each case built and converted once per module, on first use."""
    return {}


def _case(converted: dict[str, tuple[Any, Any]], name: str) -> tuple[Any, Any]:
    if name not in converted:
        case = next(c for c in CASES if c.name == name)
        model, example = case.build()
        converted[name] = (model, interop.convert(model, to="onnx", example_inputs=example))
    return converted[name]


def test_cases_cover_the_required_estimators() -> None:
    assert len(CASES) >= 12
    assert {c.framework for c in CASES} == {"sklearn"}
    tags = {t for c in CASES for t in c.tags}
    assert {"pipeline", "dataframe", "svm", "neighbors", "boosting", "mlp", "pca"} <= tags


@pytest.mark.parametrize("name", CASE_NAMES)
def test_case_matches_at_batch_1_and_8(converted: dict, name: str) -> None:
    model, conv = _case(converted, name)
    assert conv.converter == "sklearn.onnx" and conv.source == "sklearn"
    figures = assert_parity(model, conv, batch_sizes=(1, 8), max_abs=1e-4)
    for batch in (1, 8):
        assert all(err <= 1e-4 for err in figures[batch].values()), figures
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(model):
        assert conv.output_kinds["label"] == "label"
        assert "probabilities" in conv.output_map or "decision_function" in conv.output_map
    elif is_regressor(model):
        assert list(conv.output_map) == ["predictions"]
    else:
        assert list(conv.output_map) == ["transform"]


def test_zipmap_off_gives_a_plain_float_tensor(converted: dict) -> None:
    import onnx

    model, conv = _case(converted, "sk_logistic_multinomial")
    output = next(o for o in conv.model.graph.output if o.name == conv.output_map["probabilities"])
    assert output.type.HasField("tensor_type")
    assert output.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    spec = next(s for s in conv.output_specs if s.name == output.name)
    assert spec.shape == ("batch", 3) and spec.dtype == "float32"
    assert not any(n.op_type == "ZipMap" for n in conv.model.graph.node)
    runtime = registry.get_runtime("onnx")
    with runtime(conv.model, conversion=conv) as rt:
        produced = rt.run(conv.example_feed)[output.name]
    assert isinstance(produced, np.ndarray) and produced.shape == (8, 3)
    np.testing.assert_allclose(produced.sum(axis=1), 1.0, atol=1e-6)


def test_zipmap_on_is_a_sequence_output_and_says_so(converted: dict) -> None:
    model, conv = _case(converted, "sk_logistic_multinomial")
    example = conv.example_feed["X"]
    zipped = interop.convert(model, example_inputs=example, options={"zipmap": True})
    kinds = {o.name: o.type.WhichOneof("value") for o in zipped.model.graph.output}
    assert "sequence_type" in kinds.values()
    assert list(zipped.output_map) == ["label"]
    assert any("zipmap=True" in w for w in zipped.warnings)


def test_regressor_predictions_are_two_dimensional(converted: dict) -> None:
    model, conv = _case(converted, "sk_ridge")
    original = registry.get_runtime("sklearn")
    with original(model, conversion=conv) as rt:
        predictions = rt.run({"X": conv.example_feed["X"]})["predictions"]
    assert predictions.shape == (8, 1)
    np.testing.assert_allclose(
        predictions[:, 0], model.predict(conv.example_feed["X"].astype(np.float64))
    )


def test_dataframe_column_transformer_one_input_per_column(converted: dict) -> None:
    model, conv = _case(converted, "sk_dataframe_column_transformer")
    columns = ["age", "income", "city", "plan", "seats"]
    assert conv.input_layout == "dataframe"
    assert conv.input_map == {c: c for c in columns}
    dtypes = {s.name: s.dtype for s in conv.input_specs}
    assert dtypes == {
        "age": "float32",
        "income": "float32",
        "city": "object",
        "plan": "object",
        "seats": "int64",
    }
    assert all(conv.example_feed[c].shape == (8, 1) for c in columns)
    with registry.get_runtime("sklearn")(model, conversion=conv, threads=1) as original:
        specs = {s.name: s.dtype for s in original.input_specs()}
    # the original is fed the dtypes it was fitted with, not the ONNX input types
    assert specs == {
        "age": "float64",
        "income": "float64",
        "city": "object",
        "plan": "object",
        "seats": "int64",
    }
    # Unseen categories and missing ages, fed in a column order other than the fitted one:
    feed = {
        "seats": np.array([[1], [4], [9]], dtype=np.int64),
        "plan": np.array([["pro"], ["gold"], ["basic"]], dtype=object),
        "city": np.array([["Oslo"], ["Paris"], ["Quito"]], dtype=object),
        "income": np.array([[21000.5], [9000.0], [55000.25]], dtype=np.float32),
        "age": np.array([[np.nan], [33.5], [61.0]], dtype=np.float32),
    }
    probe = dataclasses.replace(conv, example_feed=feed)
    validate(model, probe, Tolerance(atol=1e-4, rtol=0.0))
    assert probe.validation["passed"]
    assert probe.validation["outputs"]["label"]["label_agreement"] == 1.0
    assert probe.validation["outputs"]["probabilities"]["max_abs_error"] <= 1e-4


def test_string_labels_and_both_sample_forms_of_a_dataframe_model() -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    species = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, species)
    rows = X.iloc[[0, 60, 120, 5, 70, 140, 30, 90]]
    # no ColumnTransformer: the DataFrame is one X (skl2onnx gives a scaler one input)
    from_frame = interop.convert(model, example_inputs=rows)
    assert from_frame.input_layout == "positional" and list(from_frame.input_map) == ["X"]
    assert [s.shape for s in from_frame.input_specs] == [("batch", 4)]
    assert from_frame.output_specs[0].dtype == "object"  # labels are a string tensor
    assert_parity(model, from_frame)
    one_tensor = interop.convert(model, example_inputs=rows.to_numpy())
    assert one_tensor.input_layout == "positional" and list(one_tensor.input_map) == ["X"]
    assert_parity(model, one_tensor)
    array_fitted = LogisticRegression(max_iter=500).fit(X.to_numpy(), species)
    with pytest.raises(InvalidInput, match="fitted on an array") as info:
        interop.convert(array_fitted, example_inputs=rows)
    assert "to_numpy()" in info.value.hint


def _numeric_frame_model(kind: str) -> tuple[Any, Any]:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.standard_normal((120, 3)), columns=["a", "b", "c"])
    frame["n"] = rng.integers(0, 4, 120)
    target = (frame["a"] - 0.5 * frame["c"] + 0.3 * frame["n"] > 0.4).astype(int)
    if kind == "integers":  # every column an integer: X stays int64, categories exact
        frame = frame[["n"]].assign(m=(frame["n"] * 3 + rng.integers(0, 2, 120)))
        model = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression())
    elif kind == "pipeline":
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    else:
        model = LogisticRegression(max_iter=500)
    return model.fit(frame, target), frame


@pytest.mark.parametrize(
    ("kind", "dtype", "width"),
    [("logistic", "float32", 4), ("pipeline", "float32", 4), ("integers", "int64", 2)],
)
def test_numeric_dataframe_without_column_transformer_is_one_x_input(
    kind: str, dtype: str, width: int
) -> None:
    model, frame = _numeric_frame_model(kind)
    conv = interop.convert(model, to="onnx", example_inputs=frame.iloc[:8])
    assert conv.input_layout == "positional" and conv.input_map == {"X": "X"}
    assert [(s.name, s.shape, s.dtype) for s in conv.input_specs] == [
        ("X", ("batch", width), dtype)
    ]
    assert conv.example_feed["X"].shape == (8, width)
    figures = assert_parity(model, conv, batch_sizes=(1, 8), max_abs=1e-5)
    assert figures[8]["probabilities"] <= 1e-5
    # The original is fed a DataFrame with its fitted names: scikit-learn must not warn.
    rows = frame.iloc[20:60]
    runtime = registry.get_runtime("sklearn")
    with runtime(model, conversion=conv, threads=1) as original, warnings.catch_warnings():
        warnings.simplefilter("error")
        produced = original.run({"X": rows.to_numpy()})
    np.testing.assert_array_equal(produced["label"], model.predict(rows))
    np.testing.assert_allclose(produced["probabilities"], model.predict_proba(rows), atol=1e-12)
    # Without a conversion the runtime infers the same layout from the model.
    with registry.get_runtime("sklearn")(model, conversion=None, threads=1) as bare:
        assert [s.name for s in bare.input_specs()] == ["X"]


def test_float64_route_keeps_raw_targets_within_tolerance() -> None:
    from sklearn.ensemble import GradientBoostingRegressor

    X, y = _diabetes()  # raw targets 25..346
    X_train, y_train, X_example = _split(X, y)
    model = GradientBoostingRegressor(n_estimators=100, random_state=0).fit(X_train, y_train)
    conv = interop.convert(model, example_inputs=X_example, options={"dtype": "float64"})
    assert conv.input_specs[0].dtype == "float64"
    assert conv.output_specs[0].dtype == "float64"
    figures = assert_parity(model, conv, max_abs=1e-4)
    assert figures[8]["predictions"] < 2e-5, figures
    # rows no tree has seen, many lying between a float64 value and its float32 rounding
    noisy = X + np.random.default_rng(0).normal(0, 1e-3, X.shape)
    unseen = dataclasses.replace(conv, example_feed={"X": noisy})
    validate(model, unseen, Tolerance(atol=1e-4, rtol=0.0))
    assert unseen.validation["outputs"]["predictions"]["max_abs_error"] < 5e-5


def test_float64_route_refuses_hist_gradient_boosting() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = _diabetes()
    with threadpool_limits(limits=1):  # OpenMP fitting crawls on a busy shared machine
        model = HistGradientBoostingClassifier(max_iter=5).fit(X, y > 140)
    with pytest.raises(InvalidInput) as info:
        interop.convert(model, example_inputs=X[:8], options={"dtype": "float64"})
    assert "HistGradientBoostingClassifier" in info.value.message
    assert "float32" in info.value.hint


def test_hist_gradient_boosting_float32_thresholds_hold_on_every_row() -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    X, y = _diabetes()
    with threadpool_limits(limits=1):
        model = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(X, y)
    before = model._predictors[0][0].nodes["num_threshold"].copy()
    conv = interop.convert(model, example_inputs=X[:8])
    # every row of the data, each of which rounds to float32 near some split threshold
    everything = dataclasses.replace(conv, example_feed={"X": X.astype(np.float32)})
    validate(model, everything, Tolerance(atol=1e-4, rtol=0.0))
    assert everything.validation["outputs"]["predictions"]["max_abs_error"] < 5e-5
    np.testing.assert_array_equal(model._predictors[0][0].nodes["num_threshold"], before)


def test_binary_classifier_without_probabilities_compares_labels_and_warns() -> None:
    from sklearn.datasets import load_breast_cancer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    X, y = load_breast_cancer(return_X_y=True)
    X_train, y_train, X_example = _split(X, y)
    model = make_pipeline(StandardScaler(), SVC()).fit(X_train, y_train)
    conv = interop.convert(model, example_inputs=X_example)
    assert list(conv.output_map) == ["label"]
    assert conv.validation["outputs"]["label"]["label_agreement"] == 1.0
    assert any("only labels are compared" in w for w in conv.warnings)


def test_saved_file_runs_and_carries_provenance(converted: dict, tmp_path: Any) -> None:
    import onnx

    model, conv = _case(converted, "sk_imputer_pca_pipeline")
    path = conv.save(tmp_path / "pipeline.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipeline.onnx"]
    saved = onnx.load(str(path))
    meta = {p.key: p.value for p in saved.metadata_props}
    assert meta["interop.converter"] == "sklearn.onnx"
    assert meta["interop.source"] == "sklearn"
    assert meta["interop.estimator"] == "Pipeline"
    runtime = registry.get_runtime("onnx")
    with runtime(path) as rt:
        from_file = rt.run(conv.example_feed)
    with runtime(conv.model) as rt:
        in_memory = rt.run(conv.example_feed)
    np.testing.assert_array_equal(from_file["probabilities"], in_memory["probabilities"])


def test_unknown_option_is_invalid_input_listing_known_ones(converted: dict) -> None:
    model, conv = _case(converted, "sk_ridge")
    with pytest.raises(InvalidInput) as info:
        interop.convert(model, example_inputs=conv.example_feed["X"], options={"zipmapp": False})
    assert "zipmapp" in info.value.message
    assert "zipmap" in info.value.hint and "dtype" in info.value.hint


def test_bad_option_values_are_invalid_input(converted: dict) -> None:
    model, conv = _case(converted, "sk_ridge")
    X = conv.example_feed["X"]
    with pytest.raises(InvalidInput, match="float16"):
        interop.convert(model, example_inputs=X, options={"dtype": "float16"})
    with pytest.raises(InvalidInput, match="opset 40") as info:
        interop.convert(model, example_inputs=X, opset=40)
    assert "between 7 and" in info.value.hint
    with pytest.raises(InvalidInput, match="2-D"):
        interop.convert(model, example_inputs=X[0])


def test_opset_is_honoured(converted: dict) -> None:
    model, conv = _case(converted, "sk_ridge")
    older = interop.convert(model, example_inputs=conv.example_feed["X"], opset=15)
    assert {o.domain: o.version for o in older.model.opset_import}[""] == 15
    assert older.provenance["interop.opset"] == "15"


def test_unfitted_estimator_is_invalid_input_with_a_hint() -> None:
    from sklearn.ensemble import RandomForestClassifier

    with pytest.raises(InvalidInput) as info:
        interop.convert(RandomForestClassifier(), example_inputs=np.zeros((8, 4)))
    assert "RandomForestClassifier is not fitted" in info.value.message
    assert ".fit(X, y)" in info.value.hint


def test_estimator_skl2onnx_cannot_convert_names_the_class() -> None:
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _diabetes()
    model = make_pipeline(StandardScaler(), KernelRidge(alpha=0.5)).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ConversionError) as info:
            interop.convert(model, example_inputs=X[:8])
    assert "KernelRidge" in info.value.message
    assert info.value.hint


def test_repair_versions_compare_as_many_numbers_as_the_bound_names() -> None:
    from interop.converters.skl2onnx_repairs import REPAIRS, version_in

    assert version_in((1, 20, 0), "<=1.20") and version_in((1, 20, 7), "<=1.20")
    assert not version_in((1, 21, 0), "<=1.20")
    assert version_in((7, 36, 2), ">=7") and not version_in((6, 33, 1), ">=7")
    assert version_in((1, 18), ">=1.17,<=1.20") and not version_in((1, 16, 9), ">=1.17,<=1.20")
    assert [r.name for r in REPAIRS] == [
        "hgb_float32_thresholds", "hgb_bool_attributes", "options_for_every_step",
        "float64_tree_ensembles", "string_normalizer_locale", "knn_distance_weights",
    ]
    assert all(r.why and r.stage in ("model", "call", "graph") for r in REPAIRS)


def test_a_repair_outside_its_versions_is_not_applied(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the k-NN repair declared for other skl2onnx versions, skl2onnx's sign bug shows."""
    from sklearn.neighbors import KNeighborsRegressor

    from interop.converters import skl2onnx_repairs
    from interop.converters.sklearn_onnx import SklearnToOnnx

    X, y = _diabetes()
    X_train, y_train, X_example = _split(X, y)
    model = KNeighborsRegressor(weights="distance").fit(X_train, y_train)
    expected = model.predict(X_example)

    def predictions() -> np.ndarray:
        conv = SklearnToOnnx().convert(model, X_example)
        with registry.get_runtime("onnx")(conv.model, conversion=conv) as rt:
            return rt.run(conv.example_feed)[conv.output_map["predictions"]][:, 0]

    np.testing.assert_allclose(predictions(), expected, atol=1e-3, rtol=1e-5)
    elsewhere = tuple(
        dataclasses.replace(r, needed_on={"skl2onnx": "<1"}) if r.name == "knn_distance_weights"
        else r
        for r in skl2onnx_repairs.REPAIRS
    )
    monkeypatch.setattr(skl2onnx_repairs, "REPAIRS", elsewhere)
    assert np.abs(predictions() - expected).max() > 1.0  # uniform averaging, as documented


@pytest.mark.parametrize("name", ["KMeans", "GaussianMixture", "OneClassSVM",
                                  "QuadraticDiscriminantAnalysis"])
def test_clusterers_and_outlier_detectors_give_a_1d_label(name: str) -> None:
    """skl2onnx's (N, 1) and (1, N) labels are reshaped to predict's (N,); scores compared."""
    import onnxruntime as ort
    from sklearn.datasets import load_iris
    from sklearn.utils import all_estimators

    cls = dict(all_estimators())[name]
    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        model = cls().fit(X, y) if name == "QuadraticDiscriminantAnalysis" else cls().fit(X)
    conv = interop.convert(model, to="onnx", example_inputs=X[:8])
    session = ort.InferenceSession(conv.model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    outputs = dict(zip([o.name for o in session.get_outputs()],
                       session.run(None, {"X": X.astype(np.float32)}), strict=True))
    label = outputs[conv.output_map["label"]]
    assert label.shape == (len(X),)
    assert (label == model.predict(X)).mean() >= 0.99  # float32 inputs at the boundaries
    assert interop.check(model, conv, latency=False).passed
