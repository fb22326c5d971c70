"""scikit-learn conformance cases: bundled datasets, fixed seeds, 8 held-out example rows.

Every model is fitted on a dataset without its 8 example rows, so k-NN and trees meet rows
they have not memorised (no zero-distance neighbours, no duplicated-row ties).

Regressors with many summed terms (gradient boosting, MLPs, extra trees, SVR) are fitted on the
diabetes target standardised to mean 0 and std 1, as is usual in practice: the ONNX models
compute in float32, and on the raw target (25..346) their float32 accumulation alone
reaches 3e-5..1.4e-4, which says nothing about the conversion. The raw-target route is
``dtype="float64"`` (tests/test_sklearn_onnx.py checks it on GradientBoostingRegressor).
"""

from __future__ import annotations

from typing import Any

from conformance.cases import Case

BATCH = 8


def _split(X: Any, y: Any, seed: int = 0) -> tuple[Any, Any, Any]:
    """(X_train, y_train, X_example): 8 rows drawn with ``seed`` are held out as examples."""
    import numpy as np

    order = np.random.default_rng(seed).permutation(len(X))
    example, train = order[:BATCH], order[BATCH:]
    return X[train], y[train], X[example]


def _fit(model: Any, X: Any, y: Any, seed: int = 0) -> tuple[Any, Any]:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    X_train, y_train, X_example = _split(X, y, seed)
    # one thread: OpenMP fitting (HistGradientBoosting) crawls on a shared, busy machine
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        # small iteration budgets keep the suite fast; convergence is irrelevant to parity
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    return model, X_example


def _iris() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


def _wine() -> tuple[Any, Any]:
    from sklearn.datasets import load_wine

    return load_wine(return_X_y=True)


def _breast_cancer() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(return_X_y=True)


def _diabetes(standardised: bool = False) -> tuple[Any, Any]:
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    if standardised:
        y = (y - y.mean()) / y.std()
    return X, y


def linear_regression() -> tuple[Any, Any]:
    from sklearn.linear_model import LinearRegression

    return _fit(LinearRegression(), *_diabetes())


def ridge() -> tuple[Any, Any]:
    from sklearn.linear_model import Ridge

    return _fit(Ridge(alpha=0.5), *_diabetes())


def logistic_binary() -> tuple[Any, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    return _fit(model, *_breast_cancer())


def logistic_multinomial() -> tuple[Any, Any]:
    from sklearn.linear_model import LogisticRegression

    # scikit-learn >= 1.5 fits multinomial (softmax) by default for more than two classes
    return _fit(LogisticRegression(max_iter=1000), *_iris())


def svc_rbf() -> tuple[Any, Any]:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return _fit(make_pipeline(StandardScaler(), SVC(C=2.0)), *_wine())


def svc_calibrated() -> tuple[Any, Any]:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    # SVC(probability=True) is deprecated in scikit-learn 1.9; this is its replacement
    model = make_pipeline(StandardScaler(), CalibratedClassifierCV(SVC(), ensemble=False))
    return _fit(model, *_breast_cancer())


def svr() -> tuple[Any, Any]:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    return _fit(make_pipeline(StandardScaler(), SVR(C=5.0)), *_diabetes(standardised=True))


def linear_svc() -> tuple[Any, Any]:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    return _fit(make_pipeline(StandardScaler(), LinearSVC()), *_wine())


def knn_classifier() -> tuple[Any, Any]:
    from sklearn.datasets import make_classification
    from sklearn.neighbors import KNeighborsClassifier

    # two classes and an odd k: a vote can never tie
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, random_state=3)
    return _fit(KNeighborsClassifier(n_neighbors=5), X, y)


def knn_regressor() -> tuple[Any, Any]:
    from sklearn.neighbors import KNeighborsRegressor

    return _fit(KNeighborsRegressor(n_neighbors=7, weights="distance"), *_diabetes())


def decision_tree() -> tuple[Any, Any]:
    from sklearn.tree import DecisionTreeClassifier

    return _fit(DecisionTreeClassifier(max_depth=5, random_state=0), *_wine())


def random_forest() -> tuple[Any, Any]:
    from sklearn.ensemble import RandomForestClassifier

    # pure leaves, two classes and an odd tree count: averaged probabilities never tie
    model = RandomForestClassifier(n_estimators=25, random_state=0)
    return _fit(model, *_breast_cancer())


def extra_trees() -> tuple[Any, Any]:
    from sklearn.ensemble import ExtraTreesRegressor

    model = ExtraTreesRegressor(n_estimators=30, max_depth=8, random_state=0)
    return _fit(model, *_diabetes(standardised=True))


def gradient_boosting_classifier() -> tuple[Any, Any]:
    from sklearn.ensemble import GradientBoostingClassifier

    model = GradientBoostingClassifier(n_estimators=40, max_depth=2, random_state=0)
    return _fit(model, *_wine())


def gradient_boosting_regressor() -> tuple[Any, Any]:
    from sklearn.ensemble import GradientBoostingRegressor

    model = GradientBoostingRegressor(n_estimators=100, random_state=0)
    return _fit(model, *_diabetes(standardised=True))


def hist_gradient_boosting_classifier() -> tuple[Any, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=40, random_state=0)
    return _fit(model, *_breast_cancer())


def hist_gradient_boosting_regressor() -> tuple[Any, Any]:
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(max_iter=60, random_state=0)
    return _fit(model, *_diabetes(standardised=True))


def mlp_classifier() -> tuple[Any, Any]:
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    model = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), max_iter=60, random_state=0)
    )
    return _fit(model, X, y)


def mlp_regressor() -> tuple[Any, Any]:
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(
        StandardScaler(),
        MLPRegressor(hidden_layer_sizes=(32, 16), max_iter=200, random_state=0),
    )
    return _fit(model, *_diabetes(standardised=True))


def imputer_pca_pipeline() -> tuple[Any, Any]:
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.decomposition import PCA
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(
        n_samples=400, n_features=10, n_informative=6, n_classes=3, random_state=5
    )
    rng = np.random.default_rng(5)
    X[rng.random(X.shape) < 0.1] = np.nan  # the example rows carry NaNs too
    model = make_pipeline(
        SimpleImputer(strategy="median"),
        StandardScaler(),
        PCA(n_components=5, random_state=0),
        LogisticRegression(max_iter=500),
    )
    return _fit(model, X, y)


def scaler_pca_transform() -> tuple[Any, Any]:
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _wine()
    return _fit(make_pipeline(StandardScaler(), PCA(n_components=4)), X, y)


def dataframe_column_transformer() -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(11)
    n = 300
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 12, n).round(1),
            "income": rng.lognormal(10, 0.5, n).round(2),
            "city": rng.choice(["Lyon", "Oslo", "Quito", "Accra"], n),
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "seats": rng.integers(1, 5, n),
        }
    )
    frame.loc[rng.random(n) < 0.1, "age"] = np.nan
    score = (
        0.05 * frame["age"].fillna(40)
        + (frame["city"] == "Oslo") * 1.5
        + (frame["plan"] == "pro") * 1.0
        + 0.3 * frame["seats"]
        + rng.normal(0, 0.7, n)
    )
    target = (score > score.median()).astype(int).to_numpy()
    numeric = make_pipeline(SimpleImputer(strategy="mean"), StandardScaler())
    encode = ColumnTransformer(
        [
            ("numeric", numeric, ["age", "income"]),
            ("categories", OneHotEncoder(handle_unknown="ignore"), ["city", "plan", "seats"]),
        ]
    )
    model = make_pipeline(encode, RandomForestClassifier(n_estimators=15, random_state=0))
    order = np.random.default_rng(0).permutation(n)
    example, train = order[:BATCH], order[BATCH:]
    model.fit(frame.iloc[train], target[train])
    return model, frame.iloc[example].reset_index(drop=True)


CASES: list[Case] = [
    Case("sk_linear_regression", "sklearn", linear_regression, tags=("linear", "regressor")),
    Case("sk_ridge", "sklearn", ridge, tags=("linear", "regressor")),
    Case(
        "sk_logistic_binary",
        "sklearn",
        logistic_binary,
        tags=("linear", "classifier", "pipeline", "scaler"),
    ),
    Case(
        "sk_logistic_multinomial", "sklearn", logistic_multinomial, tags=("linear", "classifier")
    ),
    Case("sk_svc_rbf", "sklearn", svc_rbf, tags=("svm", "classifier", "pipeline")),
    Case(
        "sk_svc_calibrated", "sklearn", svc_calibrated, tags=("svm", "classifier", "pipeline")
    ),
    Case("sk_svr", "sklearn", svr, tags=("svm", "regressor", "pipeline")),
    Case("sk_linear_svc", "sklearn", linear_svc, tags=("svm", "classifier", "pipeline")),
    Case(
        "sk_knn_classifier", "sklearn", knn_classifier, tags=("neighbors", "classifier"),
        skip={"coreml": "Core ML's k-NN classifier tie and probability rules cannot be "
              "checked off a Mac, so interop does not emit it"},
    ),
    Case(
        "sk_knn_regressor", "sklearn", knn_regressor, tags=("neighbors", "regressor"),
        skip={"coreml": "Core ML has no k-NN regressor spec"},
    ),
    Case("sk_decision_tree", "sklearn", decision_tree, tags=("tree", "classifier")),
    Case("sk_random_forest", "sklearn", random_forest, tags=("tree", "ensemble", "classifier")),
    Case("sk_extra_trees", "sklearn", extra_trees, tags=("tree", "ensemble", "regressor")),
    Case(
        "sk_gradient_boosting_classifier",
        "sklearn",
        gradient_boosting_classifier,
        tags=("boosting", "classifier"),
    ),
    Case(
        "sk_gradient_boosting_regressor",
        "sklearn",
        gradient_boosting_regressor,
        tags=("boosting", "regressor"),
    ),
    Case(
        "sk_hist_gradient_boosting_classifier",
        "sklearn",
        hist_gradient_boosting_classifier,
        tags=("boosting", "classifier"),
    ),
    Case(
        "sk_hist_gradient_boosting_regressor",
        "sklearn",
        hist_gradient_boosting_regressor,
        tags=("boosting", "regressor"),
    ),
    Case("sk_mlp_classifier", "sklearn", mlp_classifier, tags=("mlp", "classifier", "pipeline")),
    Case("sk_mlp_regressor", "sklearn", mlp_regressor, tags=("mlp", "regressor", "pipeline")),
    Case(
        "sk_imputer_pca_pipeline",
        "sklearn",
        imputer_pca_pipeline,
        tags=("pipeline", "imputer", "pca", "nan", "classifier"),
    ),
    Case(
        "sk_scaler_pca_transform",
        "sklearn",
        scaler_pca_transform,
        tags=("pipeline", "pca", "transformer"),
    ),
    Case(
        "sk_dataframe_column_transformer",
        "sklearn",
        dataframe_column_transformer,
        tags=("pipeline", "dataframe", "onehot", "imputer", "classifier"),
    ),
]
