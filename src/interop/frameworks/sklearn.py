"""What the scikit-learn converters and runtime both need to know about a fitted model.

Importing this module imports neither scikit-learn nor pandas: models and frames are
recognised by their class names and attributes, and the few functions that need
scikit-learn import it when called.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


def is_dataframe(sample: Any) -> bool:
    """True for a pandas DataFrame (recognised without importing pandas)."""
    return type(sample).__name__ == "DataFrame" and hasattr(sample, "columns")


def selects_columns_by_name(model: Any) -> bool:
    """True when the model (or its first pipeline step) is a ColumnTransformer.

    Such a model picks DataFrame columns by name, so it takes one input per column.
    """
    return type(_first_step(model)).__name__ == "ColumnTransformer"


TEXT_VECTORIZERS = frozenset({"CountVectorizer", "TfidfVectorizer", "HashingVectorizer"})
TEXT_STEPS = TEXT_VECTORIZERS | {"TfidfTransformer"}


def _first_step(model: Any) -> Any:
    first = model
    while type(first).__name__ == "Pipeline" and getattr(first, "steps", None):
        first = first.steps[0][1]
    return first


def _is_a(estimator: Any, names: frozenset[str]) -> bool:
    return any(cls.__name__ in names for cls in type(estimator).__mro__)


def takes_text(model: Any) -> bool:
    """True when the model (or its first pipeline step) is a text vectorizer.

    Such a model takes X as scikit-learn's vectorizers do: a 1-D list or array of strings.
    """
    return _is_a(_first_step(model), TEXT_VECTORIZERS)


def text_steps(model: Any) -> list[str]:
    """Class names of the text vectorizers (and TF-IDF transformers) nested in ``model``."""
    return [type(e).__name__ for e in nested_estimators(model) if _is_a(e, TEXT_STEPS)]


UNSEEN_WORD = "qzxunseenword"  # a token no vocabulary holds


def text_sample(example_inputs: Any) -> Any:
    """Documents as one ``(N, 1)`` object array of str, from a list, a 1-D array or a Series."""
    import numpy as np

    from interop.errors import InvalidInput

    if isinstance(example_inputs, tuple) and len(example_inputs) == 1:
        example_inputs = example_inputs[0]  # (docs,) as the other converters take it
    if is_dataframe(example_inputs) or example_inputs is None or isinstance(example_inputs, str):
        raise InvalidInput(
            "a model that starts with a text vectorizer takes documents: a list or 1-D array "
            "of strings",
            "pass example_inputs=docs[:8], a list of strings",
        )
    docs = np.asarray(list(np.asarray(example_inputs, dtype=object).reshape(-1)), dtype=object)
    if len(docs) == 0 or np.asarray(example_inputs, dtype=object).ndim > 2:
        raise InvalidInput(
            f"example_inputs has shape {list(np.shape(example_inputs))}; a text vectorizer "
            "takes a non-empty list of documents",
            "pass example_inputs=docs[:8], a list of strings",
        )
    bad = [d for d in docs if not isinstance(d, str)]
    if bad:
        raise InvalidInput(
            f"example_inputs holds {type(bad[0]).__name__} values; a text vectorizer takes str",
            "pass the documents as strings",
        )
    return docs.reshape(-1, 1)


def with_unseen_text(model: Any, docs: Any) -> Any:
    """``docs`` plus documents made of the learned vocabulary, and one with an unseen word.

    Checks resample whole documents from the example, so these put known words in new
    combinations and a word the vectorizer never saw in front of both sides.
    """
    import numpy as np

    vocabulary = getattr(_first_step(model), "vocabulary_", None)
    words = sorted(vocabulary) if vocabulary else sorted(
        {w for d in docs.reshape(-1) for w in str(d).split()}
    )
    words = [w for w in words if " " not in w][:40]  # single words, not n-grams
    made = [" ".join(words[i::3]) for i in range(min(3, len(words)))]
    made.append(" ".join([*words[:2], UNSEEN_WORD]).upper())
    extra = np.asarray(made, dtype=object).reshape(-1, 1)
    return np.concatenate([docs, extra]) if len(extra) else docs


def fitted_columns(model: Any) -> list[str]:
    """The column names the model was fitted with (empty when fitted on an array)."""
    names = getattr(model, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else []


def check_fitted(model: Any) -> None:
    """Raise ``InvalidInput`` unless ``model`` is a fitted scikit-learn estimator."""
    from sklearn.base import BaseEstimator
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    from interop.errors import InvalidInput

    if not isinstance(model, BaseEstimator):
        raise InvalidInput(
            f"a {type(model).__name__} is not a scikit-learn estimator",
            "pass a fitted estimator or Pipeline",
        )
    try:
        check_is_fitted(model)
    except NotFittedError:
        raise InvalidInput(
            f"the {type(model).__name__} is not fitted",
            "call .fit(X, y) on it before converting",
        ) from None


def nested_estimators(model: Any) -> Iterator[Any]:
    """The model and every estimator nested in it (pipeline steps, column transformers)."""
    from sklearn.base import BaseEstimator

    yield model
    for value in model.get_params(deep=True).values():
        if isinstance(value, BaseEstimator):
            yield value


# -------------------------------------------------------------------- native categorical HGB


@dataclass(frozen=True)
class SplitFeature:
    """One categorical split of a HistGradientBoosting model as a numeric feature.

    A raw value equal to ``keys[i]`` becomes ``values[i]`` (0.0: the left child, 1.0: the
    right child); any other value (missing, negative, unseen) becomes ``default``, which the
    split ``f <= 0.5`` sends where scikit-learn sends missing values: -1.0 left, 2.0 right.
    """

    column: int  # position of the raw column in X (the DataFrame's column order)
    keys: tuple[Any, ...]
    values: tuple[float, ...]
    default: float


@dataclass(frozen=True)
class CategoricalPlan:
    """A HistGradientBoosting model with categorical splits, rewritten over numeric features.

    ``model`` is a copy whose trees read ``[X[:, numeric_columns], split features...]`` and
    split on every feature with ``<=``; the caller's model is never modified.
    """

    model: Any
    numeric_columns: tuple[int, ...]
    splits: tuple[SplitFeature, ...]

    @property
    def width(self) -> int:
        return len(self.numeric_columns) + len(self.splits)


def has_categorical_splits(model: Any) -> bool:
    """True for a fitted HistGradientBoosting model with native categorical features."""
    flags = getattr(model, "is_categorical_", None)
    return hasattr(model, "_predictors") and flags is not None and bool(any(flags))


def categorical_plan(model: Any) -> CategoricalPlan:
    """Lower the bitset splits of ``model`` (see ``has_categorical_splits``) to ``<=`` splits.

    scikit-learn's rule (``_predictor.pyx``): the column goes through an OrdinalEncoder whose
    unknown and missing values become NaN; at a categorical split a NaN or negative code goes
    where missing values go, a code in the split's left bitset goes left, another known code
    goes right, and an unknown code goes where missing values go. Each distinct split becomes
    one feature that encodes that decision from the raw value (``SplitFeature``).
    """
    import copy

    import numpy as np

    flags = np.asarray(model.is_categorical_, dtype=bool)
    raw_categorical = [int(i) for i in np.flatnonzero(flags)]
    numeric = tuple(int(i) for i in np.flatnonzero(~flags))
    encoder = model._preprocessor.named_transformers_["encoder"]
    # the preprocessor puts the encoded categorical columns first, then the numeric ones
    splits: dict[tuple[Any, ...], int] = {}
    features: list[SplitFeature] = []
    clone = copy.deepcopy(model)
    for iteration in clone._predictors:
        for predictor in iteration:
            nodes = predictor.nodes.copy()
            for row in nodes:
                if row["is_leaf"]:
                    continue
                index = int(row["feature_idx"])
                if not row["is_categorical"]:
                    row["feature_idx"] = index - len(raw_categorical)
                    continue
                bitset = predictor.raw_left_cat_bitsets[int(row["bitset_idx"])]
                split = _split_feature(
                    raw_categorical[index], encoder.categories_[index], bitset,
                    bool(row["missing_go_to_left"]),
                )
                key = (split.column, split.values, split.default)
                if key not in splits:
                    splits[key] = len(numeric) + len(features)
                    features.append(split)
                row["feature_idx"] = splits[key]
                row["num_threshold"] = 0.5
                row["is_categorical"] = 0
            predictor.nodes = nodes
    clone._preprocessor = None
    clone.is_categorical_ = None
    clone._is_categorical_remapped = None
    clone.n_features_in_ = len(numeric) + len(features)
    if hasattr(clone, "feature_names_in_"):
        del clone.feature_names_in_
    return CategoricalPlan(clone, numeric, tuple(features))


def _split_feature(column: int, categories: Any, bitset: Any, missing_left: bool) -> SplitFeature:
    keys, values = [], []
    for code, category in enumerate(categories):
        if category is None or (isinstance(category, float) and category != category):
            continue  # the missing-value category: encoded as NaN, so it is missing
        left = (int(bitset[code // 32]) >> (code % 32)) & 1
        keys.append(category.item() if hasattr(category, "item") else category)
        values.append(0.0 if left else 1.0)
    return SplitFeature(column, tuple(keys), tuple(values), -1.0 if missing_left else 2.0)
