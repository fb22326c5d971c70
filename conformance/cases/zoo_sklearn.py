"""The zoo tier's scikit-learn part: models people deploy, fitted on datasets that ship with
scikit-learn (and, through the interop-boosting plugin, XGBoost and LightGBM).

Beside the GLMs, trees, SVMs, k-NN and MLPs, three cases are the inputs issue 17 is about:
documents as a list of strings (TF-IDF), a DataFrame with text categories (one-hot), and
HistGradientBoosting with native categorical splits. ``SMOKE`` is what ``make test`` runs.
"""

from __future__ import annotations

from typing import Any

from conformance.cases import Case
from conformance.cases.sklearn_models import _breast_cancer, _diabetes, _fit, _iris, _wine

NO_TEXT_SPEC = "Core ML has no text vectorizer spec (TF-IDF, counts, hashing)"
NO_BOOSTING_COREML = "no Core ML converter for this framework (the plugin targets ONNX only)"
DOCS = [
    "the cat sat on the mat", "dogs chase cats", "a bird sings at dawn",
    "the dog barks loudly", "cats purr softly", "birds fly south", "my cat likes fish",
    "the dog fetched the stick", "small bird nest", "cat and dog play",
    "singing birds at dusk", "the old dog sleeps", "a cat naps in the sun",
    "the puppy chews a shoe", "an owl hoots at night", "birds build nests in spring",
]
DOC_LABELS = [0, 1, 2, 1, 0, 2, 0, 1, 2, 0, 2, 1, 0, 1, 2, 2]


def _frame(rows: int, seed: int = 0) -> Any:
    """Wine features plus a text ``region`` column with missing values."""
    import numpy as np
    import pandas as pd

    X, y = _wine()
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(X[:, :5], columns=["alcohol", "malic", "ash", "alcalinity", "mg"])
    regions = np.asarray(["north", "south", "east", "west", "coast"], dtype=object)
    frame["region"] = regions[(y + rng.integers(0, 3, len(y))) % 5]
    frame.loc[rng.random(len(y)) < 0.05, "region"] = None
    return frame.iloc[:rows] if rows else frame, y


def tfidf_logistic() -> tuple[Any, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(DOCS, DOC_LABELS)
    return model, DOCS[:8]


def frame_one_hot_logistic() -> tuple[Any, Any]:
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame, y = _frame(0)
    frame["region"] = frame["region"].fillna("unknown")
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["region"]),
            (StandardScaler(), ["alcohol", "malic", "ash", "alcalinity", "mg"]),
        ),
        LogisticRegression(max_iter=500),
    )
    model.fit(frame.iloc[8:], y[8:])
    return model, frame.iloc[:8]


def hgb_native_categorical() -> tuple[Any, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    frame, y = _frame(0)
    model = HistGradientBoostingClassifier(categorical_features=["region"], max_iter=20,
                                           random_state=0)
    with threadpool_limits(limits=1):
        model.fit(frame.iloc[8:], y[8:])
    return model, frame.iloc[:8]


def knn_iris() -> tuple[Any, Any]:
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return _fit(make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5)), *_iris())


def random_forest_breast_cancer() -> tuple[Any, Any]:
    from sklearn.ensemble import RandomForestClassifier

    return _fit(RandomForestClassifier(n_estimators=20, random_state=0), *_breast_cancer())


def mlp_digits() -> tuple[Any, Any]:
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    model = make_pipeline(StandardScaler(), MLPClassifier((32,), max_iter=60, random_state=0))
    return _fit(model, X, y)


def svr_diabetes() -> tuple[Any, Any]:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    return _fit(make_pipeline(StandardScaler(), SVR()), *_diabetes(standardised=True))


def ridge_diabetes() -> tuple[Any, Any]:
    from sklearn.linear_model import Ridge

    return _fit(Ridge(), *_diabetes())


def xgboost_breast_cancer() -> tuple[Any, Any]:
    from xgboost import XGBClassifier

    return _fit(XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1), *_breast_cancer())


def lightgbm_diabetes() -> tuple[Any, Any]:
    from lightgbm import LGBMRegressor

    model = LGBMRegressor(n_estimators=20, num_leaves=8, n_jobs=1, verbose=-1)
    return _fit(model, *_diabetes(standardised=True))


CASES = [
    Case("zoo_sk_tfidf_logistic", "sklearn", tfidf_logistic, ("text", "pipeline"),
         skip={"coreml": NO_TEXT_SPEC}),
    Case("zoo_sk_frame_one_hot_logistic", "sklearn", frame_one_hot_logistic,
         ("dataframe", "pipeline")),
    Case("zoo_sk_hgb_native_categorical", "sklearn", hgb_native_categorical,
         ("dataframe", "categorical")),
    Case("zoo_sk_knn_iris", "sklearn", knn_iris, ("pipeline",)),
    Case("zoo_sk_random_forest_breast_cancer", "sklearn", random_forest_breast_cancer),
    Case("zoo_sk_mlp_digits", "sklearn", mlp_digits, ("pipeline",)),
    Case("zoo_sk_svr_diabetes", "sklearn", svr_diabetes, ("pipeline",)),
    Case("zoo_sk_ridge_diabetes", "sklearn", ridge_diabetes),
    Case("zoo_sk_xgboost_breast_cancer", "xgboost", xgboost_breast_cancer,
         skip={"coreml": NO_BOOSTING_COREML}),
    Case("zoo_sk_lightgbm_diabetes", "lightgbm", lightgbm_diabetes,
         skip={"coreml": NO_BOOSTING_COREML}),
]
SMOKE = [
    "zoo_sk_tfidf_logistic",
    "zoo_sk_frame_one_hot_logistic",
    "zoo_sk_hgb_native_categorical",
    "zoo_sk_knn_iris",
]
# The XGBoost and LightGBM cases need the interop-boosting plugin, which `make test` does not
# install (its own tests run in `nox -s plugins`); they run in the full zoo (`nox -s zoo`).
