"""sklearn.coreml: scikit-learn 1.9 estimators and pipelines to classic Core ML specs.

Every case is fitted on seeded data, converted, and run through the classic reference executor
on held-out rows; labels must agree 100% and numbers within the family's tolerance.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

pytest.importorskip("coremltools")

from interop.converters.sklearn_coreml import (  # noqa: E402
    DOUBLE_TOLERANCE,
    FLOAT32_TOLERANCE,
    SklearnToCoreml,
    float32_split_thresholds,
)
from interop.coreml_ref.classic import ClassicExecutor  # noqa: E402
from interop.errors import ConversionError, InvalidInput  # noqa: E402

WORST: dict[str, dict[str, float]] = {}


def _data() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    from sklearn.datasets import make_classification, make_regression

    out = {}
    for name, classes, seed in (("binary", 2, 1), ("multi", 3, 0)):
        x, y = make_classification(360, 6, n_informative=4, n_redundant=0, n_classes=classes,
                                   random_state=seed)
        out[name] = (x[:300], y[:300], x[300:])
    x, y = make_regression(360, 6, noise=5.0, random_state=0)
    out["regression"] = (x[:300], y[:300], x[300:])
    out["regression2"] = (x[:300], np.c_[y[:300], 0.5 * y[:300] - 3.0], x[300:])
    rng = np.random.default_rng(0)
    mixed = rng.normal(size=(360, 5))
    mixed[:, 3] = rng.integers(0, 4, 360)
    mixed[:, 4] = rng.integers(0, 3, 360)
    label = (mixed[:, 0] + mixed[:, 3] > 1.5).astype(int) + (mixed[:, 1] > 1)
    out["mixed"] = (mixed[:300], label[:300], mixed[300:])
    holes = mixed.copy()
    holes[:, :3][rng.random((360, 3)) < 0.15] = np.nan
    out["missing"] = (holes[:300], label[:300], holes[300:])
    out["strings"] = (mixed[:300], np.array(["low", "mid", "high"])[label[:300]], mixed[300:])
    return out


DATA = _data()


def _cases() -> list[tuple[str, str, str, Callable[[], Any]]]:
    """(id, family, data set, factory); the family picks the tolerance and the report row."""
    from sklearn import (
        calibration,
        compose,
        decomposition,
        ensemble,
        impute,
        linear_model,
        neural_network,
        pipeline,
        preprocessing,
        svm,
        tree,
    )

    mp = pipeline.make_pipeline
    pp = preprocessing
    ct_mixed = compose.ColumnTransformer(
        [("num", pp.StandardScaler(), [0, 1, 2]),
         ("cat", pp.OneHotEncoder(handle_unknown="ignore"), [3, 4])]
    )
    return [
        ("linear_regression", "glm", "regression", linear_model.LinearRegression),
        ("ridge_two_targets", "glm", "regression2", linear_model.Ridge),
        ("logistic_binary", "glm", "binary", linear_model.LogisticRegression),
        ("logistic_multinomial", "nn", "multi", linear_model.LogisticRegression),
        ("logistic_string_labels", "nn", "strings", linear_model.LogisticRegression),
        ("lasso", "glm", "regression", lambda: linear_model.Lasso(alpha=0.5)),
        ("linear_svr", "glm", "regression", lambda: svm.LinearSVR(C=5.0, max_iter=5000)),
        ("linear_svc", "glm", "multi", svm.LinearSVC),
        ("decision_tree_classifier", "trees", "multi",
         lambda: tree.DecisionTreeClassifier(max_depth=6, random_state=0)),
        ("decision_tree_regressor", "trees", "regression",
         lambda: tree.DecisionTreeRegressor(max_depth=6, random_state=0)),
        ("random_forest_classifier", "trees", "multi",
         lambda: ensemble.RandomForestClassifier(20, max_depth=8, random_state=0)),
        ("random_forest_regressor", "trees", "regression2",
         lambda: ensemble.RandomForestRegressor(20, max_depth=8, random_state=0)),
        ("extra_trees_classifier", "trees", "binary",
         lambda: ensemble.ExtraTreesClassifier(20, max_depth=8, random_state=0)),
        ("extra_trees_regressor", "trees", "regression",
         lambda: ensemble.ExtraTreesRegressor(20, max_depth=8, random_state=0)),
        ("gradient_boosting_binary", "boosting", "binary",
         lambda: ensemble.GradientBoostingClassifier(n_estimators=25, random_state=0)),
        ("gradient_boosting_multi", "boosting", "multi",
         lambda: ensemble.GradientBoostingClassifier(n_estimators=25, random_state=0)),
        ("gradient_boosting_exponential", "boosting", "binary",
         lambda: ensemble.GradientBoostingClassifier(n_estimators=25, loss="exponential",
                                                     random_state=0)),
        ("gradient_boosting_regressor", "boosting", "regression",
         lambda: ensemble.GradientBoostingRegressor(n_estimators=25, random_state=0)),
        ("gradient_boosting_string_labels", "boosting", "strings",
         lambda: ensemble.GradientBoostingClassifier(n_estimators=10, random_state=0)),
        ("hist_gradient_boosting_binary", "boosting", "binary",
         lambda: ensemble.HistGradientBoostingClassifier(max_iter=25, random_state=0)),
        ("hist_gradient_boosting_multi", "boosting", "multi",
         lambda: ensemble.HistGradientBoostingClassifier(max_iter=25, random_state=0)),
        ("hist_gradient_boosting_regressor", "boosting", "regression",
         lambda: ensemble.HistGradientBoostingRegressor(max_iter=25, random_state=0)),
        ("hist_gradient_boosting_nan", "boosting", "missing",
         lambda: ensemble.HistGradientBoostingClassifier(max_iter=25, random_state=0)),
        ("svc_rbf", "svm", "multi", svm.SVC),
        ("svc_linear_binary", "svm", "binary", lambda: svm.SVC(kernel="linear")),
        ("svc_poly", "svm", "multi", lambda: svm.SVC(kernel="poly", degree=3)),
        ("svc_rbf_probability", "svm", "multi",
         lambda: svm.SVC(probability=True, random_state=0)),
        ("svc_binary_probability", "svm", "binary",
         lambda: svm.SVC(probability=True, random_state=0)),
        ("calibrated_svc_binary", "svm", "binary",
         lambda: calibration.CalibratedClassifierCV(svm.SVC(), ensemble=False)),
        ("calibrated_linear_svc_binary", "glm", "binary",
         lambda: calibration.CalibratedClassifierCV(svm.LinearSVC(), ensemble=False)),
        ("nu_svc_sigmoid", "svm", "multi", lambda: svm.NuSVC(kernel="sigmoid", gamma=0.05)),
        ("nu_svr", "svm", "regression", lambda: svm.NuSVR(C=50.0)),
        ("svr_rbf", "svm", "regression", lambda: svm.SVR(C=50.0)),
        ("svr_linear", "svm", "regression", lambda: svm.SVR(kernel="linear")),
        ("svr_poly", "svm", "regression", lambda: svm.SVR(kernel="poly", C=50.0)),
        ("mlp_classifier_multi", "nn", "multi",
         lambda: neural_network.MLPClassifier((16, 8), max_iter=300, random_state=0)),
        ("mlp_classifier_binary_tanh", "nn", "binary",
         lambda: neural_network.MLPClassifier((16,), activation="tanh", max_iter=300,
                                              random_state=0)),
        ("mlp_regressor", "nn", "regression",
         lambda: neural_network.MLPRegressor(hidden_layer_sizes=(16,), activation="logistic",
                                             max_iter=500, random_state=0)),
        ("pipeline_standard_pca_logistic", "nn", "multi",
         lambda: mp(pp.StandardScaler(), decomposition.PCA(4, whiten=True),
                    linear_model.LogisticRegression())),
        ("pipeline_minmax_svc", "svm", "multi", lambda: mp(pp.MinMaxScaler(), svm.SVC())),
        ("pipeline_imputer_robust_forest", "pipeline", "missing",
         lambda: mp(impute.SimpleImputer(strategy="median"), pp.RobustScaler(),
                    ensemble.RandomForestClassifier(10, random_state=0))),
        ("pipeline_onehot_logistic", "nn", "mixed",
         lambda: mp(ct_mixed, linear_model.LogisticRegression())),
        ("pipeline_onehot_drop_first_ridge", "pipeline", "mixed",
         lambda: mp(compose.ColumnTransformer([("cat", pp.OneHotEncoder(drop="first"), [3, 4])],
                                              remainder="passthrough"),
                    linear_model.Ridge())),
        ("pipeline_maxabs_normalizer_linear", "pipeline", "regression",
         lambda: mp(pp.MaxAbsScaler(), pp.Normalizer(), linear_model.LinearRegression())),
        ("standard_scaler_transform", "pipeline", "regression", pp.StandardScaler),
        ("pca_transform", "pipeline", "regression", lambda: decomposition.PCA(3)),
    ]


CASES = _cases()


@pytest.fixture(scope="module")
def converter() -> SklearnToCoreml:
    return SklearnToCoreml()


@pytest.fixture(scope="module")
def worst_errors():
    """Collects the worst error per family and prints it at the end (visible with -s)."""
    yield WORST
    for family, row in sorted(WORST.items()):
        print(f"\nworst {family}: " + ", ".join(f"{k} {v:.2e}" for k, v in sorted(row.items())))


def _fit(factory: Callable[[], Any], x: np.ndarray, y: np.ndarray) -> Any:
    from threadpoolctl import threadpool_limits

    model = factory()
    # one thread: OpenMP fitting (HistGradientBoosting) crawls on a shared, busy machine
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        # SVC(probability=True) is deprecated in scikit-learn 1.9; MLPs may stop early.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        from sklearn.exceptions import ConvergenceWarning

        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    return model


def _record(family: str, key: str, value: float) -> None:
    row = WORST.setdefault(family, {})  # module-level so the fixture's teardown can print it
    row[key] = max(row.get(key, 0.0), value)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_estimator_matches_sklearn(case: tuple, converter: SklearnToCoreml, worst_errors) -> None:
    case_id, family, data, factory = case
    x, y, x_test = DATA[data]
    model = _fit(factory, x, y)
    conv = converter.convert(model, x[:16])
    tol = FLOAT32_TOLERANCE if family == "nn" else DOUBLE_TOLERANCE
    assert conv.default_tolerance == tol
    executor = ClassicExecutor(conv.model.get_spec())
    for batch in (1, len(x_test)):
        out = executor.run({"X": x_test[:batch]})
        rows = x_test[:batch]
        if "label" in conv.output_map:
            label = out[conv.output_map["label"]]
            assert label.shape == (batch,)
            np.testing.assert_array_equal(label, model.predict(rows))
            if "probabilities" in conv.output_map:
                probs = out[conv.output_map["probabilities"]]
                ref = model.predict_proba(rows)
                assert probs.shape == ref.shape
                np.testing.assert_allclose(probs, ref, atol=tol.atol, rtol=tol.rtol)
                _record(family, "probabilities", float(np.abs(probs - ref).max()))
        else:
            name = next(iter(conv.output_map.values()))
            got = out[name]
            ref = model.predict(rows) if name == "predictions" else model.transform(rows)
            ref = np.asarray(ref, dtype=np.float64).reshape(batch, -1)
            assert got.shape == ref.shape
            np.testing.assert_allclose(got, ref, atol=tol.atol, rtol=tol.rtol)
            scale = max(1.0, float(np.abs(ref).max()))
            _record(family, f"{name} (relative)", float(np.abs(got - ref).max()) / scale)


def test_conversion_interface_and_provenance(converter: SklearnToCoreml, tmp_path) -> None:
    from sklearn.ensemble import RandomForestClassifier

    x, y, x_test = DATA["multi"]
    model = _fit(lambda: RandomForestClassifier(5, random_state=0), x, y)
    conv = converter.convert(model, x[:20])
    assert (conv.source, conv.target, conv.converter, conv.runtime, conv.suffix) == (
        "sklearn", "coreml", "sklearn.coreml", "coreml", ".mlmodel")
    assert conv.input_map == {"X": "X"}
    assert conv.output_map == {"label": "classLabel", "probabilities": "classProbability"}
    assert conv.output_kinds == {"label": "label", "probabilities": "probabilities"}
    assert [s.name for s in conv.input_specs] == ["X"]
    assert conv.input_specs[0].shape == ("batch", 6)
    assert conv.example_feed["X"].shape == (8, 6)
    meta = dict(conv.model.get_spec().description.metadata.userDefined)
    assert meta["interop.converter"] == "sklearn.coreml"
    assert meta["interop.source_class"].endswith("RandomForestClassifier")
    assert meta["interop.sklearn_version"] == conv.provenance["interop.sklearn_version"]

    import coremltools as ct

    path = conv.save(tmp_path / "forest.mlmodel")
    reloaded = ct.utils.load_spec(str(path))
    assert reloaded.WhichOneof("Type") == "treeEnsembleClassifier"
    ct.models.MLModel(reloaded, skip_model_load=True)  # a spec coremltools accepts
    before = ClassicExecutor(conv.model.get_spec()).run({"X": x_test})
    after = ClassicExecutor(reloaded, tmp_path).run({"X": x_test})
    np.testing.assert_array_equal(before["classProbability"], after["classProbability"])


def test_pipeline_is_a_pipeline_classifier(converter: SklearnToCoreml) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y, _ = DATA["binary"]
    model = _fit(lambda: make_pipeline(StandardScaler(), LogisticRegression()), x, y)
    spec = converter.convert(model, x).model.get_spec()
    assert spec.WhichOneof("Type") == "pipelineClassifier"
    kinds = [m.WhichOneof("Type") for m in spec.pipelineClassifier.pipeline.models]
    assert kinds == ["scaler", "glmClassifier"]
    assert [o.name for o in spec.description.output] == ["classLabel", "classProbability"]
    assert spec.description.predictedFeatureName == "classLabel"


def test_tree_thresholds_follow_sklearn_float32_comparison(converter) -> None:
    """Inputs at and one double ulp around every split threshold still get sklearn's answer."""
    from sklearn.tree import DecisionTreeRegressor

    x, y, _ = DATA["regression"]
    model = _fit(lambda: DecisionTreeRegressor(max_depth=8, random_state=0), x, y)
    executor = ClassicExecutor(converter.convert(model, x).model.get_spec())
    inner = model.tree_.feature >= 0
    probes = []
    for feature, threshold in zip(model.tree_.feature[inner], model.tree_.threshold[inner],
                                  strict=True):
        for value in (np.nextafter(threshold, -np.inf), threshold,
                      np.nextafter(threshold, np.inf), float(np.float32(threshold))):
            row = x[len(probes) % len(x)].copy()
            row[feature] = value
            probes.append(row)
    probes_arr = np.asarray(probes)
    got = executor.run({"X": probes_arr})["predictions"][:, 0]
    np.testing.assert_array_equal(got, model.predict(probes_arr))


def test_float32_split_thresholds_exhaustive_neighbourhood() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=5000).astype(np.float32)
    b = np.nextafter(a, np.float32(np.inf))
    t = np.concatenate([(a.astype(np.float64) + b) / 2, rng.normal(size=5000), [0.0, np.inf]])
    u = float32_split_thresholds(t)
    for start in (t, u):
        x = start
        for _ in range(3):
            x = np.nextafter(x, -np.inf)
        for _ in range(7):
            with np.errstate(over="ignore"):
                np.testing.assert_array_equal(x <= u, x.astype(np.float32) <= t)
                x = np.nextafter(x, np.inf)


def test_unsupported_estimator_names_class_and_supported(converter) -> None:
    from sklearn.neighbors import KNeighborsRegressor

    x, y, _ = DATA["binary"]
    with pytest.raises(ConversionError) as err:
        converter.convert(KNeighborsRegressor().fit(x, y), x)  # Core ML has no k-NN regressor
    assert "KNeighborsRegressor" in err.value.message
    assert "RandomForestClassifier" in err.value.hint and "HistGradientBoosting" in err.value.hint


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_knn_classifier_matches_predict_on_unseen_rows(converter, weights: str) -> None:
    """kNearestNeighborsClassifier: labels only; the executor follows the spec's vote."""
    from sklearn.datasets import load_wine
    from sklearn.neighbors import KNeighborsClassifier

    X, y = load_wine(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[40:], order[:40]
    model = KNeighborsClassifier(n_neighbors=7, weights=weights).fit(X[train], y[train])
    conv = converter.convert(model, X[train][:8])
    assert conv.model.get_spec().WhichOneof("Type") == "kNearestNeighborsClassifier"
    assert list(conv.output_map) == ["label"]
    out = ClassicExecutor(conv.model.get_spec()).run({"X": X[test]})
    np.testing.assert_array_equal(out["classLabel"], model.predict(X[test]))


def test_knn_with_another_metric_is_refused(converter) -> None:
    from sklearn.neighbors import KNeighborsClassifier

    x, y, _ = DATA["binary"]
    with pytest.raises(ConversionError, match="Euclidean"):
        converter.convert(KNeighborsClassifier(metric="manhattan").fit(x, y), x)


def test_subclass_of_a_supported_estimator_converts_and_checks(converter) -> None:
    """The lowering is looked up along the class's MRO, so subclasses convert as the parent."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import interop

    class MyLR(LogisticRegression):
        pass

    class MyScaler(StandardScaler):
        pass

    x, y, x_test = DATA["binary"]
    model = _fit(MyLR, x, y)
    conv = interop.convert(model, to="coreml", example_inputs=x[:8])
    assert conv.converter == "sklearn.coreml"
    report = interop.check(model, conv, latency=False)
    assert report.passed, report.to_dict()["parity"]
    assert conv.model.get_spec().WhichOneof("Type") == "glmClassifier"

    pipeline = _fit(lambda: make_pipeline(MyScaler(), MyLR()), x, y)
    spec = converter.convert(pipeline, x[:16]).model.get_spec()
    kinds = [m.WhichOneof("Type") for m in spec.pipelineClassifier.pipeline.models]
    assert kinds == ["scaler", "glmClassifier"]
    out = ClassicExecutor(spec).run({"X": x_test})
    np.testing.assert_array_equal(out["classLabel"], pipeline.predict(x_test))
    np.testing.assert_allclose(out["classProbability"], pipeline.predict_proba(x_test),
                               atol=DOUBLE_TOLERANCE.atol, rtol=DOUBLE_TOLERANCE.rtol)


def test_unsupported_base_estimator_of_calibration_lists_the_supported_ones(converter) -> None:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.tree import DecisionTreeClassifier

    x, y, _ = DATA["binary"]
    model = _fit(lambda: CalibratedClassifierCV(DecisionTreeClassifier(max_depth=3),
                                                ensemble=False), x, y)
    with pytest.raises(ConversionError, match="as the base estimator") as err:
        converter.convert(model, x)
    assert "DecisionTreeClassifier" in err.value.message
    assert err.value.hint == "supported: LogisticRegression, LinearSVC, SVC, NuSVC"


def test_unsupported_settings_are_named(converter) -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.preprocessing import MinMaxScaler

    x, y, _ = DATA["regression"]
    with pytest.raises(ConversionError, match="clip=True"):
        converter.convert(MinMaxScaler(clip=True).fit(x), x)
    poisson = HistGradientBoostingRegressor(loss="poisson", max_iter=3)
    with pytest.raises(ConversionError, match="loss='poisson'"):
        converter.convert(poisson.fit(x, np.abs(y)), x)


def test_bad_inputs_are_invalid_input(converter) -> None:
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    x, y, _ = DATA["regression"]
    with pytest.raises(InvalidInput, match="not fitted"):
        converter.convert(LinearRegression(), x)
    model = LinearRegression().fit(x, y)
    with pytest.raises(InvalidInput, match="example_inputs"):
        converter.convert(model, None)
    with pytest.raises(InvalidInput, match="fitted on 6"):
        converter.convert(model, x[:, :4])
    with pytest.raises(InvalidInput, match="DataFrame"):
        converter.convert(model, pd.DataFrame(x))
    with pytest.raises(InvalidInput, match="precision"):
        converter.convert(model, x, precision="fp16")


def _frame_model():
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(11)
    n = 260
    frame = pd.DataFrame({
        "age": rng.normal(40, 12, n).round(1),
        "city": rng.choice(["Lyon", "Oslo", "Quito"], n),
        "seats": rng.integers(1, 5, n),
        "income": rng.lognormal(10, 0.5, n),
    })
    frame.loc[rng.random(n) < 0.1, "age"] = np.nan
    target = ((frame["city"] == "Oslo") * 1.0 + 0.3 * frame["seats"]
              + rng.normal(0, 0.5, n) > 1.2).astype(int).to_numpy()
    encode = ColumnTransformer(
        [("numeric", make_pipeline(SimpleImputer(), StandardScaler()), ["age", "income"]),
         ("categories", OneHotEncoder(handle_unknown="ignore"), ["city", "seats"])]
    )
    model = make_pipeline(encode, GradientBoostingClassifier(n_estimators=15, random_state=0))
    model = _fit(lambda: model, frame.iloc[:200], target[:200])
    return model, frame.iloc[200:].reset_index(drop=True)


def test_dataframe_column_transformer_one_input_per_column(converter) -> None:
    model, test = _frame_model()
    conv = converter.convert(model, test.iloc[:8])
    assert conv.input_layout == "dataframe"
    assert [(s.name, s.dtype) for s in conv.input_specs] == [
        ("age", "float64"), ("city", "object"), ("seats", "int64"), ("income", "float64")]
    spec = conv.model.get_spec()
    assert [i.type.WhichOneof("Type") for i in spec.description.input] == [
        "multiArrayType", "stringType", "int64Type", "multiArrayType"]
    feed = {c: test[[c]].to_numpy() for c in test.columns}
    feed["city"] = feed["city"].astype(object)
    out = ClassicExecutor(spec).run(feed)
    np.testing.assert_array_equal(out["classLabel"], model.predict(test))
    np.testing.assert_allclose(out["classProbability"], model.predict_proba(test),
                               atol=DOUBLE_TOLERANCE.atol, rtol=DOUBLE_TOLERANCE.rtol)
    unseen = dict(feed, city=np.array([["Paris"]] * len(test), dtype=object))
    ref = test.assign(city="Paris")
    np.testing.assert_allclose(ClassicExecutor(spec).run(unseen)["classProbability"],
                               model.predict_proba(ref), atol=1e-9, rtol=1e-9)


def test_public_convert_and_check_through_the_coreml_runtime() -> None:
    """interop.convert validates against the sklearn runtime; check reports no latency."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    import interop

    x, y, _ = DATA["multi"]
    model = _fit(lambda: HistGradientBoostingClassifier(max_iter=10, random_state=0), x, y)
    conv = interop.convert(model, to="coreml", example_inputs=x[:8])
    assert conv.converter == "sklearn.coreml"
    assert conv.validation["passed"]
    report = interop.check(model, conv, latency=False)
    data = report.to_dict()
    assert data["passed"], data
    assert data["runtime"] == "coreml-reference"
    worst = max(p["max_abs_error"] or 0.0 for p in data["parity"])
    assert worst < DOUBLE_TOLERANCE.atol
    frame_model, frame = _frame_model()
    frame_report = interop.check(
        frame_model, interop.convert(frame_model, to="coreml", example_inputs=frame.iloc[:8]),
        latency=False,
    )
    assert frame_report.passed, frame_report.to_dict()["parity"]
