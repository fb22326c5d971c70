"""Linear models: GLM classifier and regressor specs, softmax regression as a one-layer network."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interop._lazy import LazyModule
from interop.converters.sklearn_coreml.neural import network
from interop.converters.sklearn_coreml.spec import Builder, Feature, Head

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")


def logistic_regression(b: Builder, m: Any, f: Feature, classes: np.ndarray) -> Head:
    spec = b.model_reading(f)
    _glm_classifier(b, m, spec, len(classes), softmax=_is_multinomial(m, len(classes)))
    return b.classifier_head(spec, classes, probabilities=True)


def linear_svc(b: Builder, m: Any, f: Feature, classes: np.ndarray) -> Head:
    # LinearSVC has no predict_proba: only its label is an output
    spec = b.model_reading(f)
    _glm_classifier(b, m, spec, len(classes), softmax=False)
    return b.classifier_head(spec, classes, probabilities=False)


def linear_regressor(b: Builder, m: Any, f: Feature) -> Head:
    """LinearRegression, Ridge, Lasso, ElasticNet, LinearSVR: ``coef_ @ x + intercept_``."""
    spec, width = b.regressor_model(m, f)
    coef = np.atleast_2d(np.asarray(m.coef_, dtype=np.float64))
    intercept = np.broadcast_to(np.asarray(m.intercept_, dtype=np.float64), (len(coef),))
    for row in coef:
        spec.glmRegressor.weights.add().value.extend(row.tolist())
    spec.glmRegressor.offset.extend(intercept.tolist())
    return Head("regressor", width)


def decision_value(b: Builder, m: Any, f: Feature, out: str) -> Feature:
    """A binary linear classifier's decision_function, in double."""
    return b.linear_map(f, out, np.asarray(m.coef_, np.float64),
                        np.asarray(m.intercept_, np.float64).reshape(-1))


def _is_multinomial(m: Any, n_classes: int) -> bool:
    return (
        n_classes > 2
        and getattr(m, "multi_class", "multinomial") in ("multinomial", "auto", "deprecated")
        and m.solver != "liblinear"
    )


def _glm_classifier(b: Builder, m: Any, spec: Any, n_classes: int, softmax: bool) -> None:
    coef = np.asarray(m.coef_, dtype=np.float64)
    intercept = np.broadcast_to(np.asarray(m.intercept_, dtype=np.float64), (len(coef),))
    if softmax:
        # GLMClassifier has no softmax: a softmax regression is a one-layer network.
        network(b, spec, [(coef.T, intercept, None)], "softmax", classifier=True)
        return
    from coremltools.proto import GLMClassifier_pb2

    glm = spec.glmClassifier
    for row in coef:
        glm.weights.add().value.extend(row.tolist())
    glm.offset.extend(intercept.tolist())
    glm.postEvaluationTransform = GLMClassifier_pb2.GLMClassifier.Logit
    glm.classEncoding = (GLMClassifier_pb2.GLMClassifier.ReferenceClass if n_classes == 2
                         else GLMClassifier_pb2.GLMClassifier.OneVsRest)
