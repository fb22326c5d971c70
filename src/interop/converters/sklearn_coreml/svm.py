"""Kernel SVMs (SVC, NuSVC, SVR, NuSVR) as Core ML support-vector specs."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from interop._lazy import LazyModule
from interop.converters.sklearn_coreml.spec import Builder, Feature, Head, unsupported
from interop.frameworks import locks

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")


def svc(b: Builder, m: Any, f: Feature, classes: np.ndarray) -> Head:
    spec = b.model_reading(f)
    with locks.hold("stdio", "probA_"), warnings.catch_warnings():  # process-wide filters
        # probA_ is deprecated with SVC(probability=True); the user was warned at fit.
        warnings.simplefilter("ignore", FutureWarning)
        prob_a = np.asarray(getattr(m, "probA_", ()), dtype=np.float64)
        prob_b = np.asarray(getattr(m, "probB_", ()), dtype=np.float64)
    probabilities = prob_a.size > 0
    _svc_params(m, spec.supportVectorClassifier, len(classes), None)
    if not probabilities:
        return b.classifier_head(spec, classes, probabilities=False)
    # libsvm labels a model with a probability model by the most probable class,
    # scikit-learn by one-vs-one votes: a second SVM gives the probabilities only.
    b.interface_classifier(spec, classes, False)
    spec = b.model_reading(f)
    _svc_params(m, spec.supportVectorClassifier, len(classes), (prob_a, prob_b))
    b.interface_classifier(spec, classes, True, b.fresh("svc_label"))
    return Head("classifier", len(classes), classes.dtype.kind in "iu", True)


def svr(b: Builder, m: Any, f: Feature) -> Head:
    spec, width = b.regressor_model(m, f)
    _svr_params(m, spec.supportVectorRegressor)
    return Head("regressor", width)


def decision_value(b: Builder, m: Any, f: Feature, out: str) -> Feature:
    """A binary SVC's decision_function as a support-vector regressor, in double."""
    spec = b.new_model([(f.name, b.array(f.size))], [(out, b.array(1))])
    _svr_params(m, spec.supportVectorRegressor)
    return Feature(out, 1)


def _svm_common(m: Any, params: Any) -> None:
    kernel = m.kernel
    if kernel == "linear":
        params.kernel.linearKernel.SetInParent()
    elif kernel == "rbf":
        params.kernel.rbfKernel.gamma = float(m._gamma)
    elif kernel == "poly":
        params.kernel.polyKernel.gamma = float(m._gamma)
        params.kernel.polyKernel.c = float(m.coef0)
        params.kernel.polyKernel.degree = int(m.degree)
    elif kernel == "sigmoid":
        params.kernel.sigmoidKernel.gamma = float(m._gamma)
        params.kernel.sigmoidKernel.c = float(m.coef0)
    else:
        raise unsupported(m, f"kernel={kernel!r}")
    if hasattr(m.support_vectors_, "toarray"):
        raise unsupported(m, "a model fitted on sparse input")
    for vector in np.asarray(m.support_vectors_, dtype=np.float64):
        params.denseSupportVectors.vectors.add().values.extend(vector.tolist())


def _svr_params(m: Any, params: Any) -> None:
    """One decision value: ``sum(alpha_i * K(sv_i, x)) - rho``, with scikit-learn's signs."""
    _svm_common(m, params)
    params.coefficients.alpha.extend(np.asarray(m.dual_coef_[0], np.float64).tolist())
    params.rho = -float(np.asarray(m.intercept_).reshape(-1)[0])


def _svc_params(m: Any, params: Any, n_classes: int,
                platt: tuple[np.ndarray, np.ndarray] | None) -> None:
    if getattr(m, "break_ties", False):
        raise unsupported(m, "break_ties=True")
    _svm_common(m, params)
    params.numberOfSupportVectorsPerClass.extend(int(n) for n in m.n_support_)
    dual = np.asarray(m.dual_coef_, dtype=np.float64)
    intercept = np.asarray(m.intercept_, dtype=np.float64)
    if n_classes == 2:
        # scikit-learn flips libsvm's signs for binary problems; Core ML keeps libsvm's.
        dual, rho = -dual, intercept
    else:
        rho = -intercept
    for row in dual:
        params.coefficients.add().alpha.extend(row.tolist())
    params.rho.extend(rho.tolist())
    if platt is not None:
        params.probA.extend(platt[0].tolist())
        params.probB.extend(platt[1].tolist())
