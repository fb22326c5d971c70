"""The classic Core ML reference executor on hand-built specs with answers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("coremltools")

from coremltools.proto import Model_pb2  # noqa: E402

from interop.coreml_ref.classic import ClassicExecutor, UnsupportedCoremlSpec  # noqa: E402
from interop.errors import InvalidInput  # noqa: E402

DOUBLE = 65600


def _array(ftype, size: int) -> None:
    ftype.multiArrayType.dataType = DOUBLE
    ftype.multiArrayType.shape.append(size)


def _model(inputs=(("x", 2),), outputs=(("y", 1),)) -> Model_pb2.Model:
    """A spec with multiarray inputs and outputs; a size of 0 declares an int64 scalar."""
    spec = Model_pb2.Model()
    spec.specificationVersion = 4
    for name, size in inputs:
        f = spec.description.input.add()
        f.name = name
        if size:
            _array(f.type, size)
        else:
            f.type.int64Type.SetInParent()
    for name, size in outputs:
        f = spec.description.output.add()
        f.name = name
        if size:
            _array(f.type, size)
        else:
            f.type.int64Type.SetInParent()
    return spec


def _classifier_outputs(spec, labels=(10, 20)) -> None:
    label = spec.description.output.add()
    label.name = "label"
    label.type.int64Type.SetInParent()
    probs = spec.description.output.add()
    probs.name = "probs"
    probs.type.dictionaryType.int64KeyType.SetInParent()
    spec.description.predictedFeatureName = "label"
    spec.description.predictedProbabilitiesName = "probs"
    getattr(spec, spec.WhichOneof("Type")).int64ClassLabels.vector.extend(labels)


def _run(spec, **feed) -> dict[str, np.ndarray]:
    return ClassicExecutor(spec).run({k: np.asarray(v, dtype=np.float64) for k, v in feed.items()})


# ---------------------------------------------------------------------------- tree ensembles


def _stump(params, behavior: int, feature=0, value=1.0, true_leaf=1.0, false_leaf=2.0,
           missing_true=False, tree=0) -> None:
    """root: x[feature] <behavior> value ? leaf true_leaf : leaf false_leaf."""
    root = params.nodes.add()
    root.treeId, root.nodeId, root.nodeBehavior = tree, 0, behavior
    root.branchFeatureIndex, root.branchFeatureValue = feature, value
    root.trueChildNodeId, root.falseChildNodeId = 1, 2
    root.missingValueTracksTrueChild = missing_true
    for node_id, leaf in ((1, true_leaf), (2, false_leaf)):
        node = params.nodes.add()
        node.treeId, node.nodeId, node.nodeBehavior = tree, node_id, 6
        info = node.evaluationInfo.add()
        info.evaluationIndex, info.evaluationValue = 0, leaf


@pytest.mark.parametrize(
    "behavior, expected",
    [  # x = 0, 1, 2 against the value 1: true -> 1, false -> 2
        (0, [1, 1, 2]),  # BranchOnValueLessThanEqual
        (1, [1, 2, 2]),  # BranchOnValueLessThan
        (2, [2, 1, 1]),  # BranchOnValueGreaterThanEqual
        (3, [2, 2, 1]),  # BranchOnValueGreaterThan
        (4, [2, 1, 2]),  # BranchOnValueEqual
        (5, [1, 2, 1]),  # BranchOnValueNotEqual
    ],
)
def test_tree_branch_modes(behavior: int, expected: list[float]) -> None:
    spec = _model(inputs=(("x", 1),))
    ens = spec.treeEnsembleRegressor.treeEnsemble
    ens.numPredictionDimensions = 1
    _stump(ens, behavior)
    out = _run(spec, x=[[0.0], [1.0], [2.0]])["y"]
    np.testing.assert_array_equal(out[:, 0], expected)


@pytest.mark.parametrize("missing_true, expected", [(True, 1.0), (False, 2.0)])
def test_tree_missing_value_follows_flag(missing_true: bool, expected: float) -> None:
    spec = _model(inputs=(("x", 1),))
    ens = spec.treeEnsembleRegressor.treeEnsemble
    ens.numPredictionDimensions = 1
    _stump(ens, 0, missing_true=missing_true)
    assert _run(spec, x=[[math.nan]])["y"][0, 0] == expected


def test_tree_sum_of_trees_base_value_and_second_feature() -> None:
    spec = _model(inputs=(("x", 2),))
    ens = spec.treeEnsembleRegressor.treeEnsemble
    ens.numPredictionDimensions = 1
    ens.basePredictionValue.append(0.5)
    _stump(ens, 0, feature=0, value=0.0, true_leaf=1.0, false_leaf=10.0, tree=0)
    _stump(ens, 0, feature=1, value=0.0, true_leaf=100.0, false_leaf=1000.0, tree=7)
    out = _run(spec, x=[[-1, -1], [1, -1], [-1, 1], [1, 1]])["y"][:, 0]
    np.testing.assert_array_equal(out, [101.5, 110.5, 1001.5, 1010.5])


def test_tree_classifier_transforms() -> None:
    scores = np.array([0.3, -1.2])

    def classifier(transform: int, dims: int, labels) -> Model_pb2.Model:
        spec = _model(inputs=(("x", 1),), outputs=())
        params = spec.treeEnsembleClassifier
        params.postEvaluationTransform = transform
        ens = params.treeEnsemble
        ens.numPredictionDimensions = dims
        ens.basePredictionValue.extend(scores[:dims].tolist())
        _stump(ens, 0, true_leaf=0.0, false_leaf=0.0)
        _classifier_outputs(spec, labels)
        return spec

    # Regression_Logistic with one dimension and two classes: the second class's probability.
    out = _run(classifier(2, 1, (10, 20)), x=[[0.0]])
    p = 1 / (1 + math.exp(-0.3))
    np.testing.assert_allclose(out["probs"], [[1 - p, p]], rtol=1e-15)
    assert out["label"].tolist() == [20]
    # Classification_SoftMax over two dimensions.
    out = _run(classifier(1, 2, (10, 20)), x=[[0.0]])
    e = np.exp(scores - scores.max())
    np.testing.assert_allclose(out["probs"], [e / e.sum()], rtol=1e-15)
    assert out["label"].tolist() == [10]
    # Classification_SoftMaxWithZeroClassReference: a zero score for the first class.
    out = _run(classifier(3, 2, (10, 20, 30)), x=[[0.0]])
    z = np.array([0.0, 0.3, -1.2])
    np.testing.assert_allclose(out["probs"], [np.exp(z) / np.exp(z).sum()], rtol=1e-15)
    assert out["label"].tolist() == [20]


def test_tree_errors_name_the_problem() -> None:
    spec = _model(inputs=(("x", 1),))
    ens = spec.treeEnsembleRegressor.treeEnsemble
    ens.numPredictionDimensions = 1
    _stump(ens, 0, feature=3)
    with pytest.raises(UnsupportedCoremlSpec, match="feature 3 of a 1-feature input"):
        _run(spec, x=[[0.0]])
    ens.nodes[0].branchFeatureIndex = 0
    ens.nodes[0].trueChildNodeId = 9
    with pytest.raises(UnsupportedCoremlSpec, match="missing node 9"):
        _run(spec, x=[[0.0]])
    ens.nodes[0].trueChildNodeId = 1
    spec.treeEnsembleRegressor.postEvaluationTransform = 1
    assert _run(spec, x=[[0.0]])["y"].tolist() == [[1.0]]  # softmax of one score
    spec.treeEnsembleRegressor.postEvaluationTransform = 7
    with pytest.raises(UnsupportedCoremlSpec, match="postEvaluationTransform 7"):
        _run(spec, x=[[0.0]])


# ---------------------------------------------------------------------------- GLMs


def test_glm_regressor_transforms() -> None:
    spec = _model(inputs=(("x", 2),), outputs=(("y", 2),))
    glm = spec.glmRegressor
    glm.weights.add().value.extend([1.0, 2.0])
    glm.weights.add().value.extend([-1.0, 0.5])
    glm.offset.extend([0.5, -0.25])
    x = np.array([[1.0, 1.0], [0.0, -2.0]])
    z = x @ np.array([[1.0, 2.0], [-1.0, 0.5]]).T + [0.5, -0.25]
    np.testing.assert_array_equal(_run(spec, x=x)["y"], z)
    glm.postEvaluationTransform = 1  # Logit
    np.testing.assert_allclose(_run(spec, x=x)["y"], 1 / (1 + np.exp(-z)), rtol=1e-15)
    glm.postEvaluationTransform = 2  # Probit
    probit = 0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))
    np.testing.assert_allclose(_run(spec, x=x)["y"], probit, rtol=1e-15)


def test_glm_classifier_reference_class_and_one_vs_rest() -> None:
    spec = _model(inputs=(("x", 2),), outputs=())
    glm = spec.glmClassifier
    glm.weights.add().value.extend([1.0, -1.0])
    glm.offset.append(0.25)
    _classifier_outputs(spec, (0, 1))
    out = _run(spec, x=[[1.0, 0.0], [0.0, 1.0]])
    p = 1 / (1 + np.exp(-np.array([1.25, -0.75])))
    np.testing.assert_allclose(out["probs"], np.c_[1 - p, p], rtol=1e-15)
    assert out["label"].tolist() == [1, 0]

    spec = _model(inputs=(("x", 2),), outputs=())
    glm = spec.glmClassifier
    glm.classEncoding = 1  # OneVsRest: independent logistic scores, normalised
    for row in ([1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]):
        glm.weights.add().value.extend(row)
    glm.offset.extend([0.0, 0.0, 0.0])
    _classifier_outputs(spec, (5, 6, 7))
    out = _run(spec, x=[[2.0, 0.5]])
    s = 1 / (1 + np.exp(-np.array([2.0, 0.5, -2.5])))
    np.testing.assert_allclose(out["probs"], [s / s.sum()], rtol=1e-15)
    assert out["label"].tolist() == [5]


# ---------------------------------------------------------------------------- SVMs


def _kernels(x: np.ndarray, sv: np.ndarray) -> dict[str, np.ndarray]:
    dot = x @ sv.T
    sq = ((x[:, None] - sv[None]) ** 2).sum(-1)
    return {"linear": dot, "rbf": np.exp(-0.5 * sq), "poly": (0.5 * dot + 1.0) ** 3,
            "sigmoid": np.tanh(0.5 * dot + 1.0)}


@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly", "sigmoid"])
def test_svr_kernels(kernel: str) -> None:
    sv = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]])
    coef = np.array([0.5, -1.5, 2.0])
    spec = _model(inputs=(("x", 2),))
    svr = spec.supportVectorRegressor
    if kernel == "linear":
        svr.kernel.linearKernel.SetInParent()
    elif kernel == "rbf":
        svr.kernel.rbfKernel.gamma = 0.5
    elif kernel == "poly":
        svr.kernel.polyKernel.gamma, svr.kernel.polyKernel.c = 0.5, 1.0
        svr.kernel.polyKernel.degree = 3
    else:
        svr.kernel.sigmoidKernel.gamma, svr.kernel.sigmoidKernel.c = 0.5, 1.0
    for v in sv:
        svr.denseSupportVectors.vectors.add().values.extend(v.tolist())
    svr.coefficients.alpha.extend(coef.tolist())
    svr.rho = 0.75
    x = np.array([[0.5, 0.5], [2.0, -1.0]])
    expected = _kernels(x, sv)[kernel] @ coef - 0.75
    np.testing.assert_allclose(_run(spec, x=x)["y"][:, 0], expected, rtol=1e-14)


def _svc_spec(probabilities: bool) -> Model_pb2.Model:
    """Three classes, one support vector each, linear kernel, libsvm coefficient layout."""
    spec = _model(inputs=(("x", 2),), outputs=())
    svc = spec.supportVectorClassifier
    svc.kernel.linearKernel.SetInParent()
    for v in ([1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]):
        svc.denseSupportVectors.vectors.add().values.extend(v)
    svc.numberOfSupportVectorsPerClass.extend([1, 1, 1])
    svc.coefficients.add().alpha.extend([1.0, -1.0, -1.0])
    svc.coefficients.add().alpha.extend([1.0, 1.0, -1.0])
    svc.rho.extend([0.0, 0.5, -0.5])
    if probabilities:
        svc.probA.extend([-2.0, -1.0, -3.0])
        svc.probB.extend([0.1, 0.0, -0.2])
    _classifier_outputs(spec, (1, 2, 3))
    return spec


def _svc_decisions(x: np.ndarray) -> np.ndarray:
    """Pairs (0,1), (0,2), (1,2): coef[j-1] for class i's vectors, coef[i] for class j's."""
    k = x @ np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]).T
    return np.stack([k[:, 0] - k[:, 1] - 0.0,   # (0,1): coef[0][0] = 1, coef[0][1] = -1
                     k[:, 0] - k[:, 2] - 0.5,   # (0,2): coef[1][0] = 1, coef[0][2] = -1
                     k[:, 1] - k[:, 2] + 0.5],  # (1,2): coef[1][1] = 1, coef[1][2] = -1
                    axis=1)


def test_svc_one_vs_one_votes() -> None:
    x = np.array([[2.0, 0.0], [-3.0, 1.0], [-1.0, -2.0], [0.1, 0.1]])
    dec = _svc_decisions(x)
    votes = np.zeros((len(x), 3), dtype=int)
    for p, (i, j) in enumerate([(0, 1), (0, 2), (1, 2)]):
        for r in range(len(x)):
            votes[r, i if dec[r, p] > 0 else j] += 1
    expected = np.array([1, 2, 3])[votes.argmax(axis=1)]
    spec = _svc_spec(False)
    spec.description.output.pop()  # no probability output without a probability model
    spec.description.predictedProbabilitiesName = ""
    out = _run(spec, x=x)
    assert out["label"].tolist() == expected.tolist()
    assert set(out) == {"label"}


def test_svc_platt_probabilities_are_coupled() -> None:
    x = np.array([[2.0, 0.0], [-3.0, 1.0], [0.1, 0.1]])
    dec = _svc_decisions(x)
    a, b = np.array([-2.0, -1.0, -3.0]), np.array([0.1, 0.0, -0.2])
    r_pair = np.clip(1 / (1 + np.exp(dec * a + b)), 1e-7, 1 - 1e-7)
    out = _run(_svc_spec(True), x=x)
    probs = out["probs"]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    # The coupled probabilities solve min sum_(i,j) (r_ji p_i - r_ij p_j)^2 to libsvm's
    # stopping tolerance: the stationarity residual is below 0.005 / k.
    for row in range(len(x)):
        r = np.zeros((3, 3))
        for p, (i, j) in enumerate([(0, 1), (0, 2), (1, 2)]):
            r[i, j], r[j, i] = r_pair[row, p], 1 - r_pair[row, p]
        q = -r.T * r
        np.fill_diagonal(q, (r**2).sum(axis=0))
        qp = q @ probs[row]
        assert np.max(np.abs(qp - probs[row] @ qp)) < 0.005 / 3
    assert out["label"].tolist() == np.array([1, 2, 3])[probs.argmax(axis=1)].tolist()


# ---------------------------------------------------------------------------- transformers


def test_scaler_shift_then_scale() -> None:
    spec = _model(inputs=(("x", 2),), outputs=(("y", 2),))
    spec.scaler.shiftValue.extend([1.0, -2.0])
    spec.scaler.scaleValue.extend([0.5, 4.0])
    np.testing.assert_array_equal(_run(spec, x=[[1.0, 2.0]])["y"], [[1.0, 0.0]])


def test_imputer_nan_and_numeric_marker() -> None:
    spec = _model(inputs=(("x", 3),), outputs=(("y", 3),))
    spec.imputer.imputedDoubleArray.vector.extend([7.0, 8.0, 9.0])
    out = _run(spec, x=[[math.nan, 1.0, math.nan], [0.0, -1.0, 2.0]])["y"]
    np.testing.assert_array_equal(out, [[7.0, 1.0, 9.0], [0.0, -1.0, 2.0]])
    spec.imputer.replaceDoubleValue = -1.0
    out = _run(spec, x=[[math.nan, -1.0, 3.0]])["y"]
    np.testing.assert_array_equal(out, [[math.nan, 8.0, 3.0]])


@pytest.mark.parametrize("norm_type, expected", [
    (0, [[0.75, -1.0], [0.0, 0.0]]),
    (1, [[3 / 7, -4 / 7], [0.0, 0.0]]),
    (2, [[0.6, -0.8], [0.0, 0.0]]),
])
def test_normalizer(norm_type: int, expected) -> None:
    spec = _model(inputs=(("x", 2),), outputs=(("y", 2),))
    spec.normalizer.normType = norm_type
    np.testing.assert_allclose(_run(spec, x=[[3.0, -4.0], [0.0, 0.0]])["y"], expected,
                               rtol=1e-15)


def _one_hot_pipeline(handle_unknown: int) -> Model_pb2.Model:
    """x[2] -> int64 -> one-hot over {3, 5, 8} (sparse) -> vectorised with x[0:2]."""
    top = _model(inputs=(("x", 3),), outputs=(("y", 5),))
    extract = _model(inputs=(("x", 3),), outputs=(("code", 0),))
    extract.arrayFeatureExtractor.extractIndex.append(2)
    encode = _model(inputs=(("code", 0),), outputs=())
    out = encode.description.output.add()
    out.name = "hot"
    out.type.dictionaryType.int64KeyType.SetInParent()
    encode.oneHotEncoder.int64Categories.vector.extend([3, 5, 8])
    encode.oneHotEncoder.outputSparse = True
    encode.oneHotEncoder.handleUnknown = handle_unknown
    first = _model(inputs=(("x", 3),), outputs=(("first", 2),))
    first.arrayFeatureExtractor.extractIndex.extend([0, 1])
    vec = _model(inputs=(("first", 2), ("hot", 3)), outputs=(("y", 5),))
    vec.description.input[1].type.dictionaryType.int64KeyType.SetInParent()
    for name, dims in (("first", 2), ("hot", 3)):
        col = vec.featureVectorizer.inputList.add()
        col.inputColumn, col.inputDimensions = name, dims
    for sub in (extract, encode, first, vec):
        top.pipeline.models.add().CopyFrom(sub)
    return top


def test_pipeline_extract_one_hot_vectorize() -> None:
    out = _run(_one_hot_pipeline(1), x=[[0.5, 1.5, 5.0], [2.0, 3.0, 8.0], [1.0, 1.0, 4.0]])["y"]
    np.testing.assert_array_equal(out, [[0.5, 1.5, 0, 1, 0], [2.0, 3.0, 0, 0, 1],
                                        [1.0, 1.0, 0, 0, 0]])
    with pytest.raises(InvalidInput, match="category 4"):
        _run(_one_hot_pipeline(0), x=[[1.0, 1.0, 4.0]])
    with pytest.raises(InvalidInput, match="whole numbers"):
        _run(_one_hot_pipeline(1), x=[[1.0, 1.0, 4.5]])


# ---------------------------------------------------------------------------- neural networks


def _dense(params, name, src, dst, w: np.ndarray, b: np.ndarray, fp16: bool = False) -> None:
    layer = params.layers.add()
    layer.name = name
    layer.input.append(src)
    layer.output.append(dst)
    ip = layer.innerProduct
    ip.outputChannels, ip.inputChannels = w.shape
    ip.hasBias = True
    if fp16:
        ip.weights.float16Value = w.astype(np.float16).tobytes()
    else:
        ip.weights.floatValue.extend(w.reshape(-1).tolist())
    ip.bias.floatValue.extend(b.tolist())


@pytest.mark.parametrize("act", ["ReLU", "tanh", "sigmoid", "linear", "leakyReLU"])
def test_neural_network_classifier_in_float32(act: str) -> None:
    rng = np.random.default_rng(0)
    w1 = rng.normal(size=(4, 3)).astype(np.float32)
    b1 = rng.normal(size=4).astype(np.float32)
    w2 = rng.normal(size=(2, 4)).astype(np.float32)
    b2 = rng.normal(size=2).astype(np.float32)
    spec = _model(inputs=(("x", 3),), outputs=())
    params = spec.neuralNetworkClassifier
    _dense(params, "d1", "x", "h", w1, b1)
    layer = params.layers.add()
    layer.name, layer.input[:], layer.output[:] = "a1", ["h"], ["ha"]
    getattr(layer.activation, act).SetInParent()
    if act == "linear":
        layer.activation.linear.alpha, layer.activation.linear.beta = 2.0, -1.0
    if act == "leakyReLU":
        layer.activation.leakyReLU.alpha = 0.1
    _dense(params, "d2", "ha", "z", w2, b2)
    layer = params.layers.add()
    layer.name, layer.input[:], layer.output[:] = "sm", ["z"], ["p"]
    layer.softmax.SetInParent()
    params.labelProbabilityLayerName = "p"
    _classifier_outputs(spec, (0, 1))
    x = rng.normal(size=(5, 3)).astype(np.float32)
    h = x @ w1.T + b1
    h = {"ReLU": np.maximum(h, 0), "tanh": np.tanh(h), "sigmoid": 1 / (1 + np.exp(-h)),
         "linear": 2 * h - 1, "leakyReLU": np.where(h >= 0, h, np.float32(0.1) * h)}[act]
    z = h.astype(np.float32) @ w2.T + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    expected = e / e.sum(axis=1, keepdims=True)
    out = _run(spec, x=x)
    np.testing.assert_allclose(out["probs"], expected, atol=1e-6)
    assert out["label"].tolist() == expected.argmax(axis=1).tolist()


def test_neural_network_float16_weights() -> None:
    w = np.array([[0.1, 0.2], [0.3, -0.7]], dtype=np.float32)
    spec = _model(inputs=(("x", 2),), outputs=(("y", 2),))
    _dense(spec.neuralNetworkRegressor, "d", "x", "y", w, np.zeros(2, np.float32), fp16=True)
    out = _run(spec, x=[[1.0, 1.0]])["y"]
    expected = np.array([[1.0, 1.0]], np.float32) @ w.astype(np.float16).astype(np.float32).T
    np.testing.assert_array_equal(out, expected.astype(np.float64))
    assert not np.array_equal(out, [[1.0, 1.0]] @ w.T.astype(np.float64))


def test_unknown_layer_model_type_and_transform_are_named() -> None:
    spec = _model(inputs=(("x", 2),), outputs=(("y", 2),))
    layer = spec.neuralNetworkRegressor.layers.add()
    layer.name, layer.input[:], layer.output[:] = "conv1", ["x"], ["y"]
    layer.convolution.SetInParent()
    with pytest.raises(UnsupportedCoremlSpec, match="'convolution' \\(layer 'conv1'\\)"):
        _run(spec, x=[[1.0, 1.0]])
    spec = _model()
    spec.identity.SetInParent()
    with pytest.raises(UnsupportedCoremlSpec, match="model type 'identity'"):
        ClassicExecutor(spec)
    nested = _model()
    nested.pipeline.models.add().CopyFrom(spec)
    with pytest.raises(UnsupportedCoremlSpec, match="'identity'"):
        ClassicExecutor(nested)
    spec = _model(inputs=(("x", 2),), outputs=())
    spec.glmClassifier.weights.add().value.extend([1.0, 1.0])
    spec.glmClassifier.postEvaluationTransform = 5
    _classifier_outputs(spec)
    with pytest.raises(UnsupportedCoremlSpec, match="postEvaluationTransform 5"):
        _run(spec, x=[[1.0, 1.0]])


def test_classifier_outputs_and_dtypes_are_declared_not_guessed() -> None:
    spec = _model(inputs=(("x", 2),), outputs=())
    spec.glmClassifier.weights.add().value.extend([1.0, -1.0])
    _classifier_outputs(spec, (0, 1))
    spec.description.predictedFeatureName = ""  # not "the first output"
    with pytest.raises(UnsupportedCoremlSpec, match="without predictedFeatureName"):
        _run(spec, x=[[1.0, 0.0]])
    spec.description.predictedFeatureName = "label"
    spec.description.predictedProbabilitiesName = ""  # "probs" is then produced by nothing
    with pytest.raises(UnsupportedCoremlSpec, match="'probs' no model produces"):
        _run(spec, x=[[1.0, 0.0]])
    spec = _model(inputs=(("x", 2),), outputs=(("y", 2),))
    spec.scaler.scaleValue.extend([1.0, 1.0])
    spec.description.output[0].type.multiArrayType.dataType = 65544  # not a Core ML dtype
    with pytest.raises(UnsupportedCoremlSpec, match="data type 65544"):
        ClassicExecutor(spec).output_specs()


def test_feed_errors_and_specs() -> None:
    spec = _model(inputs=(("x", 2),), outputs=(("y", 2),))
    spec.scaler.scaleValue.extend([1.0, 1.0])
    executor = ClassicExecutor(spec)
    assert [(s.name, s.shape, s.dtype) for s in executor.input_specs()] == [
        ("x", ("batch", 2), "float64")]
    with pytest.raises(InvalidInput, match="no value fed"):
        executor.run({"z": np.zeros((1, 2))})
    with pytest.raises(InvalidInput, match=r"\(batch, 2\)"):
        executor.run({"x": np.zeros((1, 3))})
    out = executor.run({"x": np.zeros((0, 2))})
    assert out["y"].shape == (0, 2)
