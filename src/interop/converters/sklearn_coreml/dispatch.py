"""The one table from scikit-learn class to Core ML lowering, and the walk through models.

A model's lowering is the first table entry along ``type(model).__mro__``, so a subclass of a
supported estimator converts as its parent does (and is then checked like any other model).
The table names classes as ``module:Class`` strings and imports them on first use. The
composites that look their parts up in the same table (Pipeline, ColumnTransformer,
CalibratedClassifierCV) live here too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import interop.converters.sklearn_coreml.hgb_categorical as hgb_categorical
import interop.converters.sklearn_coreml.linear as linear
import interop.converters.sklearn_coreml.neighbors as neighbors
import interop.converters.sklearn_coreml.neural as neural
import interop.converters.sklearn_coreml.preprocessing as preprocessing
import interop.converters.sklearn_coreml.svm as svm
import interop.converters.sklearn_coreml.trees as trees
from interop._lazy import LazyModule
from interop.converters.sklearn_coreml.spec import Builder, Feature, Fill, Frame, Head, unsupported
from interop.errors import ConversionError
from interop.frameworks.sklearn import check_fitted
from interop.util import import_ref

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")


@dataclass(frozen=True)
class Lowering:
    """How one scikit-learn class becomes Core ML sub-models.

    ``lower`` by role: a classifier's ``(builder, model, feature, classes) -> Head``, a
    regressor's ``(builder, model, feature) -> Head``, a transformer's ``(builder, model,
    feature, out) -> Feature``, a pipeline's ``(model) -> steps``.
    """

    cls: str  # "module:Class", imported when the table is first used
    role: str  # "classifier", "regressor", "transformer" or "pipeline"
    lower: Callable[..., Any]
    decision: Callable[..., Feature] | None = None  # binary decision_function, for calibration
    columns: Callable[..., Feature] | None = None  # reads DataFrame columns, text included
    reads_frame: bool = False  # takes a DataFrame's columns rather than one numeric vector

    @property
    def name(self) -> str:
        return self.cls.rpartition(":")[2]


def lowering_for(model: Any) -> Lowering | None:
    """The table entry of the nearest supported class in the model's MRO, if any."""
    table = _by_class()
    for cls in type(model).__mro__:
        entry = table.get(cls)
        if entry is not None:
            return entry
    return None


def not_supported(model: Any, why: str = "", among: tuple[str, ...] = ()) -> ConversionError:
    """No lowering for the model's class (in this position)."""
    reason = f" ({why})" if why else ""
    return ConversionError(
        f"sklearn.coreml cannot convert {type(model).__name__}{reason}",
        "supported: " + ", ".join(among or SUPPORTED),
    )


def build(b: Builder, model: Any, feature: Feature | Frame) -> Head:
    """Add the models for ``model`` reading ``feature``; the last one gives the outputs."""
    entry = lowering_for(model)
    if isinstance(feature, Frame) and not (entry and entry.reads_frame):
        feature = b.frame_vector(feature, list(feature.columns), model)
    if entry is not None and entry.role == "pipeline":
        steps = entry.lower(model)
        if not steps:
            raise unsupported(model, "a pipeline without steps")
        for step in steps[:-1]:
            feature = transform(b, step, feature)
        return build(b, steps[-1], feature)
    check_fitted(model)
    if entry is None:
        raise not_supported(model)
    if entry.role == "transformer":
        out = transform(b, model, feature, final_name="transform")
        return Head("transformer", out.size, feature=out.name)
    if entry.role == "regressor":
        head: Head = entry.lower(b, model, feature)
        return head
    classes = np.asarray(model.classes_)
    if classes.ndim != 1:
        raise unsupported(model, "multi-output classification")
    head = entry.lower(b, model, feature, classes)
    return head


def transform(b: Builder, model: Any, feature: Feature | Frame, final_name: str = "") -> Feature:
    """Add the models for a transforming step; its output is named ``final_name`` if given."""
    entry = lowering_for(model)
    out = final_name or b.fresh(type(model).__name__.lower())
    if isinstance(feature, Frame) and not (entry and entry.reads_frame):
        feature = b.frame_vector(feature, list(feature.columns), model)
    if entry is not None and entry.role == "pipeline":
        steps = entry.lower(model)
        for i, step in enumerate(steps):
            last = i == len(steps) - 1
            feature = transform(b, step, feature, final_name if last else "")
        assert isinstance(feature, Feature)
        return feature
    check_fitted(model)
    if entry is None or entry.role != "transformer":
        raise not_supported(model, "not a supported transformer in a pipeline")
    result: Feature = entry.lower(b, model, feature, out)
    return result


# -------------------------------------------------------------------- composites


def pipeline_steps(m: Any) -> list[Any]:
    return [est for _, est in m.steps if est not in (None, "passthrough")]


def column_transformer(b: Builder, m: Any, f: Feature | Frame, out: str) -> Feature:
    parts: list[tuple[Feature, Fill]] = []
    for name, trans, columns in m.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        if isinstance(f, Frame):
            selected = [f.column(c) for c in _column_keys(m, columns, len(f.columns), f)]
            if not selected:
                continue
            entry = lowering_for(trans)
            if entry is not None and entry.columns is not None:
                check_fitted(trans)
                result = entry.columns(b, trans, list(selected), b.fresh(f"ct_{name}"))
                parts.append((result, b.array(result.size)))
                continue
            picked = b.frame_vector(f, selected, trans)
        else:
            indices = _column_indices(m, columns, f.size)
            if not indices:
                continue
            picked = b.extract(f, b.fresh(f"ct_{name}"), indices)
        is_passthrough = isinstance(trans, str) and trans == "passthrough"
        result = picked if is_passthrough else transform(b, trans, picked)
        parts.append((result, b.array(result.size)))
    if not parts:
        raise unsupported(m, "it outputs no columns")
    return b.vectorize(parts, out)


def calibrated_classifier(b: Builder, m: Any, f: Feature, classes: np.ndarray) -> Head:
    """Binary sigmoid calibration: the estimator's decision value into a logistic GLM."""
    if len(m.calibrated_classifiers_) != 1:
        raise unsupported(m, "ensemble=True (several calibrated copies); use ensemble=False")
    if m.method != "sigmoid":
        raise unsupported(m, f"method={m.method!r}; only 'sigmoid'")
    if len(classes) != 2:
        raise unsupported(m, "more than two classes (the one-vs-rest decision values of "
                             "an SVC have no Core ML spec)")
    calibrated = m.calibrated_classifiers_[0]
    (calibrator,) = calibrated.calibrators
    decision = _decision_value(b, calibrated.estimator, f)
    spec = b.new_model([(decision.name, b.array(1))], [])
    glm = spec.glmClassifier
    # scikit-learn: P(second class) = 1 / (1 + exp(a * d + b)) = logistic(-a * d - b)
    glm.weights.add().value.append(-float(calibrator.a_))
    glm.offset.append(-float(calibrator.b_))
    return b.classifier_head(spec, classes, probabilities=True)


def _decision_value(b: Builder, est: Any, f: Feature) -> Feature:
    out = b.fresh("decision")
    entry = lowering_for(est)
    if entry is None or entry.decision is None:
        among = tuple(e.name for e in TABLE if e.decision is not None)
        raise not_supported(est, "as the base estimator of CalibratedClassifierCV", among)
    return entry.decision(b, est, f, out)


def _column_keys(ct: Any, columns: Any, width: int, frame: Frame) -> list[Any]:
    """Column names or positions a ColumnTransformer entry selects from a DataFrame."""
    if isinstance(columns, str):
        return [columns]
    cols = np.atleast_1d(np.asarray(columns, dtype=object))
    if cols.size and all(isinstance(c, str) for c in cols):
        return list(cols)
    if callable(columns):
        raise unsupported(ct, "columns chosen by a callable")
    return [frame.columns[i].name for i in _column_indices(ct, columns, width)]


def _column_indices(ct: Any, columns: Any, width: int) -> list[int]:
    if isinstance(columns, slice):
        return list(range(width))[columns]
    cols = np.atleast_1d(np.asarray(columns))
    if cols.size == 0:
        return []
    if cols.dtype == bool:
        return [int(i) for i in np.flatnonzero(cols)]
    if cols.dtype.kind in "iu":
        return [int(i) % width for i in cols]
    raise unsupported(ct, f"columns selected by name ({cols[:3].tolist()}); select by position")


# -------------------------------------------------------------------- the table

_T, _C, _R = "transformer", "classifier", "regressor"
TABLE: tuple[Lowering, ...] = (
    Lowering("sklearn.preprocessing:StandardScaler", _T, preprocessing.standard_scaler),
    Lowering("sklearn.preprocessing:MinMaxScaler", _T, preprocessing.min_max_scaler),
    Lowering("sklearn.preprocessing:MaxAbsScaler", _T, preprocessing.max_abs_scaler),
    Lowering("sklearn.preprocessing:RobustScaler", _T, preprocessing.robust_scaler),
    Lowering("sklearn.preprocessing:Normalizer", _T, preprocessing.normalizer),
    Lowering("sklearn.decomposition:PCA", _T, preprocessing.pca),
    Lowering("sklearn.impute:SimpleImputer", _T, preprocessing.simple_imputer),
    Lowering("sklearn.preprocessing:OneHotEncoder", _T, preprocessing.one_hot_encoder,
             columns=preprocessing.one_hot),
    Lowering("sklearn.compose:ColumnTransformer", _T, column_transformer, reads_frame=True),
    Lowering("sklearn.pipeline:Pipeline", "pipeline", pipeline_steps, reads_frame=True),
    Lowering("sklearn.preprocessing:FunctionTransformer", _T,
             preprocessing.function_transformer),
    Lowering("sklearn.linear_model:LogisticRegression", _C, linear.logistic_regression,
             decision=linear.decision_value),
    Lowering("sklearn.svm:LinearSVC", _C, linear.linear_svc, decision=linear.decision_value),
    Lowering("sklearn.tree:DecisionTreeClassifier", _C, trees.forest_classifier),
    Lowering("sklearn.ensemble:RandomForestClassifier", _C, trees.forest_classifier),
    Lowering("sklearn.ensemble:ExtraTreesClassifier", _C, trees.forest_classifier),
    Lowering("sklearn.ensemble:GradientBoostingClassifier", _C, trees.gb_classifier),
    Lowering("sklearn.ensemble:HistGradientBoostingClassifier", _C,
             hgb_categorical.hgb_classifier, reads_frame=True),
    Lowering("sklearn.svm:SVC", _C, svm.svc, decision=svm.decision_value),
    Lowering("sklearn.svm:NuSVC", _C, svm.svc, decision=svm.decision_value),
    Lowering("sklearn.neural_network:MLPClassifier", _C, neural.mlp_classifier),
    Lowering("sklearn.neighbors:KNeighborsClassifier", _C, neighbors.knn_classifier),
    Lowering("sklearn.calibration:CalibratedClassifierCV", _C, calibrated_classifier),
    Lowering("sklearn.linear_model:LinearRegression", _R, linear.linear_regressor),
    Lowering("sklearn.linear_model:Ridge", _R, linear.linear_regressor),
    Lowering("sklearn.linear_model:Lasso", _R, linear.linear_regressor),
    Lowering("sklearn.linear_model:ElasticNet", _R, linear.linear_regressor),
    Lowering("sklearn.svm:LinearSVR", _R, linear.linear_regressor),
    Lowering("sklearn.tree:DecisionTreeRegressor", _R, trees.forest_regressor),
    Lowering("sklearn.ensemble:RandomForestRegressor", _R, trees.forest_regressor),
    Lowering("sklearn.ensemble:ExtraTreesRegressor", _R, trees.forest_regressor),
    Lowering("sklearn.ensemble:GradientBoostingRegressor", _R, trees.gb_regressor),
    Lowering("sklearn.ensemble:HistGradientBoostingRegressor", _R,
             hgb_categorical.hgb_regressor, reads_frame=True),
    Lowering("sklearn.svm:SVR", _R, svm.svr),
    Lowering("sklearn.svm:NuSVR", _R, svm.svr),
    Lowering("sklearn.neural_network:MLPRegressor", _R, neural.mlp_regressor),
)
SUPPORTED: tuple[str, ...] = tuple(entry.name for entry in TABLE)


@functools.cache
def _by_class() -> dict[type, Lowering]:
    # scikit-learn is imported here, on the first lookup, never when the table is listed
    return {import_ref(entry.cls): entry for entry in TABLE}
