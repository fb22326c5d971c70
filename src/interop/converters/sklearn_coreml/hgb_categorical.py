"""HistGradientBoosting with native categorical features: the bitset splits as Core ML features.

``frameworks.sklearn.categorical_plan`` rewrites the model over numeric features: the numeric
columns, then one feature per distinct categorical split (0 left, 1 right, -1 or 2 where
scikit-learn sends missing and unknown values). Each split feature is computed here from the
raw column: a text column by a oneHotEncoder (unknown -> all zeros) and a glmRegressor
``default + sum((value - default) * onehot)``; a numeric column by a one-tree ensemble of
equality branches (``x == category`` -> its value; NaN and unseen values fall through to the
default). The rewritten trees then read the joined vector with ``<=`` splits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interop._lazy import LazyModule
from interop.converters.sklearn_coreml.spec import Builder, Column, Feature, Fill, Frame, Head
from interop.converters.sklearn_coreml.tree_nodes import LEAF
from interop.frameworks.sklearn import SplitFeature, categorical_plan, has_categorical_splits

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

EQ = 4  # TreeNodeBehavior.BranchOnValueEqual


def hgb_classifier(b: Builder, m: Any, f: Feature | Frame, classes: np.ndarray) -> Head:
    from interop.converters.sklearn_coreml.trees import hgb_classifier as numeric

    model, feature = _lowered(b, m, f)
    return numeric(b, model, feature, classes)


def hgb_regressor(b: Builder, m: Any, f: Feature | Frame) -> Head:
    from interop.converters.sklearn_coreml.trees import hgb_regressor as numeric

    model, feature = _lowered(b, m, f)
    return numeric(b, model, feature)


def _lowered(b: Builder, m: Any, f: Feature | Frame) -> tuple[Any, Feature]:
    """The model the tree lowering sees, and the numeric feature vector it reads."""
    if not has_categorical_splits(m):
        if isinstance(f, Frame):
            return m, b.frame_vector(f, list(f.columns), m)
        return m, f
    plan = categorical_plan(m)
    parts: list[tuple[Feature, Fill]] = []
    if plan.numeric_columns:
        if isinstance(f, Frame):
            numeric = b.frame_vector(f, [f.columns[j] for j in plan.numeric_columns], m)
        else:
            numeric = b.extract(f, b.fresh("hgb_numeric"), list(plan.numeric_columns))
        parts.append((numeric, b.array(numeric.size)))
    encoded: dict[int, Feature] = {}
    for split in plan.splits:
        source: Column | Feature
        if isinstance(f, Frame):
            column = f.columns[split.column]
            source = column if column.kind == "string" else b.frame_vector(f, [column], m)
        else:
            source = b.extract(f, b.fresh("hgb_category"), [split.column])
        if isinstance(source, Column):
            if split.column not in encoded:
                encoded[split.column] = _one_hot_text(b, source, split.keys)
            part = _membership_glm(b, encoded[split.column], split)
        else:
            part = _equality_tree(b, source, split)
        parts.append((part, b.array(1)))
    return plan.model, b.vectorize(parts, b.fresh("hgb_features"))


def _one_hot_text(b: Builder, column: Column, keys: tuple[Any, ...]) -> Feature:
    from coremltools.proto import OneHotEncoder_pb2

    sparse = b.fresh(f"hgb_onehot_{column.name}")
    spec = b.new_model([(column.name, b.string)], [(sparse, b.dict_int64)])
    spec.oneHotEncoder.stringCategories.vector.extend(str(k) for k in keys)
    spec.oneHotEncoder.outputSparse = True
    spec.oneHotEncoder.handleUnknown = OneHotEncoder_pb2.OneHotEncoder.IgnoreUnknown
    return b.vectorize([(Feature(sparse, len(keys)), b.dict_int64)], b.fresh("hgb_dense"))


def _membership_glm(b: Builder, onehot: Feature, split: SplitFeature) -> Feature:
    weights = np.asarray([[value - split.default for value in split.values]])
    return b.linear_map(onehot, b.fresh("hgb_split"), weights, np.asarray([split.default]))


def _equality_tree(b: Builder, source: Feature, split: SplitFeature) -> Feature:
    out = b.fresh("hgb_split")
    spec = b.new_model([(source.name, b.array(1))], [(out, b.array(1))])
    nodes = spec.treeEnsembleRegressor.treeEnsemble
    nodes.numPredictionDimensions = 1
    count = len(split.keys)
    for i, key in enumerate(split.keys):
        node = nodes.nodes.add()
        node.treeId, node.nodeId = 0, i
        node.nodeBehavior = EQ
        node.branchFeatureIndex = 0
        node.branchFeatureValue = float(key)
        node.trueChildNodeId = count + i
        node.falseChildNodeId = i + 1 if i + 1 < count else 2 * count
        node.missingValueTracksTrueChild = False  # NaN is missing: on to the default
    for node_id, value in [*((count + i, v) for i, v in enumerate(split.values)),
                           (2 * count, split.default)]:
        node = nodes.nodes.add()
        node.treeId, node.nodeId = 0, node_id
        node.nodeBehavior = LEAF
        info = node.evaluationInfo.add()
        info.evaluationIndex = 0
        info.evaluationValue = float(value)
    return Feature(out, 1)
