"""Decision trees, random and extra forests, (histogram) gradient boosting: tree ensembles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interop._lazy import LazyModule
from interop.converters.sklearn_coreml.spec import Builder, Feature, Head, unsupported
from interop.converters.sklearn_coreml.tree_nodes import add_hgb_tree, add_sklearn_tree

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")


def forest_classifier(b: Builder, m: Any, f: Feature, classes: np.ndarray) -> Head:
    """DecisionTreeClassifier, RandomForestClassifier, ExtraTreesClassifier: mean leaf shares."""
    spec = b.model_reading(f)
    trees = [m] if not hasattr(m, "estimators_") else list(m.estimators_)
    nodes = spec.treeEnsembleClassifier.treeEnsemble
    nodes.numPredictionDimensions = len(classes)
    for tree_id, est in enumerate(trees):
        tree = est.tree_
        if tree.n_outputs != 1:
            raise unsupported(m, "multi-output trees")
        values = tree.value[:, 0, :]
        totals = values.sum(axis=1, keepdims=True)
        probs = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
        add_sklearn_tree(nodes, tree_id, tree, probs / len(trees))
    return b.classifier_head(spec, classes)


def forest_regressor(b: Builder, m: Any, f: Feature) -> Head:
    """DecisionTreeRegressor, RandomForestRegressor, ExtraTreesRegressor: mean leaf values."""
    spec, width = b.regressor_model(m, f)
    trees = [m] if not hasattr(m, "estimators_") else list(m.estimators_)
    nodes = spec.treeEnsembleRegressor.treeEnsemble
    nodes.numPredictionDimensions = width
    for tree_id, est in enumerate(trees):
        add_sklearn_tree(nodes, tree_id, est.tree_, est.tree_.value[:, :, 0] / len(trees))
    return Head("regressor", width)


def gb_regressor(b: Builder, m: Any, f: Feature) -> Head:
    spec, width = b.regressor_model(m, f)
    nodes = spec.treeEnsembleRegressor.treeEnsemble
    nodes.numPredictionDimensions = 1
    nodes.basePredictionValue.extend(_gb_base(m).tolist())
    for tree_id, est in enumerate(m.estimators_[:, 0]):
        add_sklearn_tree(nodes, tree_id, est.tree_, m.learning_rate * est.tree_.value[:, :, 0])
    return Head("regressor", width)


def gb_classifier(b: Builder, m: Any, f: Feature, classes: np.ndarray) -> Head:
    from coremltools.proto import TreeEnsemble_pb2

    spec = b.model_reading(f)
    params = spec.treeEnsembleClassifier
    factor = 1.0
    if m.loss == "exponential":
        factor = 2.0  # scikit-learn's probability is expit(2 * raw) for this loss
    elif m.loss != "log_loss":
        raise unsupported(m, f"loss={m.loss!r}")
    nodes = params.treeEnsemble
    dims = m.estimators_.shape[1]
    nodes.numPredictionDimensions = dims
    nodes.basePredictionValue.extend((factor * _gb_base(m)).tolist())
    tree_id = 0
    for stage in m.estimators_:
        for dim, est in enumerate(stage):
            leaf = np.zeros((est.tree_.node_count, dims))
            leaf[:, dim] = factor * m.learning_rate * est.tree_.value[:, 0, 0]
            add_sklearn_tree(nodes, tree_id, est.tree_, leaf)
            tree_id += 1
    enum = TreeEnsemble_pb2.TreeEnsemblePostEvaluationTransform
    params.postEvaluationTransform = (enum.Value("Regression_Logistic") if dims == 1
                                      else enum.Value("Classification_SoftMax"))
    return b.classifier_head(spec, classes)


def hgb_classifier(b: Builder, m: Any, f: Feature, classes: np.ndarray) -> Head:
    spec = b.model_reading(f)
    _hgb(m, spec.treeEnsembleClassifier, len(classes))
    return b.classifier_head(spec, classes)


def hgb_regressor(b: Builder, m: Any, f: Feature) -> Head:
    spec, width = b.regressor_model(m, f)
    _hgb(m, spec.treeEnsembleRegressor, 0)
    return Head("regressor", width)


def _gb_base(m: Any) -> np.ndarray:
    from sklearn.dummy import DummyClassifier, DummyRegressor

    init = m.init_
    if isinstance(init, str) and init == "zero":
        return np.zeros(m.estimators_.shape[1])
    if not isinstance(init, (DummyClassifier, DummyRegressor)):
        raise unsupported(m, f"init={type(init).__name__}; only the default constant init")
    return np.asarray(m._raw_predict_init(np.zeros((1, m.n_features_in_))), np.float64)[0]


def _hgb(m: Any, params: Any, n_classes: int) -> None:
    from coremltools.proto import TreeEnsemble_pb2

    if getattr(m, "_preprocessor", None) is not None or getattr(
        m, "is_categorical_", None
    ) is not None and np.any(m.is_categorical_):
        raise unsupported(m, "categorical features")
    loss = m.loss
    if n_classes == 0 and loss not in ("squared_error", "absolute_error", "quantile"):
        raise unsupported(m, f"loss={loss!r} (its inverse link has no Core ML transform)")
    nodes = params.treeEnsemble
    base = np.asarray(m._baseline_prediction, dtype=np.float64).reshape(-1)
    dims = len(base)
    nodes.numPredictionDimensions = dims
    nodes.basePredictionValue.extend(base.tolist())
    tree_id = 0
    for iteration in m._predictors:
        for dim, predictor in enumerate(iteration):
            add_hgb_tree(m, nodes, tree_id, predictor.nodes, dim)
            tree_id += 1
    if n_classes:
        enum = TreeEnsemble_pb2.TreeEnsemblePostEvaluationTransform
        params.postEvaluationTransform = (enum.Value("Regression_Logistic") if dims == 1
                                          else enum.Value("Classification_SoftMax"))
