"""loaders: cheap sniffing, safe refusals, input specs, samples and their fit to a model."""

from __future__ import annotations

import importlib.util
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from interop import loaders
from interop.errors import InvalidInput, MissingDependency
from interop.types import TensorSpec

FILES = Path(__file__).resolve().parent / "bad_inputs" / "files"


def model_with(specs, source="torch", frame=False, model=None):
    return loaders.LoadedModel(model, "test", source, "m", None, tuple(specs), frame)


def test_sniff_kinds_without_frameworks(tmp_path):
    archive = tmp_path / "m.keras"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("config.json", "{}")
    saved = tmp_path / "sm"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"\x08\x01")
    assert loaders.sniff(str(archive)) == "keras"
    assert loaders.sniff(str(saved)) == "savedmodel"
    assert loaders.sniff(str(FILES / "whole_model.pt")) == "torch.pickle"
    assert loaders.sniff(str(FILES / "state_dict.pt")) == "torch.pickle"
    assert loaders.sniff(str(FILES / "model.pkl")) == "pickle"
    assert loaders.sniff(str(FILES / "tiny.skops")) == "skops"
    assert loaders.sniff("tests.bad_inputs.factories:tiny_torch") == "factory"


def test_pickles_are_refused_without_opt_in_and_not_read():
    with pytest.raises(InvalidInput) as refused:
        loaders.load_model(str(FILES / "model.pkl"))
    assert "unpickling runs arbitrary code" in refused.value.message
    assert "--allow-pickle" in refused.value.hint
    loaded = loaders.load_model(str(FILES / "model.pkl"), allow_pickle=True)
    assert loaded.model == pickle.loads((FILES / "model.pkl").read_bytes())


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("x:batch,4:float32", TensorSpec("x", ("batch", 4), "float32")),
        ("x:0:[8,3,32,32]:uint8", TensorSpec("x:0", (8, 3, 32, 32), "uint8")),
        ("ids:batch,seq:int64", TensorSpec("ids", ("batch", "seq"), "int64")),
    ],
)
def test_parse_input_spec(text, spec):
    assert loaders.parse_input_spec(text) == spec


@pytest.mark.parametrize("text", ["x", "x:4", ":4:float32", "x:4,,2:float32", "x:4:complex"])
def test_parse_input_spec_rejects(text):
    with pytest.raises(InvalidInput):
        loaders.parse_input_spec(text)


def test_seeded_inputs_are_seeded_and_size_named_dims_8():
    specs = [TensorSpec("x", ("batch", 3), "float32"), TensorSpec("i", ("batch",), "int64"),
             TensorSpec("m", (2, "seq"), "bool")]
    first, second = loaders.seeded_inputs(specs), loaders.seeded_inputs(specs)
    assert [a.shape for a in first] == [(8, 3), (8,), (2, 8)]
    assert [str(a.dtype) for a in first] == ["float32", "int64", "bool"]
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_samples_npy_npz_csv(tmp_path):
    data = np.arange(12, dtype=np.float64).reshape(3, 4)
    np.save(tmp_path / "s.npy", data)
    np.savez(tmp_path / "s.npz", a=data, b=data[:, :2])
    (tmp_path / "h.csv").write_text("a,b,c,d\n" + "\n".join(",".join(map(str, r)) for r in data))
    (tmp_path / "n.csv").write_text("\n".join(",".join(map(str, r)) for r in data))
    np.testing.assert_array_equal(loaders.load_sample(str(tmp_path / "s.npy"))[0], data)
    assert [a.shape for a in loaders.load_sample(str(tmp_path / "s.npz"))] == [(3, 4), (3, 2)]
    for name in ("h.csv", "n.csv"):  # with and without a header row
        np.testing.assert_array_equal(loaders.load_sample(str(tmp_path / name))[0], data)


def test_parquet_needs_pyarrow_or_reads(tmp_path):
    path = tmp_path / "s.parquet"
    if importlib.util.find_spec("pyarrow") is None:
        path.write_bytes(b"PAR1 not really")
        with pytest.raises(MissingDependency) as missing:
            loaders.load_sample(str(path))
        assert missing.value.exit_code == 4 and "pyarrow" in missing.value.hint
    else:
        import pandas

        pandas.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}).to_parquet(path)
        assert loaders.load_sample(str(path))[0].shape == (2, 2)


def test_fit_inputs_casts_floats_and_checks_shapes():
    loaded = model_with([TensorSpec("x", ("batch", 4), "float32")])
    (fitted,) = loaders.fit_inputs([np.ones((5, 4))], loaded)
    assert fitted.dtype == np.float32 and fitted.shape == (5, 4)
    with pytest.raises(InvalidInput) as wrong:
        loaders.fit_inputs([np.ones((5, 3))], loaded)
    assert "expects x[batch,4] float32" in wrong.value.message
    with pytest.raises(InvalidInput) as count:
        loaders.fit_inputs([np.ones((5, 4)), np.ones((5, 4))], loaded)
    assert "takes 1" in count.value.message


def test_fit_inputs_orders_named_inputs_and_packages_per_framework():
    specs = [TensorSpec("a", ("batch", 2), "float32"), TensorSpec("b", ("batch", 3), "float32")]
    arrays = [np.zeros((4, 3)), np.zeros((4, 2))]
    tf_inputs = loaders.fit_inputs(arrays, model_with(specs, "tensorflow"), ["b", "a"])
    assert list(tf_inputs) == ["a", "b"] and tf_inputs["a"].shape == (4, 2)
    torch_inputs = loaders.fit_inputs(arrays, model_with(specs, "torch"), ["b", "a"])
    assert isinstance(torch_inputs, tuple) and torch_inputs[0].shape == (4, 2)
    single = loaders.fit_inputs([np.zeros((4, 2))], model_with([specs[0]], "sklearn"))
    assert isinstance(single, np.ndarray)


def test_factory_results(monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    loaded = loaders.load_factory("tests.bad_inputs.factories:tiny_torch")
    assert loaded.source == "torch" and loaded.kind == "factory"
    assert loaded.example_inputs[0].shape == (8, 4)
    with pytest.raises(InvalidInput, match="raised ValueError: the factory was asked to fail"):
        loaders.load_factory("tests.bad_inputs.factories:raises")
    with pytest.raises(MissingDependency, match="interop_no_such_module"):
        loaders.load_factory("tests.bad_inputs.factories:needs_missing_module")


def test_skops_untrusted_types_listed_and_trust_opt_in():
    with pytest.raises(InvalidInput) as refused:
        loaders.load_model(str(FILES / "untrusted.skops"))
    assert "corpus_custom_types.CustomScaler" in refused.value.message
    assert "--trust" in refused.value.hint
    loaded = loaders.load_model(str(FILES / "tiny.skops"))
    assert loaded.source == "sklearn" and loaded.input_specs[0].shape == ("batch", 4)


def test_one_format_table_names_every_loader(tmp_path):
    from interop.detect import FORMATS, converted_format, detect_path
    from interop.util import import_ref

    for fmt in FORMATS:
        assert bool(fmt.loader) != fmt.converted, fmt.kind
        if fmt.loader:
            assert callable(import_ref(fmt.loader)), fmt.loader
    assert {f.kind for f in FORMATS if f.pickle} == {"torch.pickle", "pickle"}
    assert converted_format(".ONNX") == "onnx" and converted_format(".pt2") is None
    package_dir = tmp_path / "m.mlpackage"
    package_dir.mkdir()
    assert detect_path(package_dir) == "coreml"
    with pytest.raises(InvalidInput, match="already a Core ML model"):
        loaders.sniff(str(package_dir))
    (tmp_path / "m.tflite").write_bytes(b"TFL3")
    with pytest.raises(InvalidInput, match="already a converted model"):
        loaders.sniff(str(tmp_path / "m.tflite"))


# -- a library's real reason, not "the file is corrupt" (issue 15) ----------------------------

CUSTOM_LAYER = """
import keras

@keras.saving.register_keras_serializable(package="{module}")
class Doubler(keras.layers.Layer):
    def call(self, x):
        return x * 2.0
"""


def test_keras_file_needing_a_custom_object_names_it_and_import_loads_it(tmp_path, monkeypatch):
    keras = pytest.importorskip("keras")
    import sys

    module = "interop_t15_keras_layers"
    (tmp_path / f"{module}.py").write_text(CUSTOM_LAYER.format(module=module))
    monkeypatch.syspath_prepend(str(tmp_path))
    layers = importlib.import_module(module)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), layers.Doubler()])
    model.save(tmp_path / "custom.keras")
    # a fresh process has not imported the module: undo its registration here
    keras.saving.get_custom_objects().pop(f"{module}>Doubler")
    del sys.modules[module]
    with pytest.raises(InvalidInput) as missing:
        loaders.load_model(str(tmp_path / "custom.keras"))
    assert f"custom class Doubler ({module}>Doubler) from the module {module}" in (
        missing.value.message)
    assert "Could not locate class 'Doubler'" in missing.value.message  # keras's own line
    assert f"--import {module} --trust" in missing.value.hint
    assert "corrupt" not in missing.value.hint
    monkeypatch.chdir(tmp_path)
    loaded = loaders.load_model(str(tmp_path / "custom.keras"), imports=[module], trust=True)
    assert loaded.kind == "keras"


def test_skops_untrusted_type_from_a_module_not_installed():
    pytest.importorskip("skops")
    with pytest.raises(InvalidInput) as refused:
        loaders.load_model(str(FILES / "untrusted.skops"))
    assert "corpus_custom_types.CustomScaler" in refused.value.message
    assert "'corpus_custom_types' of corpus_custom_types.CustomScaler is not installed" in (
        refused.value.message)
    # trusting it cannot help: the code is missing, not the file broken
    with pytest.raises(MissingDependency) as missing:
        loaders.load_model(str(FILES / "untrusted.skops"), trust=True)
    assert "not installed" in missing.value.message and "corrupt" not in missing.value.hint


def test_skops_type_from_own_code_loads_with_import_and_trust(tmp_path, monkeypatch):
    sio = pytest.importorskip("skops.io")
    import sys

    from sklearn.preprocessing import StandardScaler

    module = "interop_t15_skops_types"
    (tmp_path / f"{module}.py").write_text(
        "from sklearn.preprocessing import StandardScaler\n"
        "class MyScaler(StandardScaler):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    scaler = importlib.import_module(module).MyScaler().fit(np.random.rand(10, 3))
    sio.dump(scaler, tmp_path / "mine.skops")
    assert isinstance(scaler, StandardScaler)
    del sys.modules[module]
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    with pytest.raises(MissingDependency) as missing:
        loaders.load_model(str(tmp_path / "mine.skops"), trust=True)
    assert f"--import {module} --trust" in missing.value.hint
    monkeypatch.chdir(tmp_path)
    loaded = loaders.load_model(str(tmp_path / "mine.skops"), imports=[module], trust=True)
    assert type(loaded.model).__name__ == "MyScaler"


def test_savedmodel_with_an_op_from_a_library_not_loaded(tmp_path):
    tf = pytest.importorskip("tensorflow")
    from tensorflow.core.protobuf import saved_model_pb2

    class Module(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def __call__(self, x):
            return {"y": tf.nn.relu(x) + 1.0}

    module = Module()
    tf.saved_model.save(module, str(tmp_path / "sm"), signatures={"serving_default":
                                                                  module.__call__})
    assert loaders.load_model(str(tmp_path / "sm")).kind == "savedmodel"
    # As if saved where tensorflow-text's op library was loaded: its op in place of Relu.
    pb = tmp_path / "sm" / "saved_model.pb"
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString(pb.read_bytes())
    for function in proto.meta_graphs[0].graph_def.library.function:
        for node in function.node_def:
            if node.op == "Relu":
                node.op = "CaseFoldUTF8"
    pb.write_bytes(proto.SerializeToString())
    with pytest.raises(MissingDependency) as missing:
        loaders.load_model(str(tmp_path / "sm"))
    assert "CaseFoldUTF8" in missing.value.message
    assert "Op type not registered" in missing.value.message
    assert "--import" in missing.value.hint
