"""What the scikit-learn converters and runtime both need to know about a fitted model.

Importing this module imports neither scikit-learn nor pandas: models and frames are
recognised by their class names and attributes, and the few functions that need
scikit-learn import it when called.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def is_dataframe(sample: Any) -> bool:
    """True for a pandas DataFrame (recognised without importing pandas)."""
    return type(sample).__name__ == "DataFrame" and hasattr(sample, "columns")


def selects_columns_by_name(model: Any) -> bool:
    """True when the model (or its first pipeline step) is a ColumnTransformer.

    Such a model picks DataFrame columns by name, so it takes one input per column.
    """
    first = model
    while type(first).__name__ == "Pipeline" and getattr(first, "steps", None):
        first = first.steps[0][1]
    return type(first).__name__ == "ColumnTransformer"


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
