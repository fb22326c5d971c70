"""Runs a fitted scikit-learn estimator the way its ONNX conversion is compared.

Feeds are keyed by the original's input names: one ``X`` (rows x features; for a text
vectorizer first, ``(N, 1)`` documents, given to the model as a list of str), or, for a model
that picks DataFrame columns by name (a ColumnTransformer first), one ``(N, 1)`` array per
column, rebuilt into a DataFrame in the column order the model was fitted with and with the
dtypes of the example the converter saw. A model fitted on a DataFrame but fed one ``X`` gets
``X`` as a DataFrame with its fitted column names, so scikit-learn does not warn that the
feature names are missing.
Outputs are keyed by the original's output names:

- ``label``: ``predict``; ``probabilities``: ``predict_proba``;
  ``decision_function``: ``decision_function``; ``transform``: ``transform`` (dense);
- ``predictions``: ``predict`` made 2-D, ``(N, n_targets)``, because ONNX regressors return
  ``(N, 1)`` where scikit-learn returns ``(N,)``; comparing the 2-D form keeps the shape check
  honest instead of broadcasting.

Floating inputs are cast to the dtype the original example had (float64 when unknown), so the
original computes as it does on the user's data; float32 feed values are exact in float64.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from interop.errors import InvalidInput
from interop.frameworks.sklearn import fitted_columns, selects_columns_by_name, takes_text
from interop.runtimes.base import Runtime
from interop.types import TensorSpec

if TYPE_CHECKING:  # numpy is imported where it is used: --list loads this module
    import numpy as np

METHODS = {
    "label": "predict",
    "predictions": "predict",
    "probabilities": "predict_proba",
    "decision_function": "decision_function",
    "transform": "transform",
}


class SklearnRuntime(Runtime):
    """A fitted estimator behind the runtime protocol; ``threads`` caps BLAS/OpenMP pools."""

    name = "sklearn"
    format = "sklearn"
    requires = ("sklearn",)
    install_hint = "pip install 'interop[sklearn]'"

    def load(self) -> None:
        self._columns = fitted_columns(self.model)
        # the conversion says how its inputs are laid out; without one, only a model that
        # selects columns by name takes one input per column (as sklearn.onnx converts it)
        if self.conversion is not None:
            self._per_column = bool(self._columns) and self.conversion.input_layout == "dataframe"
        else:
            self._per_column = bool(self._columns) and selects_columns_by_name(self.model)
        self._dtypes = _recorded_dtypes(self.conversion)
        if self.conversion is not None:
            self._text = self.conversion.input_layout == "text"
        else:
            self._text = takes_text(self.model)
        # Inspecting the loaded BLAS/OpenMP libraries costs milliseconds; do it once here,
        # not on every run(), or the timing of fast models measures threadpoolctl.
        from threadpoolctl import ThreadpoolController

        self._controller = ThreadpoolController()
        if self.conversion is not None and self.conversion.input_map:
            self._inputs = list(self.conversion.input_map)
        else:
            self._inputs = list(self._columns) if self._per_column else ["X"]
        if self.conversion is not None and self.conversion.output_map:
            self._outputs = list(self.conversion.output_map)
        else:
            self._outputs = _default_outputs(self.model)

    def input_specs(self) -> tuple[TensorSpec, ...]:
        if self._text:
            return (TensorSpec("X", ("batch", 1), "object"),)
        if self._per_column:
            return tuple(
                TensorSpec(c, ("batch", 1), self._dtypes.get(c, "float64")) for c in self._inputs
            )
        width = getattr(self.model, "n_features_in_", None)
        return (TensorSpec("X", ("batch", width), self._dtypes.get("X", "float64")),)

    def run(self, feed: dict[str, Any]) -> dict[str, np.ndarray]:
        import numpy as np

        missing = [name for name in self._inputs if name not in feed]
        if missing:
            raise InvalidInput(
                f"the feed lacks input(s) {', '.join(missing)}",
                "key the feed by " + ", ".join(self._inputs),
            )
        if self._text:  # documents, as scikit-learn's text vectorizers take them
            data: Any = [str(d) for d in np.asarray(feed["X"]).reshape(-1)]
        elif self._per_column:
            data = self._frame({name: feed[name] for name in self._columns})
        else:
            data = self._array(feed["X"], "X")
            if self._columns:  # fitted on a DataFrame: give it the names it knows
                import pandas as pd

                data = pd.DataFrame(data, columns=self._columns)
        outputs: dict[str, np.ndarray] = {}
        with self._thread_limit():
            for name in self._outputs:
                method = METHODS.get(name)
                if method is None or not hasattr(self.model, method):
                    raise InvalidInput(
                        f"{type(self.model).__name__} has no output {name!r}",
                        "known outputs: " + ", ".join(sorted(METHODS)),
                    )
                outputs[name] = _shaped(name, getattr(self.model, method)(data))
        return outputs

    def _thread_limit(self) -> Any:
        import contextlib

        if not self.threads:
            return contextlib.nullcontext()
        return self._controller.limit(limits=self.threads)

    def _array(self, values: Any, name: str) -> np.ndarray:
        import numpy as np

        array = np.asarray(values)
        dtype = self._dtypes.get(name)
        if dtype in ("object", "category", "string", "str") or (dtype or "").startswith("string"):
            # text and pandas categorical columns go back as Python strings
            return array.astype(object)
        if dtype is not None:
            return array.astype(dtype)
        return array.astype(np.float64) if array.dtype.kind == "f" else array

    def _frame(self, feed: dict[str, Any]) -> Any:
        import pandas as pd

        columns = {name: self._array(values, name).reshape(-1) for name, values in feed.items()}
        return pd.DataFrame(columns, columns=list(self._columns))


def _shaped(name: str, values: Any) -> np.ndarray:
    import numpy as np

    if hasattr(values, "toarray"):  # a sparse transform result
        values = values.toarray()
    array = np.asarray(values)
    if name == "transform" and array.dtype.kind in "iub":
        # counts and codes: exact in float64, and ONNX gives them as floats
        array = array.astype(np.float64)
    if name == "predictions" and array.ndim == 1:
        array = array.reshape(-1, 1)
    return array


def _recorded_dtypes(conversion: Any) -> dict[str, str]:
    provenance = getattr(conversion, "provenance", None) or {}
    raw = provenance.get("interop.input_dtypes") or provenance.get("input_dtypes")
    if not raw:
        return {}
    try:
        return {str(k): str(v) for k, v in json.loads(raw).items()}
    except (ValueError, AttributeError):
        return {}


def _default_outputs(model: Any) -> list[str]:
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(model):
        return ["label", "probabilities"] if hasattr(model, "predict_proba") else ["label"]
    if is_regressor(model):
        return ["predictions"]
    if hasattr(model, "transform"):
        return ["transform"]
    return ["label"]
