"""Serialising fitted scikit-learn trees into Core ML tree-ensemble nodes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interop._lazy import LazyModule
from interop.converters.sklearn_coreml.spec import unsupported

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

LEQ = 0  # TreeNodeBehavior.BranchOnValueLessThanEqual
LEAF = 6  # TreeNodeBehavior.LeafNode


def float32_split_thresholds(thresholds: np.ndarray) -> np.ndarray:
    """Thresholds ``u`` with ``x <= u`` exactly when ``float32(x) <= t``, for any double ``x``.

    scikit-learn's trees cast X to float32 before comparing it with a float64 threshold ``t``;
    the Core ML spec compares the double input itself. With ``T`` the largest float32 not above
    ``t``, ``float32(x) <= t`` holds exactly when x rounds to ``T`` or below: below the midpoint
    of ``T`` and the next float32, and at the midpoint itself when round-half-to-even picks ``T``.
    """
    t = np.asarray(thresholds, dtype=np.float64)
    with np.errstate(over="ignore"):
        t32 = t.astype(np.float32)
    below = np.where(t32.astype(np.float64) > t, np.nextafter(t32, np.float32(-np.inf)), t32)
    above = np.nextafter(below, np.float32(np.inf))
    midpoint = (below.astype(np.float64) + above.astype(np.float64)) / 2.0
    even = (below.view(np.int32) & 1) == 0
    exact = np.where(even, midpoint, np.nextafter(midpoint, -np.inf))
    return np.where(np.isfinite(t), exact, t)


def add_sklearn_tree(params: Any, tree_id: int, tree: Any, leaf_values: np.ndarray) -> None:
    """Append one scikit-learn ``Tree``: ``x[feature] <= threshold`` goes left (true child)."""
    left, right = tree.children_left, tree.children_right
    thresholds = float32_split_thresholds(tree.threshold)
    missing_left = getattr(tree, "missing_go_to_left", np.zeros(tree.node_count, dtype=bool))
    for i in range(tree.node_count):
        node = params.nodes.add()
        node.treeId = tree_id
        node.nodeId = i
        if left[i] == -1:
            node.nodeBehavior = LEAF
            for dim, value in enumerate(leaf_values[i]):
                info = node.evaluationInfo.add()
                info.evaluationIndex = dim
                info.evaluationValue = float(value)
        else:
            node.nodeBehavior = LEQ
            node.branchFeatureIndex = int(tree.feature[i])
            node.branchFeatureValue = float(thresholds[i])
            node.trueChildNodeId = int(left[i])
            node.falseChildNodeId = int(right[i])
            node.missingValueTracksTrueChild = bool(missing_left[i])


def add_hgb_tree(m: Any, params: Any, tree_id: int, nodes: np.ndarray, dim: int) -> None:
    """Append one HistGradientBoosting predictor tree; its leaf values carry the shrinkage."""
    for i, row in enumerate(nodes):
        node = params.nodes.add()
        node.treeId = tree_id
        node.nodeId = i
        if row["is_leaf"]:
            node.nodeBehavior = LEAF
            info = node.evaluationInfo.add()
            info.evaluationIndex = dim
            info.evaluationValue = float(row["value"])
            continue
        if row["is_categorical"]:
            raise unsupported(m, "categorical splits")
        node.nodeBehavior = LEQ
        node.branchFeatureIndex = int(row["feature_idx"])
        # An infinite threshold (a split on missing values only) is kept as is: x <= inf.
        node.branchFeatureValue = float(row["num_threshold"])
        node.trueChildNodeId = int(row["left"])
        node.falseChildNodeId = int(row["right"])
        node.missingValueTracksTrueChild = bool(row["missing_go_to_left"])
