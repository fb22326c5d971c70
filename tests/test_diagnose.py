"""interop.diagnose on planted faults: one node of a converted model changed at a known
layer (weights scaled, or an activation swapped) must be named as the first divergence;
the untouched conversion must show none."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

import interop
from interop.diagnose.onnx_nodes import metadata, module_path

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
from onnx import numpy_helper  # noqa: E402


# -- models ----------------------------------------------------------------------------------
class SmallCNN(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 6, 3)
        self.act1 = torch.nn.ReLU()
        self.conv2 = torch.nn.Conv2d(6, 6, 3)
        self.act2 = torch.nn.ReLU()
        self.fc = torch.nn.Linear(6 * 4 * 4, 5)

    def forward(self, x):
        return self.fc(self.act2(self.conv2(self.act1(self.conv1(x)))).flatten(1))


class Attention(torch.nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.q, self.k, self.v = (torch.nn.Linear(d, d) for _ in range(3))
        self.out = torch.nn.Linear(d, d)

    def forward(self, x):
        scores = self.q(x) @ self.k(x).transpose(1, 2) / x.shape[-1] ** 0.5
        return self.out(scores.softmax(-1) @ self.v(x))


class Block(torch.nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.norm1 = torch.nn.LayerNorm(d)
        self.attn = Attention(d)
        self.norm2 = torch.nn.LayerNorm(d)
        self.fc1 = torch.nn.Linear(d, 2 * d)
        self.act = torch.nn.GELU()
        self.fc2 = torch.nn.Linear(2 * d, d)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(self.act(self.fc1(self.norm2(x))))


class TinyTransformer(torch.nn.Module):
    def __init__(self, d: int = 8) -> None:
        super().__init__()
        self.embed = torch.nn.Linear(4, d)
        self.blocks = torch.nn.Sequential(Block(d), Block(d))
        self.head = torch.nn.Linear(d, 3)

    def forward(self, x):
        return self.head(self.blocks(self.embed(x)))


class TinyRNN(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inp = torch.nn.Linear(3, 6)
        self.rnn = torch.nn.GRU(6, 8, batch_first=True)
        self.proj = torch.nn.Linear(8, 2)

    def forward(self, x):
        return self.proj(self.rnn(self.inp(x))[0])


@pytest.fixture(scope="module")
def cnn():
    model, args = _torch(SmallCNN, (2, 3, 8, 8))
    return model, interop.convert(model, to="onnx", example_inputs=args)


def _torch(model_cls, shape):
    torch.manual_seed(0)
    return model_cls().eval(), (torch.randn(*shape),)


# -- planting ----------------------------------------------------------------------------------
def _scale_initializer(model, name: str, factor: float) -> None:
    for init in model.graph.initializer:
        if init.name == name:
            array = numpy_helper.to_array(init) * factor
            init.CopyFrom(numpy_helper.from_array(array.astype(np.float32), name))
            return
    raise AssertionError(f"no initializer {name}")


def plant_torch_onnx(conversion, layer: str, factor: float = 1.05):
    bad = copy.deepcopy(conversion)
    props = metadata(bad.model)
    inits = {i.name for i in bad.model.graph.initializer}
    for node in bad.model.graph.node:
        if module_path(props[node.name]) == layer:
            weights = [i for i in node.input if i in inits]
            if weights:
                _scale_initializer(bad.model, weights[0], factor)
                return bad
    raise AssertionError(f"no weighted node in {layer}")


def plant_by_node_name(conversion, fragment: str, factor: float = 1.05):
    bad = copy.deepcopy(conversion)
    inits = {i.name for i in bad.model.graph.initializer}
    for node in bad.model.graph.node:
        weights = [i for i in node.input if i in inits]
        if fragment in node.name and weights:
            _scale_initializer(bad.model, weights[0], factor)
            return bad
    raise AssertionError(f"no weighted node named like {fragment}")


def assert_found(model, conversion, bad, layer: str, **kwargs) -> interop.Diagnosis:
    clean = interop.diagnose(model, conversion, **kwargs)
    assert clean.first_divergence is None, clean.summary
    assert clean.outputs_passed and clean.minimal_input is None
    assert len(clean.layers) >= 2
    assert all(d.max_abs_error < d.atol for d in clean.layers)
    found = interop.diagnose(model, bad, **kwargs)
    assert found.first_divergence is not None, found.summary
    assert found.first_divergence.layer == layer, found.summary
    assert found.first_divergence.max_abs_error > found.first_divergence.atol
    before = found.layers[: found.layers.index(found.first_divergence)]
    assert before and all(d.passed for d in before)
    return found


# -- torch -> ONNX -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model_cls", "shape", "layer"),
    [
        (SmallCNN, (2, 3, 8, 8), "conv2"),
        (TinyTransformer, (2, 5, 4), "blocks.1.attn.v"),
        (TinyRNN, (2, 7, 3), "proj"),
    ],
    ids=["cnn", "transformer", "rnn"],
)
def test_torch_onnx_planted_fault_is_found(model_cls, shape, layer, cnn) -> None:
    if model_cls is SmallCNN:
        model, conversion = cnn
    else:
        model, args = _torch(model_cls, shape)
        conversion = interop.convert(model, to="onnx", example_inputs=args)
    found = assert_found(model, conversion, plant_torch_onnx(conversion, layer), layer)
    assert any("optimisations off" in n for n in found.notes)
    if model_cls is TinyRNN:  # the recurrent layer itself is compared, and matched
        assert [d.passed for d in found.layers if d.layer == "rnn"] == [True]


def test_torch_coreml_swapped_activation_is_found() -> None:
    pytest.importorskip("coremltools")
    import coremltools as ct

    model, args = _torch(SmallCNN, (1, 3, 8, 8))
    conversion = interop.convert(model, to="coreml", example_inputs=args)
    spec = conversion.model.get_spec()
    fn = spec.mlProgram.functions["main"]
    ops = fn.block_specializations[fn.opset].operations
    relus = [op for op in ops if op.type == "relu"]
    relus[1].type = "sigmoid"  # act2's ReLU becomes a sigmoid
    bad = copy.copy(conversion)
    bad.model = ct.models.MLModel(spec, weights_dir=conversion.model.weights_dir)
    found = assert_found(model, conversion, bad, "act2")
    assert found.first_divergence.nodes and "relu" in found.first_divergence.nodes[0]


# -- Keras ---------------------------------------------------------------------------------------
def _keras_mlp():
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(8, activation="relu", name="hidden1"),
        keras.layers.Dense(8, name="hidden2"),
        keras.layers.Activation("tanh", name="squash"),
        keras.layers.Dense(3, name="logits"),
    ])


def test_keras_onnx_planted_fault_is_found() -> None:
    model = _keras_mlp()
    x = np.random.default_rng(0).random((4, 6), dtype=np.float32)
    conversion = interop.convert(model, to="onnx", example_inputs=x)
    assert_found(model, conversion, plant_by_node_name(conversion, "/hidden2"), "hidden2")


def test_keras_functional_onnx_planted_fault_is_found() -> None:
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(1)
    inputs = keras.Input((5,))
    left = keras.layers.Dense(6, activation="relu", name="left")(inputs)
    right = keras.layers.Dense(6, activation="sigmoid", name="right")(inputs)
    joined = keras.layers.Add(name="join")([left, right])
    model = keras.Model(inputs, keras.layers.Dense(2, name="score")(joined))
    x = np.random.default_rng(1).random((4, 5), dtype=np.float32)
    conversion = interop.convert(model, to="onnx", example_inputs=x)
    assert_found(model, conversion, plant_by_node_name(conversion, "/right"), "right")


def test_keras_coreml_swapped_activation_is_found() -> None:
    ct = pytest.importorskip("coremltools")
    model = _keras_mlp()
    x = np.random.default_rng(0).random((4, 6), dtype=np.float32)
    conversion = interop.convert(model, to="coreml", example_inputs=x)
    spec = conversion.model.get_spec()
    fn = spec.mlProgram.functions["main"]
    (tanh,) = [op for op in fn.block_specializations[fn.opset].operations if op.type == "tanh"]
    tanh.type = "sigmoid"
    bad = copy.copy(conversion)
    bad.model = ct.models.MLModel(spec, weights_dir=conversion.model.weights_dir)
    assert_found(model, conversion, bad, "squash")


# -- scikit-learn pipelines ---------------------------------------------------------------------
def _pipelines():
    pytest.importorskip("skl2onnx")
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    rng = np.random.default_rng(0)
    X = rng.random((80, 5)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    clf = Pipeline([("scale", StandardScaler()), ("pca", PCA(3)),
                    ("clf", LogisticRegression())]).fit(X, y)
    reg = Pipeline([("minmax", MinMaxScaler()), ("std", StandardScaler()),
                    ("ridge", Ridge())]).fit(X, X @ np.arange(5.0))
    return X, clf, reg


def _scale_attribute(conversion, op_type: str, attribute: str, factor: float):
    bad = copy.deepcopy(conversion)
    for node in bad.model.graph.node:
        if node.op_type == op_type:
            for attr in node.attribute:
                if attr.name == attribute:
                    values = [v * factor for v in attr.floats]
                    del attr.floats[:]
                    attr.floats.extend(values)
                    return bad
    raise AssertionError(f"no {op_type}.{attribute}")


def test_sklearn_pipelines_planted_faults_are_found() -> None:
    X, clf, reg = _pipelines()
    conv = interop.convert(clf, to="onnx", example_inputs=X[:10])
    bad = plant_by_node_name(conv, "MatMul", 1.1)  # the PCA projection
    found = assert_found(clf, conv, bad, "pca", batch_size=4)
    assert found.layers[0].layer == "scale" and found.layers[-1].layer == "clf"

    conv = interop.convert(reg, to="onnx", example_inputs=X[:10])
    # MinMaxScaler becomes Mul/Add, StandardScaler the one Scaler node: plant there
    bad = _scale_attribute(conv, "Scaler", "scale", 1.05)
    assert_found(reg, conv, bad, "std", batch_size=4)


# -- minimal input, reports, check(diagnose=True), saved paths -----------------------------------
def test_minimal_input_is_smaller_and_still_fails(tmp_path, cnn) -> None:
    model, conversion = cnn
    bad = plant_torch_onnx(conversion, "conv1")
    found = interop.diagnose(model, bad, batch_size=4)
    info = found.minimal_input_info
    assert info["started_batch"] == 4 and info["batch"] == 1
    assert info["nonzero"] < info["started_nonzero"]
    small = found.minimal_input
    assert next(iter(small.values())).shape[0] == 1
    again = interop.diagnose(model, bad, inputs=small["x"], minimize=False)
    assert not again.outputs_passed and again.first_divergence.layer == "conv1"

    path = bad.save(tmp_path / "bad.onnx")
    from_file = interop.diagnose(model, path, minimize=False)
    assert from_file.first_divergence.layer == "conv1"
    data = json.loads(found.save(tmp_path / "d.json").read_text())
    assert data["schema"] == "interop.diagnosis/1"
    assert data["first_divergence"]["layer"] == "conv1"
    assert "first divergence: conv1" in found.save(tmp_path / "d.html").read_text()
    assert "← first divergence" in found.save(tmp_path / "d.md").read_text()
    assert "first divergence at 'conv1'" in found.summary


def test_check_diagnose_attaches_the_diagnosis(tmp_path, cnn) -> None:
    model, conversion = cnn
    bad = plant_torch_onnx(conversion, "fc", 1.1)
    report = interop.check(model, bad, latency=False, batch_sizes=(2,), diagnose=True)
    assert not report.passed
    assert report.diagnosis["first_divergence"]["layer"] == "fc"
    html = report.save(tmp_path / "r.html").read_text()
    assert 'id="plot-layers"' in html and "first divergence: fc" in html
    good = interop.check(model, conversion, latency=False, batch_sizes=(2,), diagnose=True)
    assert good.passed and good.diagnosis is None


# -- conversion failures point at the user's code -------------------------------------------------
class EigHead(torch.nn.Module):
    def forward(self, x):
        return torch.linalg.eig(x)[0].real  # LINE-OF-EIG


class WithEig(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)
        self.head = EigHead()

    def forward(self, x):
        return self.head(self.fc(x).reshape(-1, 2, 2))


def test_unsupported_op_names_op_layer_and_line() -> None:
    with pytest.raises(interop.ConversionError) as caught:
        interop.convert(WithEig(), to="onnx", example_inputs=(torch.randn(2, 4),))
    error = caught.value
    lines = Path(__file__).read_text().splitlines()
    line = next(
        i for i, text in enumerate(lines, 1)
        if "linalg.eig(" in text and text.endswith("# LINE-OF-EIG")
    )
    assert error.op == "aten.linalg_eig"
    assert error.layer == "head"
    assert error.source_location == f"{__file__}:{line}"
    assert error.where() == f"op aten.linalg_eig in layer head at {__file__}:{line}"


def test_conversion_error_stays_backward_compatible() -> None:
    error = interop.ConversionError("message", "hint")
    assert (error.op, error.layer, error.source_location) == (None, None, None)
    assert str(error) == "message\nhint" and error.where() == ""


# -- models past the external-data threshold (issue 14) -----------------------------------------
THRESHOLD_ENV = "INTEROP_ONNX_EXTERNAL_DATA_BYTES"


def _mlp():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(256, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 8),
    ).eval()
    return model, (torch.randn(2, 256),)


def _planted_in_original(model, layer: str, factor: float = 1.05):
    """The original changed after conversion: one Linear's weight scaled."""
    bad = copy.deepcopy(model)
    with torch.no_grad():
        bad.get_submodule(layer).weight.mul_(factor)
    return bad


def test_external_data_model_names_the_same_layer_as_in_memory(tmp_path, monkeypatch) -> None:
    from interop.frameworks.onnx import ExternalOnnx

    model, args = _mlp()
    in_memory = interop.convert(model, to="onnx", example_inputs=args)
    monkeypatch.setenv(THRESHOLD_ENV, "100000")  # 1.6 MB of weights: past it
    external = interop.convert(model, to="onnx", example_inputs=args)
    assert isinstance(external.model, ExternalOnnx)
    assert isinstance(in_memory.model, onnx.ModelProto)

    clean = interop.diagnose(model, external, minimize=False)
    assert clean.outputs_passed and clean.first_divergence is None, clean.summary
    assert [d.layer for d in clean.layers] == ["0", "1", "2", "3", "4"]
    assert all(d.max_abs_error < 1e-5 for d in clean.layers)

    bad = _planted_in_original(model, "2")
    want = interop.diagnose(bad, in_memory, minimize=False)
    got = interop.diagnose(bad, external, minimize=False)
    assert want.first_divergence.layer == got.first_divergence.layer == "2", got.summary
    assert got.first_divergence.nodes == want.first_divergence.nodes
    assert got.first_divergence.max_abs_error > 1e-2
    for a, b in zip(got.layers, want.layers, strict=True):
        assert (a.layer, a.passed) == (b.layer, b.passed)
        assert a.max_abs_error == pytest.approx(b.max_abs_error, rel=1e-4, abs=1e-6)
    assert [d.passed for d in got.layers[:2]] == [True, True]
    assert any("optimisations off" in n for n in got.notes)

    # the saved pair, from its path: the graph weightless, onnxruntime reading model.onnx.data
    path = external.save(tmp_path / "model.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "model.onnx.data"]
    from_path = interop.diagnose(bad, path)  # no example feed kept: its own seeded draw
    assert from_path.first_divergence.layer == "2", from_path.summary
    assert from_path.first_divergence.nodes == want.first_divergence.nodes
    assert from_path.first_divergence.max_abs_error > 1e-2
    assert not from_path.outputs_passed and from_path.minimal_input_info["batch"] == 1
    # nothing written beside the user's model
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "model.onnx.data"]


def test_external_graph_without_the_folder_entry_runs_beside_a_link(tmp_path, monkeypatch):
    """An onnxruntime that ignores the folder entry (older than the entry) loads the edited
    graph from a temporary directory beside a hard link to the data; the directory goes."""
    import onnxruntime as ort

    import interop.frameworks.onnx as onnx_fw
    from interop.diagnose.onnx_values import run_with_values

    model, args = _mlp()
    monkeypatch.setenv(THRESHOLD_ENV, "100000")
    path = interop.convert(model, to="onnx", example_inputs=args).save(tmp_path / "model.onnx")
    external = onnx_fw.load_saved(path)
    assert isinstance(external, onnx_fw.ExternalOnnx)
    x = np.random.default_rng(0).standard_normal((3, 256)).astype(np.float32)
    feed = {external.graph.input[0].name: x}
    inner = [n.output[0] for n in external.graph.node][:2]
    expected = run_with_values(external, feed, inner)
    monkeypatch.setattr(onnx_fw, "EXTERNAL_FOLDER_KEY", "interop.test.ignored_entry")
    with pytest.raises(Exception, match="(?i)external|data|file"):  # bytes alone: no weights
        opts = ort.SessionOptions()
        opts.log_severity_level = 4
        ort.InferenceSession(external.proto.SerializeToString(), opts)
    got = run_with_values(external, feed, inner)
    assert set(got) == set(expected) and len(got) == 3
    for name, value in expected.items():
        np.testing.assert_array_equal(got[name], value)
    with torch.no_grad():
        np.testing.assert_allclose(
            got[external.graph.output[0].name], model(torch.from_numpy(x)).numpy(), atol=1e-5
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "model.onnx.data"]
