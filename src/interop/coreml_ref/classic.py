"""Numpy execution of classic Core ML specs (pipelines, GLMs, tree ensembles, SVMs, ...).

Semantics follow the Core ML protobuf definitions (``coremltools/proto/*.proto``). Core ML runs
a classic model one example at a time; this executor evaluates a batch at once with the same
per-example result, and keeps the batch dimension first on every input and output.

Precision: tree ensembles, GLMs, SVMs, scalers, imputers and normalizers are computed in float64,
since their parameters are stored as doubles and Apple's implementations of these model types
(libsvm-style SVMs, double tree accumulation) compute in double. Neural-network layers are
computed in float32, the precision of Core ML's CPU path for classic neural networks. Neither
can be confirmed on Linux; a Mac runs the same saved model natively.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from interop.errors import ConversionError, InvalidInput
from interop.types import TensorSpec

Features = dict[str, np.ndarray]

# Enum values of the Core ML protos, spelled out so this module need not import coremltools.
_LEQ, _LT, _GEQ, _GT, _EQ, _NEQ, _LEAF = range(7)
_TREE_NO_TRANSFORM, _TREE_SOFTMAX, _TREE_LOGISTIC, _TREE_SOFTMAX_ZERO_REF = range(4)
_GLMC_LOGIT, _GLMC_PROBIT = 0, 1
_GLMC_REFERENCE_CLASS, _GLMC_ONE_VS_REST = 0, 1
_GLMR_NONE, _GLMR_LOGIT, _GLMR_PROBIT = 0, 1, 2
_ARRAY_DTYPES = {65568: np.float32, 65600: np.float64, 131104: np.int32, 131080: np.int8,
                 65552: np.float16}
_MISSING_PROB = 1e-7  # libsvm clips pairwise probabilities to [1e-7, 1 - 1e-7]


class UnsupportedCoremlSpec(ConversionError):
    """The classic spec uses a model type, layer or field value this executor does not run."""


def _unsupported(what: str) -> UnsupportedCoremlSpec:
    return UnsupportedCoremlSpec(
        f"the Core ML reference executor does not support {what}",
        "run the model on macOS with Apple's runtime, or convert it to supported spec types",
    )


class ClassicExecutor:
    """Runs a classic (non-ML-program) Core ML spec in numpy.

    ``spec`` is a ``coremltools.proto.Model_pb2.Model``; ``base_dir`` the model's directory
    (unused by classic specs, which carry their weights inline; kept for the executor protocol).
    """

    def __init__(self, spec: Any, base_dir: str | Path | None = None) -> None:
        self.spec = spec
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self._check_supported(spec)

    def _check_supported(self, spec: Any) -> None:
        kind = spec.WhichOneof("Type")
        if kind not in _EVALUATORS:
            raise _unsupported(f"the model type {kind!r}")
        if kind in ("pipeline", "pipelineClassifier", "pipelineRegressor"):
            for sub in _pipeline_of(spec).models:
                self._check_supported(sub)

    def input_specs(self) -> tuple[TensorSpec, ...]:
        return tuple(_feature_spec(f) for f in self.spec.description.input)

    def output_specs(self) -> tuple[TensorSpec, ...]:
        return tuple(_feature_spec(f) for f in self.spec.description.output)

    def run(self, feed: dict[str, Any]) -> dict[str, np.ndarray]:
        features = {f.name: _read_input(f, feed) for f in self.spec.description.input}
        sizes = {len(v) for v in features.values()}
        if len(sizes) > 1:
            raise InvalidInput(
                f"inputs have different batch sizes: {sorted(sizes)}",
                "feed every input with the same number of rows",
            )
        computed = _evaluate(self.spec, features)
        outputs = {}
        for out in self.spec.description.output:
            if out.name not in computed:
                raise _unsupported(f"a spec whose output {out.name!r} no model produces")
            outputs[out.name] = _cast_output(out, computed[out.name])
        return outputs


# ---------------------------------------------------------------------------- feature types


def _feature_spec(feature: Any) -> TensorSpec:
    ftype = feature.type
    kind = ftype.WhichOneof("Type")
    if kind == "multiArrayType":
        dtype = _array_dtype(ftype.multiArrayType.dataType, feature.name)
        dims = tuple(int(d) for d in ftype.multiArrayType.shape)
        shape: tuple[int | str | None, ...] = ("batch", *dims)
        return TensorSpec(feature.name, shape, np.dtype(dtype).name)
    if kind == "doubleType":
        return TensorSpec(feature.name, ("batch",), "float64")
    if kind == "int64Type":
        return TensorSpec(feature.name, ("batch",), "int64")
    if kind == "stringType":
        return TensorSpec(feature.name, ("batch",), "object")
    if kind == "dictionaryType":
        return TensorSpec(feature.name, ("batch", None), "float64")
    raise _unsupported(f"features of type {kind!r} (feature {feature.name!r})")


def _read_input(feature: Any, feed: dict[str, Any]) -> np.ndarray:
    if feature.name not in feed:
        raise InvalidInput(
            f"no value fed for the Core ML input {feature.name!r}",
            f"feed a dict with the keys {feature.name!r} (batch dimension first)",
        )
    value = np.asarray(feed[feature.name])
    kind = feature.type.WhichOneof("Type")
    if kind == "multiArrayType":
        arr = feature.type.multiArrayType
        dtype = _ARRAY_DTYPES.get(arr.dataType)
        if dtype is None:
            raise _unsupported(f"multiarray data type {arr.dataType} (input {feature.name!r})")
        shape = tuple(int(d) for d in arr.shape)
        if value.ndim == 0 or (shape and value.shape[1:] != shape):
            raise InvalidInput(
                f"input {feature.name!r} has shape {value.shape}; the model expects "
                f"(batch, {', '.join(map(str, shape))})",
                "pass one row per example with the model's feature count",
            )
        return value.astype(dtype, copy=False)
    if kind in ("doubleType", "int64Type", "stringType"):
        value = value.reshape(len(value)) if value.ndim > 1 else value
        scalar: Any = {"doubleType": np.float64, "int64Type": np.int64, "stringType": object}[kind]
        return value.astype(scalar, copy=False)
    raise _unsupported(f"inputs of type {kind!r} (input {feature.name!r})")


def _cast_output(feature: Any, value: np.ndarray) -> np.ndarray:
    kind = feature.type.WhichOneof("Type")
    if kind == "multiArrayType":
        dtype = _array_dtype(feature.type.multiArrayType.dataType, feature.name)
        return np.asarray(value, dtype=dtype)
    if kind == "doubleType":
        return np.asarray(value, dtype=np.float64).reshape(len(value))
    if kind == "int64Type":
        return np.asarray(value, dtype=np.int64).reshape(len(value))
    if kind == "stringType":
        return np.asarray(value, dtype=object).reshape(len(value))
    if kind == "dictionaryType":
        # Class probabilities are returned as (N, n_classes) in class-label order.
        return np.asarray(value, dtype=np.float64)
    raise _unsupported(f"outputs of type {kind!r} (output {feature.name!r})")


def _array_dtype(data_type: int, name: str) -> Any:
    if data_type not in _ARRAY_DTYPES:
        raise _unsupported(f"multiarray data type {data_type} (feature {name!r})")
    return _ARRAY_DTYPES[data_type]


def _as_matrix(value: np.ndarray) -> np.ndarray:
    """One row per example: scalars become one column, arrays are flattened per example."""
    value = np.asarray(value)
    width = int(np.prod(value.shape[1:], dtype=np.int64)) if value.ndim > 1 else 1
    return value.reshape(len(value), width)


def _model_inputs(spec: Any, features: Features) -> list[np.ndarray]:
    values = []
    for feature in spec.description.input:
        if feature.name not in features:
            raise _unsupported(f"a model reading {feature.name!r}, which nothing produces")
        values.append(features[feature.name])
    return values


def _input_matrix(spec: Any, features: Features) -> np.ndarray:
    """Core ML concatenates a model's inputs, in declaration order, into one feature vector."""
    parts = [_as_matrix(v).astype(np.float64) for v in _model_inputs(spec, features)]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)


def _output_names(spec: Any) -> list[str]:
    return [o.name for o in spec.description.output]


def _class_labels(params: Any) -> np.ndarray:
    which = params.WhichOneof("ClassLabels")
    if which == "int64ClassLabels":
        return np.asarray(list(params.int64ClassLabels.vector), dtype=np.int64)
    if which == "stringClassLabels":
        return np.asarray(list(params.stringClassLabels.vector), dtype=object)
    raise _unsupported("a classifier without class labels")


def _classifier_outputs(spec: Any, labels: np.ndarray, probabilities: np.ndarray) -> Features:
    """Label and probabilities under the names the model description declares.

    The label is the class with the highest probability; ties go to the first class.
    """
    if probabilities.shape[1] != len(labels):
        raise _unsupported(
            f"a classifier with {len(labels)} labels but {probabilities.shape[1]} class scores"
        )
    label = labels[np.argmax(probabilities, axis=1)]
    return _name_classifier_outputs(spec, label, probabilities)


def _name_classifier_outputs(spec: Any, label: np.ndarray, probabilities: Any) -> Features:
    # The description names the label and probability outputs; neither is guessed from the
    # order of the outputs (an undeclared output then fails as one no model produces).
    desc = spec.description
    label_name = desc.predictedFeatureName
    if not label_name:
        raise _unsupported(f"a {spec.WhichOneof('Type')} without predictedFeatureName")
    out: Features = {label_name: label}
    prob_name = desc.predictedProbabilitiesName
    if prob_name and probabilities is not None:
        out[prob_name] = probabilities
    return out


def _single_output(spec: Any, value: np.ndarray) -> Features:
    names = _output_names(spec)
    if len(names) != 1:
        raise _unsupported(f"a {spec.WhichOneof('Type')} with {len(names)} outputs")
    return {names[0]: value}


# ---------------------------------------------------------------------------- pipelines


def _pipeline_of(spec: Any) -> Any:
    kind = spec.WhichOneof("Type")
    if kind == "pipeline":
        return spec.pipeline
    return getattr(spec, kind).pipeline


def _eval_pipeline(spec: Any, features: Features) -> Features:
    available = dict(features)
    for sub in _pipeline_of(spec).models:
        available.update(_evaluate(sub, available))
    return available


# ---------------------------------------------------------------------------- tree ensembles


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
        raise _unsupported(f"a tree ensemble with numPredictionDimensions={dims}")
    position: dict[tuple[int, int], int] = {}
    for i, node in enumerate(nodes):
        key = (int(node.treeId), int(node.nodeId))
        if key in position:
            raise _unsupported(f"a tree ensemble with duplicate node {key} (treeId, nodeId)")
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
            raise _unsupported(f"tree node behavior {beh}")
        behavior[i] = beh
        if beh == _LEAF:
            for info in node.evaluationInfo:
                index = int(info.evaluationIndex)
                if not 0 <= index < dims:
                    raise _unsupported(
                        f"a leaf evaluationIndex {index} outside numPredictionDimensions={dims}"
                    )
                leaf_values[i, index] += float(info.evaluationValue)
            continue
        tree = int(node.treeId)
        for child_id, target in ((node.trueChildNodeId, true_child),
                                 (node.falseChildNodeId, false_child)):
            child = position.get((tree, int(child_id)))
            if child is None:
                raise _unsupported(f"tree {tree}: node {node.nodeId} points to missing node "
                                   f"{child_id}")
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
            raise _unsupported(f"tree {tree} with {len(tree_roots)} root nodes")
    base = np.zeros(dims, dtype=np.float64)
    if len(params.basePredictionValue):
        if len(params.basePredictionValue) != dims:
            raise _unsupported(
                f"basePredictionValue of length {len(params.basePredictionValue)} "
                f"for {dims} prediction dimensions"
            )
        base = np.asarray(list(params.basePredictionValue), dtype=np.float64)
    roots = np.asarray(sorted(r[0] for r in roots_by_tree.values()), dtype=np.int64)
    return _Forest(feature, threshold, behavior, true_child, false_child, missing_true,
                   behavior == _LEAF, leaf_values, roots, n + 1, base)


def _forest_scores(forest: _Forest, x: np.ndarray) -> np.ndarray:
    """Base prediction plus the sum of every tree's leaf values: (N, numPredictionDimensions)."""
    branch_features = forest.feature[~forest.is_leaf]
    if branch_features.size and (branch_features.max() >= x.shape[1] or branch_features.min() < 0):
        raise _unsupported(
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
        raise _unsupported("a tree ensemble with a cycle")
    return forest.base + forest.leaf_values[pos].sum(axis=1)


def _tree_transform(scores: np.ndarray, transform: int) -> np.ndarray:
    if transform == _TREE_NO_TRANSFORM:
        return scores
    if transform == _TREE_SOFTMAX:
        return _softmax(scores)
    if transform == _TREE_LOGISTIC:
        return _sigmoid(scores)
    if transform == _TREE_SOFTMAX_ZERO_REF:
        return _softmax(np.concatenate([np.zeros((len(scores), 1)), scores], axis=1))
    raise _unsupported(f"tree ensemble postEvaluationTransform {transform}")


def _eval_tree_regressor(spec: Any, features: Features) -> Features:
    params = spec.treeEnsembleRegressor
    scores = _forest_scores(_compile_forest(params.treeEnsemble), _input_matrix(spec, features))
    return _single_output(spec, _tree_transform(scores, int(params.postEvaluationTransform)))


def _eval_tree_classifier(spec: Any, features: Features) -> Features:
    params = spec.treeEnsembleClassifier
    labels = _class_labels(params)
    scores = _forest_scores(_compile_forest(params.treeEnsemble), _input_matrix(spec, features))
    probs = _tree_transform(scores, int(params.postEvaluationTransform))
    return _classifier_outputs(spec, labels, _binary_expand(probs, len(labels)))


def _binary_expand(probs: np.ndarray, n_classes: int) -> np.ndarray:
    """One score for two classes is the probability of the second class."""
    if probs.shape[1] == 1 and n_classes == 2:
        return np.concatenate([1.0 - probs, probs], axis=1)
    return probs


# ---------------------------------------------------------------------------- GLMs


def _glm_parameters(params: Any, width: int) -> tuple[np.ndarray, np.ndarray]:
    weights = np.asarray([list(w.value) for w in params.weights], dtype=np.float64)
    if weights.ndim != 2 or weights.shape[1] != width:
        raise _unsupported(f"GLM weights of shape {weights.shape} for a {width}-feature input")
    offset = np.asarray(list(params.offset), dtype=np.float64)
    if offset.size == 0:
        offset = np.zeros(len(weights))
    if offset.shape != (len(weights),):
        raise _unsupported(f"{offset.size} GLM offsets for {len(weights)} weight vectors")
    return weights, offset


def _eval_glm_regressor(spec: Any, features: Features) -> Features:
    params = spec.glmRegressor
    x = _input_matrix(spec, features)
    weights, offset = _glm_parameters(params, x.shape[1])
    z = x @ weights.T + offset
    transform = int(params.postEvaluationTransform)
    if transform == _GLMR_LOGIT:
        z = _sigmoid(z)
    elif transform == _GLMR_PROBIT:
        z = _probit(z)
    elif transform != _GLMR_NONE:
        raise _unsupported(f"GLMRegressor postEvaluationTransform {transform}")
    return _single_output(spec, z)


def _eval_glm_classifier(spec: Any, features: Features) -> Features:
    params = spec.glmClassifier
    labels = _class_labels(params)
    x = _input_matrix(spec, features)
    weights, offset = _glm_parameters(params, x.shape[1])
    transform = int(params.postEvaluationTransform)
    link = {_GLMC_LOGIT: _sigmoid, _GLMC_PROBIT: _probit}.get(transform)
    if link is None:
        raise _unsupported(f"GLMClassifier postEvaluationTransform {transform}")
    scores = link(x @ weights.T + offset)
    encoding = int(params.classEncoding)
    if encoding == _GLMC_REFERENCE_CLASS:
        # The first class is the reference: one weight vector gives the second class's odds.
        if len(weights) != 1 or len(labels) != 2:
            raise _unsupported(
                f"GLMClassifier ReferenceClass encoding with {len(weights)} weight vectors and "
                f"{len(labels)} classes (only binary is defined)"
            )
        probs = np.concatenate([1.0 - scores, scores], axis=1)
    elif encoding == _GLMC_ONE_VS_REST:
        if len(weights) != len(labels):
            raise _unsupported(
                f"GLMClassifier OneVsRest with {len(weights)} weight vectors for "
                f"{len(labels)} classes"
            )
        # Each class's score is independent; they are normalised to sum to one.
        probs = scores / scores.sum(axis=1, keepdims=True)
    else:
        raise _unsupported(f"GLMClassifier classEncoding {encoding}")
    return _classifier_outputs(spec, labels, probs)


# ---------------------------------------------------------------------------- SVMs


def _support_vectors(params: Any, width: int) -> np.ndarray:
    which = params.WhichOneof("supportVectors")
    if which == "denseSupportVectors":
        vectors = np.asarray([list(v.values) for v in params.denseSupportVectors.vectors],
                             dtype=np.float64)
        if vectors.ndim != 2 or vectors.shape[1] != width:
            raise _unsupported(f"support vectors of shape {vectors.shape} for {width} features")
        return vectors
    if which == "sparseSupportVectors":
        sparse = params.sparseSupportVectors.vectors
        vectors = np.zeros((len(sparse), width), dtype=np.float64)
        for i, vec in enumerate(sparse):
            for node in vec.nodes:
                # libsvm sparse indices are 1-based
                if not 1 <= node.index <= width:
                    raise _unsupported(f"sparse support-vector index {node.index}")
                vectors[i, node.index - 1] = node.value
        return vectors
    raise _unsupported("an SVM without support vectors")


def _kernel_matrix(kernel: Any, x: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    which = kernel.WhichOneof("kernel")
    if which == "linearKernel":
        return x @ vectors.T
    if which == "rbfKernel":
        sq = np.empty((len(x), len(vectors)))
        for start in range(0, len(x), 256):  # bounded memory for the pairwise differences
            chunk = x[start:start + 256]
            sq[start:start + 256] = ((chunk[:, None, :] - vectors[None]) ** 2).sum(axis=2)
        return np.exp(-kernel.rbfKernel.gamma * sq)
    if which == "polyKernel":
        p = kernel.polyKernel
        return (p.gamma * (x @ vectors.T) + p.c) ** int(p.degree)
    if which == "sigmoidKernel":
        s = kernel.sigmoidKernel
        return np.tanh(s.gamma * (x @ vectors.T) + s.c)
    raise _unsupported(f"SVM kernel {which!r}")


def _eval_svr(spec: Any, features: Features) -> Features:
    params = spec.supportVectorRegressor
    x = _input_matrix(spec, features)
    vectors = _support_vectors(params, x.shape[1])
    coef = np.asarray(list(params.coefficients.alpha), dtype=np.float64)
    if coef.shape != (len(vectors),):
        raise _unsupported(f"{coef.size} SVR coefficients for {len(vectors)} support vectors")
    value = _kernel_matrix(params.kernel, x, vectors) @ coef - params.rho
    return _single_output(spec, value[:, None])


def _eval_svc(spec: Any, features: Features) -> Features:
    params = spec.supportVectorClassifier
    labels = _class_labels(params)
    k = len(labels)
    x = _input_matrix(spec, features)
    vectors = _support_vectors(params, x.shape[1])
    per_class = np.asarray(list(params.numberOfSupportVectorsPerClass), dtype=np.int64)
    if per_class.shape != (k,) or per_class.sum() != len(vectors):
        raise _unsupported(f"numberOfSupportVectorsPerClass {per_class.tolist()} for {k} classes "
                           f"and {len(vectors)} support vectors")
    coef = np.asarray([list(c.alpha) for c in params.coefficients], dtype=np.float64)
    if coef.shape != (k - 1, len(vectors)):
        raise _unsupported(f"SVC coefficients of shape {coef.shape}; expected "
                           f"({k - 1}, {len(vectors)})")
    n_pairs = k * (k - 1) // 2
    rho = np.asarray(list(params.rho), dtype=np.float64)
    if rho.shape != (n_pairs,):
        raise _unsupported(f"{rho.size} SVC rho values for {n_pairs} class pairs")
    kernel = _kernel_matrix(params.kernel, x, vectors)
    start = np.concatenate([[0], np.cumsum(per_class)])
    # libsvm one-vs-one: pair (i, j) in order i < j; a positive value votes for class i.
    decisions = np.empty((len(x), n_pairs))
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    for p, (i, j) in enumerate(pairs):
        si = slice(start[i], start[i + 1])
        sj = slice(start[j], start[j + 1])
        decisions[:, p] = (kernel[:, si] @ coef[j - 1, si] + kernel[:, sj] @ coef[i, sj]
                           - rho[p])
    prob_a = np.asarray(list(params.probA), dtype=np.float64)
    prob_b = np.asarray(list(params.probB), dtype=np.float64)
    if prob_a.size:
        if prob_a.shape != (n_pairs,) or prob_b.shape != (n_pairs,):
            raise _unsupported(f"probA/probB of lengths {prob_a.size}/{prob_b.size} for "
                               f"{n_pairs} class pairs")
        probs = _svm_probabilities(decisions, prob_a, prob_b, k, pairs)
        # With a probability model, libsvm's label is the most probable class.
        return _classifier_outputs(spec, labels, probs)
    votes = np.zeros((len(x), k), dtype=np.int64)
    rows = np.arange(len(x))
    for p, (i, j) in enumerate(pairs):
        winner = np.where(decisions[:, p] > 0, i, j)
        np.add.at(votes, (rows, winner), 1)
    return _name_classifier_outputs(spec, labels[np.argmax(votes, axis=1)], None)


def _svm_probabilities(decisions: np.ndarray, prob_a: np.ndarray, prob_b: np.ndarray, k: int,
                       pairs: list[tuple[int, int]]) -> np.ndarray:
    """Platt-scaled pairwise probabilities, coupled into class probabilities as libsvm does."""
    f = decisions * prob_a + prob_b
    # Numerically stable logistic of -f, as libsvm's sigmoid_predict computes it.
    pair_prob = np.where(f >= 0, np.exp(-np.abs(f)) / (1.0 + np.exp(-np.abs(f))),
                         1.0 / (1.0 + np.exp(-np.abs(f))))
    pair_prob = np.clip(pair_prob, _MISSING_PROB, 1.0 - _MISSING_PROB)
    # Two classes are coupled too: the libsvm generation Core ML's SVMs come from (and the one
    # scikit-learn bundles) has no two-class shortcut, which libsvm added only in 2019.
    out = np.empty((len(decisions), k))
    for row in range(len(decisions)):
        r = np.zeros((k, k))
        for p, (i, j) in enumerate(pairs):
            r[i, j] = pair_prob[row, p]
            r[j, i] = 1.0 - pair_prob[row, p]
        out[row] = _couple(r, k)
    return out


def _couple(r: np.ndarray, k: int) -> np.ndarray:
    """libsvm's multiclass_probability (Wu, Lin and Weng 2004, method 2)."""
    q = -r.T * r
    np.fill_diagonal(q, (r**2).sum(axis=0))  # r's diagonal is zero
    p = np.full(k, 1.0 / k)
    eps = 0.005 / k
    for _ in range(max(100, k)):
        qp = q @ p
        pqp = float(p @ qp)
        if np.max(np.abs(qp - pqp)) < eps:
            break
        for t in range(k):
            diff = (-qp[t] + pqp) / q[t, t]
            p[t] += diff
            pqp = (pqp + diff * (diff * q[t, t] + 2 * qp[t])) / (1 + diff) / (1 + diff)
            qp = (qp + diff * q[t]) / (1 + diff)
            p /= 1 + diff
    return p


# ---------------------------------------------------------------------------- transformers


def _eval_scaler(spec: Any, features: Features) -> Features:
    x = _input_matrix(spec, features)
    shift = _vector_or_default(spec.scaler.shiftValue, x.shape[1], 0.0, "Scaler shiftValue")
    scale = _vector_or_default(spec.scaler.scaleValue, x.shape[1], 1.0, "Scaler scaleValue")
    return _single_output(spec, (x + shift) * scale)


def _vector_or_default(values: Any, width: int, default: float, what: str) -> np.ndarray:
    array = np.asarray(list(values), dtype=np.float64)
    if array.size == 0:
        return np.full(width, default)
    if array.shape != (width,):
        raise _unsupported(f"{what} of length {array.size} for a {width}-feature input")
    return array


def _eval_imputer(spec: Any, features: Features) -> Features:
    params = spec.imputer
    (value,) = _model_inputs(spec, features)
    which = params.WhichOneof("ImputedValue")
    replace = params.WhichOneof("ReplaceValue")
    if replace not in (None, "replaceDoubleValue"):
        raise _unsupported(f"Imputer {replace}")
    # An unset replace value means NaN, the usual marker of a missing double.
    marker = params.replaceDoubleValue if replace else math.nan
    x = np.asarray(value, dtype=np.float64)
    missing = np.isnan(x) if math.isnan(marker) else x == marker
    if which == "imputedDoubleArray":
        fill = np.asarray(list(params.imputedDoubleArray.vector), dtype=np.float64)
        if x.ndim != 2 or fill.shape != (x.shape[1],):
            raise _unsupported(f"an imputedDoubleArray of length {fill.size} for input "
                               f"shape {x.shape[1:]}")
        return _single_output(spec, np.where(missing, fill, x))
    if which == "imputedDoubleValue":
        return _single_output(spec, np.where(missing, params.imputedDoubleValue, x))
    raise _unsupported(f"Imputer {which}")


def _eval_normalizer(spec: Any, features: Features) -> Features:
    x = _input_matrix(spec, features)
    norm_type = int(spec.normalizer.normType)
    norms = {0: lambda a: np.abs(a).max(axis=1),
             1: lambda a: np.abs(a).sum(axis=1),
             2: lambda a: np.sqrt((a * a).sum(axis=1))}
    if norm_type not in norms:
        raise _unsupported(f"Normalizer normType {norm_type}")
    norm = norms[norm_type](x)[:, None]
    # A zero row stays zero rather than becoming NaN.
    return _single_output(spec, np.divide(x, norm, out=np.zeros_like(x), where=norm != 0))


def _eval_array_feature_extractor(spec: Any, features: Features) -> Features:
    (value,) = _model_inputs(spec, features)
    x = _as_matrix(value)
    indices = [int(i) for i in spec.arrayFeatureExtractor.extractIndex]
    if not indices or max(indices) >= x.shape[1]:
        raise _unsupported(f"extractIndex {indices} for a {x.shape[1]}-element array")
    (out,) = spec.description.output
    kind = out.type.WhichOneof("Type")
    extracted = x[:, indices]
    if kind in ("doubleType", "int64Type"):
        if len(indices) != 1:
            raise _unsupported(f"extracting {len(indices)} indices into a scalar output")
        column = extracted[:, 0]
        if kind == "int64Type":
            if not np.all(np.isfinite(column)) or np.any(column != np.round(column)):
                raise InvalidInput(
                    f"feature {out.name!r} needs whole numbers but got {column[:3].tolist()}...",
                    "categorical columns must hold integer codes",
                )
            column = column.astype(np.int64)
        return {out.name: column}
    return {out.name: extracted}


def _eval_one_hot(spec: Any, features: Features) -> Features:
    params = spec.oneHotEncoder
    (value,) = _model_inputs(spec, features)
    which = params.WhichOneof("CategoryType")
    categories: list[Any]
    keys: list[Any]
    if which == "int64Categories":
        categories = [int(c) for c in params.int64Categories.vector]
        keys = [int(v) for v in np.asarray(value).reshape(len(value))]
    elif which == "stringCategories":
        categories = list(params.stringCategories.vector)
        keys = [str(v) for v in np.asarray(value).reshape(len(value))]
    else:
        raise _unsupported("a OneHotEncoder without categories")
    index = {c: i for i, c in enumerate(categories)}
    ignore = int(params.handleUnknown) == 1
    out = np.zeros((len(keys), len(categories)), dtype=np.float64)
    for row, key in enumerate(keys):
        position = index.get(key)
        if position is None:
            if not ignore:
                raise InvalidInput(
                    f"category {key!r} was not seen when the OneHotEncoder was fitted",
                    "feed only known categories, or fit the encoder with handle_unknown='ignore'",
                )
            continue
        out[row, position] = 1.0
    # A sparse output is a dictionary keyed by category position; kept dense here.
    return _single_output(spec, out)


def _eval_feature_vectorizer(spec: Any, features: Features) -> Features:
    parts = []
    for column in spec.featureVectorizer.inputList:
        if column.inputColumn not in features:
            raise _unsupported(f"a FeatureVectorizer reading {column.inputColumn!r}, "
                               "which nothing produces")
        part = _as_matrix(features[column.inputColumn]).astype(np.float64)
        if part.shape[1] != int(column.inputDimensions):
            raise _unsupported(
                f"FeatureVectorizer column {column.inputColumn!r} declared with "
                f"{column.inputDimensions} dimensions but {part.shape[1]} given"
            )
        parts.append(part)
    return _single_output(spec, np.concatenate(parts, axis=1))


# ---------------------------------------------------------------------------- neural networks


def _weights(params: Any, count: int, what: str) -> np.ndarray:
    if len(params.floatValue):
        values = np.asarray(list(params.floatValue), dtype=np.float32)
    elif params.float16Value:
        values = np.frombuffer(params.float16Value, dtype=np.float16).astype(np.float32)
    else:
        raise _unsupported(f"{what} stored other than as float32 or float16 values")
    if values.size != count:
        raise _unsupported(f"{what} with {values.size} values; expected {count}")
    return values


def _layer_inner_product(layer: Any, x: np.ndarray) -> np.ndarray:
    p = layer.innerProduct
    n_in, n_out = int(p.inputChannels), int(p.outputChannels)
    if x.shape[1] != n_in:
        raise _unsupported(f"innerProduct layer {layer.name!r} with {n_in} input channels "
                           f"fed {x.shape[1]}")
    w = _weights(p.weights, n_in * n_out, f"innerProduct {layer.name!r} weights")
    y = x @ w.reshape(n_out, n_in).T
    if p.hasBias:
        y = y + _weights(p.bias, n_out, f"innerProduct {layer.name!r} bias")
    return y


def _layer_activation(layer: Any, x: np.ndarray) -> np.ndarray:
    act = layer.activation
    which = act.WhichOneof("NonlinearityType")
    one = np.float32(1.0)
    if which == "ReLU":
        return np.maximum(x, np.float32(0.0))
    if which == "tanh":
        return np.tanh(x)
    if which == "sigmoid":
        return one / (one + np.exp(-x))
    if which == "linear":
        return np.float32(act.linear.alpha) * x + np.float32(act.linear.beta)
    if which == "leakyReLU":
        return np.where(x >= 0, x, np.float32(act.leakyReLU.alpha) * x)
    raise _unsupported(f"activation {which!r} (layer {layer.name!r})")


def _layer_softmax(layer: Any, x: np.ndarray) -> np.ndarray:
    return _softmax(x)


_LAYERS: dict[str, Callable[[Any, np.ndarray], np.ndarray]] = {
    "innerProduct": _layer_inner_product,
    "activation": _layer_activation,
    "softmax": _layer_softmax,
}


def _run_layers(spec: Any, params: Any, features: Features) -> Features:
    if len(params.preprocessing):
        raise _unsupported("neural-network image preprocessing")
    blobs: Features = {}
    for f in spec.description.input:
        blobs[f.name] = _as_matrix(features[f.name]).astype(np.float32)
    for layer in params.layers:
        kind = layer.WhichOneof("layer")
        fn = _LAYERS.get(kind)
        if fn is None:
            raise _unsupported(f"neural-network layer type {kind!r} (layer {layer.name!r})")
        if len(layer.input) != 1 or len(layer.output) != 1:
            raise _unsupported(f"layer {layer.name!r} with {len(layer.input)} inputs and "
                               f"{len(layer.output)} outputs")
        if layer.input[0] not in blobs:
            raise _unsupported(f"layer {layer.name!r} reading {layer.input[0]!r}, "
                               "which nothing produces")
        blobs[layer.output[0]] = fn(layer, blobs[layer.input[0]]).astype(np.float32)
    return blobs


def _eval_nn_regressor(spec: Any, features: Features) -> Features:
    kind = spec.WhichOneof("Type")
    blobs = _run_layers(spec, getattr(spec, kind), features)
    out = {}
    for name in _output_names(spec):
        if name not in blobs:
            raise _unsupported(f"a neural network whose output {name!r} no layer produces")
        out[name] = blobs[name]
    return out


def _eval_nn_classifier(spec: Any, features: Features) -> Features:
    params = spec.neuralNetworkClassifier
    labels = _class_labels(params)
    blobs = _run_layers(spec, params, features)
    source = params.labelProbabilityLayerName or (
        params.layers[-1].output[0] if len(params.layers) else ""
    )
    if source not in blobs:
        raise _unsupported(f"labelProbabilityLayerName {source!r}, which no layer produces")
    return _classifier_outputs(spec, labels, blobs[source].astype(np.float64))


# ---------------------------------------------------------------------------- math helpers


def _softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # Split by sign so that large |z| neither overflows nor loses the small tail.
    out = np.empty_like(z, dtype=np.float64)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def _probit(z: np.ndarray) -> np.ndarray:
    from math import erf

    return 0.5 * (1.0 + np.vectorize(erf)(np.asarray(z, dtype=np.float64) / math.sqrt(2.0)))


def _evaluate(spec: Any, features: Features) -> Features:
    kind = spec.WhichOneof("Type")
    evaluator = _EVALUATORS.get(kind)
    if evaluator is None:
        raise _unsupported(f"the model type {kind!r}")
    return evaluator(spec, features)


_EVALUATORS: dict[str | None, Callable[[Any, Features], Features]] = {
    "pipeline": _eval_pipeline,
    "pipelineClassifier": _eval_pipeline,
    "pipelineRegressor": _eval_pipeline,
    "treeEnsembleRegressor": _eval_tree_regressor,
    "treeEnsembleClassifier": _eval_tree_classifier,
    "glmRegressor": _eval_glm_regressor,
    "glmClassifier": _eval_glm_classifier,
    "supportVectorRegressor": _eval_svr,
    "supportVectorClassifier": _eval_svc,
    "scaler": _eval_scaler,
    "imputer": _eval_imputer,
    "normalizer": _eval_normalizer,
    "arrayFeatureExtractor": _eval_array_feature_extractor,
    "oneHotEncoder": _eval_one_hot,
    "featureVectorizer": _eval_feature_vectorizer,
    "neuralNetworkRegressor": _eval_nn_regressor,
    "neuralNetwork": _eval_nn_regressor,
    "neuralNetworkClassifier": _eval_nn_classifier,
}

__all__ = ["ClassicExecutor", "UnsupportedCoremlSpec"]
