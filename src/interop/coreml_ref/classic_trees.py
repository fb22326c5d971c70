"""Tree ensembles (TreeEnsembleRegressor / TreeEnsembleClassifier), evaluated in float64.

All trees are compiled once into flat node arrays; a batch walks every tree at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from interop.coreml_ref.classic_common import (
    Features,
    class_labels,
    classifier_outputs,
    input_matrix,
    sigmoid,
    single_output,
    softmax,
    unsupported,
)

# Enum values of the Core ML protos, spelled out so this module need not import coremltools.
_LEQ, _LT, _GEQ, _GT, _EQ, _NEQ, _LEAF = range(7)
_TREE_NO_TRANSFORM, _TREE_SOFTMAX, _TREE_LOGISTIC, _TREE_SOFTMAX_ZERO_REF = range(4)


@dataclass(frozen=True)
class _Forest:
    """All trees of an ensemble as flat arrays, indexed by a global node position."""

    feature: np.ndarray
    threshold: np.ndarray
    behavior: np.ndarray
    true_child: np.ndarray
    false_child: np.ndarray
    missing_true: np.ndarray
    is_leaf: np.ndarray
    leaf_values: np.ndarray
    roots: np.ndarray
    max_steps: int
    base: np.ndarray


def _compile_forest(params: Any) -> _Forest:
    nodes = list(params.nodes)
    dims = int(params.numPredictionDimensions)
    if dims < 1:
        raise unsupported(f"a tree ensemble with numPredictionDimensions={dims}")
    position: dict[tuple[int, int], int] = {}
    for i, node in enumerate(nodes):
        key = (int(node.treeId), int(node.nodeId))
        if key in position:
            raise unsupported(f"a tree ensemble with duplicate node {key} (treeId, nodeId)")
        position[key] = i
    n = len(nodes)
    feature = np.zeros(n, dtype=np.int64)
    threshold = np.zeros(n, dtype=np.float64)
    behavior = np.full(n, _LEAF, dtype=np.int64)
    true_child = np.arange(n)
    false_child = np.arange(n)
    missing_true = np.zeros(n, dtype=bool)
    leaf_values = np.zeros((n, dims), dtype=np.float64)
    children: set[int] = set()
    for i, node in enumerate(nodes):
        beh = int(node.nodeBehavior)
        if beh not in range(7):
            raise unsupported(f"tree node behavior {beh}")
        behavior[i] = beh
        if beh == _LEAF:
            for info in node.evaluationInfo:
                index = int(info.evaluationIndex)
                if not 0 <= index < dims:
                    raise unsupported(
                        f"a leaf evaluationIndex {index} outside numPredictionDimensions={dims}"
                    )
                leaf_values[i, index] += float(info.evaluationValue)
            continue
        tree = int(node.treeId)
        for child_id, target in (
            (node.trueChildNodeId, true_child),
            (node.falseChildNodeId, false_child),
        ):
            child = position.get((tree, int(child_id)))
            if child is None:
                raise unsupported(
                    f"tree {tree}: node {node.nodeId} points to missing node {child_id}"
                )
            target[i] = child
            children.add(child)
        feature[i] = int(node.branchFeatureIndex)
        threshold[i] = float(node.branchFeatureValue)
        missing_true[i] = bool(node.missingValueTracksTrueChild)
    roots_by_tree: dict[int, list[int]] = {}
    for i, node in enumerate(nodes):
        if i not in children:
            roots_by_tree.setdefault(int(node.treeId), []).append(i)
    for tree, tree_roots in roots_by_tree.items():
        if len(tree_roots) != 1:
            raise unsupported(f"tree {tree} with {len(tree_roots)} root nodes")
    base = np.zeros(dims, dtype=np.float64)
    if len(params.basePredictionValue):
        if len(params.basePredictionValue) != dims:
            raise unsupported(
                f"basePredictionValue of length {len(params.basePredictionValue)} "
                f"for {dims} prediction dimensions"
            )
        base = np.asarray(list(params.basePredictionValue), dtype=np.float64)
    roots = np.asarray(sorted(r[0] for r in roots_by_tree.values()), dtype=np.int64)
    return _Forest(
        feature,
        threshold,
        behavior,
        true_child,
        false_child,
        missing_true,
        behavior == _LEAF,
        leaf_values,
        roots,
        n + 1,
        base,
    )


def _forest_scores(forest: _Forest, x: np.ndarray) -> np.ndarray:
    """Base prediction plus the sum of every tree's leaf values: (N, numPredictionDimensions)."""
    branch_features = forest.feature[~forest.is_leaf]
    if branch_features.size and (branch_features.max() >= x.shape[1] or branch_features.min() < 0):
        raise unsupported(
            f"a tree branching on feature {int(branch_features.max())} of a "
            f"{x.shape[1]}-feature input"
        )
    rows = np.arange(len(x))[:, None]
    pos = np.broadcast_to(forest.roots, (len(x), len(forest.roots))).copy()
    for _ in range(forest.max_steps):
        active = ~forest.is_leaf[pos]
        if not active.any():
            break
        value = x[rows, forest.feature[pos]]
        thr = forest.threshold[pos]
        beh = forest.behavior[pos]
        cond = np.select(
            [beh == _LEQ, beh == _LT, beh == _GEQ, beh == _GT, beh == _EQ, beh == _NEQ],
            [value <= thr, value < thr, value >= thr, value > thr, value == thr, value != thr],
            default=False,
        )
        # A missing value (NaN) follows the child missingValueTracksTrueChild names.
        go_true = np.where(np.isnan(value), forest.missing_true[pos], cond)
        step = np.where(go_true, forest.true_child[pos], forest.false_child[pos])
        pos = np.where(active, step, pos)
    else:
        raise unsupported("a tree ensemble with a cycle")
    return forest.base + forest.leaf_values[pos].sum(axis=1)


def _tree_transform(scores: np.ndarray, transform: int) -> np.ndarray:
    if transform == _TREE_NO_TRANSFORM:
        return scores
    if transform == _TREE_SOFTMAX:
        return softmax(scores)
    if transform == _TREE_LOGISTIC:
        return sigmoid(scores)
    if transform == _TREE_SOFTMAX_ZERO_REF:
        return softmax(np.concatenate([np.zeros((len(scores), 1)), scores], axis=1))
    raise unsupported(f"tree ensemble postEvaluationTransform {transform}")


def eval_tree_regressor(spec: Any, features: Features) -> Features:
    params = spec.treeEnsembleRegressor
    scores = _forest_scores(_compile_forest(params.treeEnsemble), input_matrix(spec, features))
    return single_output(spec, _tree_transform(scores, int(params.postEvaluationTransform)))


def eval_tree_classifier(spec: Any, features: Features) -> Features:
    params = spec.treeEnsembleClassifier
    labels = class_labels(params)
    scores = _forest_scores(_compile_forest(params.treeEnsemble), input_matrix(spec, features))
    probs = _tree_transform(scores, int(params.postEvaluationTransform))
    return classifier_outputs(spec, labels, _binary_expand(probs, len(labels)))


def _binary_expand(probs: np.ndarray, n_classes: int) -> np.ndarray:
    """One score for two classes is the probability of the second class."""
    if probs.shape[1] == 1 and n_classes == 2:
        return np.concatenate([1.0 - probs, probs], axis=1)
    return probs


__all__ = ["eval_tree_classifier", "eval_tree_regressor"]
