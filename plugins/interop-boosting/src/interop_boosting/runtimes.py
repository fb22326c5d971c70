"""Native XGBoost / LightGBM predict as interop runtimes: the original side of a check.

Registered as ``xgboost`` and ``lightgbm`` in the ``interop.runtimes`` group. The feed is
keyed by the original's input name (``X``); classifiers return ``label`` and
``probabilities``, regressors ``predictions`` as a (rows, targets) matrix, which is the
shape their ONNX graphs produce.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from interop.sdk import Runtime, TensorSpec


class _NativeRuntime(Runtime):
    """Runs a fitted scikit-learn-API boosting model with a fixed thread count."""

    format = ""

    def load(self) -> None:
        # A copy, so that fixing the thread count never changes the caller's model.
        self._estimator = copy.deepcopy(self.model)
        if self.threads:
            self._estimator.set_params(n_jobs=int(self.threads))
        self._classifier = hasattr(self._estimator, "predict_proba") and hasattr(
            self._estimator, "classes_"
        )
        input_map = getattr(self.conversion, "input_map", None) or {"X": "X"}
        self._input = next(iter(input_map))

    def input_specs(self) -> tuple[TensorSpec, ...]:
        return (TensorSpec(self._input, ("batch", int(self._estimator.n_features_in_)), "float32"),)

    def run(self, feed: dict[str, Any]) -> dict[str, np.ndarray]:
        x = np.asarray(feed[self._input], dtype=np.float32)
        if self._classifier:
            return {
                "label": np.asarray(self._estimator.predict(x)),
                "probabilities": np.asarray(self._estimator.predict_proba(x)),
            }
        return {"predictions": np.asarray(self._estimator.predict(x)).reshape(len(x), -1)}


class XGBoostRuntime(_NativeRuntime):
    """xgboost's own predict / predict_proba."""

    name = "xgboost"
    format = "xgboost"
    requires = ("xgboost",)
    install_hint = "pip install xgboost"


class LightGBMRuntime(_NativeRuntime):
    """lightgbm's own predict / predict_proba."""

    name = "lightgbm"
    format = "lightgbm"
    requires = ("lightgbm",)
    install_hint = "pip install lightgbm"
