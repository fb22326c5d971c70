"""scikit-learn -> Core ML classic specs, built from fitted estimators' learned attributes.

coremltools 9 switches its own scikit-learn frontend off for scikit-learn newer than 1.5.1, so
this converter writes the Core ML protobuf messages itself (pipeline, scaler, imputer, one-hot,
GLM, tree ensemble, SVM and neural-network specs). The result has one multiarray input ``X``
of float64 features, and outputs ``classLabel`` + ``classProbability`` (classifiers),
``predictions`` (regressors) or ``transform`` (transformers).

Layout: ``converter`` (the entry point), ``dispatch`` (the class table, walked along the
model's MRO, and the composites), ``spec`` (protobuf plumbing), ``inputs``, and one module per
estimator family: ``linear``, ``trees`` (+ ``tree_nodes``), ``svm``, ``neural``,
``preprocessing``. No module imports scikit-learn at import time.
"""

from interop.converters.sklearn_coreml.converter import (
    DOUBLE_TOLERANCE,
    FLOAT32_TOLERANCE,
    SklearnToCoreml,
)
from interop.converters.sklearn_coreml.dispatch import SUPPORTED
from interop.converters.sklearn_coreml.tree_nodes import float32_split_thresholds

__all__ = [
    "DOUBLE_TOLERANCE",
    "FLOAT32_TOLERANCE",
    "SUPPORTED",
    "SklearnToCoreml",
    "float32_split_thresholds",
]
