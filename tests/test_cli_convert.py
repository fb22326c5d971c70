"""interop-convert end to end: every accepted kind of model file, converted, then re-run.

Each test converts through the CLI (in process: ``main(argv)``), then loads the written
ONNX file in onnxruntime and compares it with the original model on fresh seeded inputs.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from interop.cli import main

ROOT = Path(__file__).resolve().parents[1]
MAX_ABS = 1e-5


def run_onnx(path: Path, *arrays: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {i.name: a for i, a in zip(session.get_inputs(), arrays, strict=True)}
    return session.run(None, feed)


def convert(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def fresh_x(rows: int = 5, cols: int = 4, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, cols)).astype(np.float32)


# -- torch -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch_files(tmp_path_factory):
    import torch

    from tests.bad_inputs.factories import tiny_torch

    folder = tmp_path_factory.mktemp("torch")
    model, (x,) = tiny_torch()
    program = torch.export.export(
        model, (x,), dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=1024)},)
    )
    torch.export.save(program, folder / "model.pt2")
    torch.jit.save(torch.jit.script(model), folder / "model.pt")
    return folder, model


def torch_reference(model, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def test_pt2_with_check_report_and_json(torch_files, tmp_path, capsys):
    folder, model = torch_files
    out, report = tmp_path / "model.onnx", tmp_path / "report.json"
    code, stdout, _ = convert([str(folder / "model.pt2"), "--to", "onnx", "-o", str(out),
                               "--check", "--report", str(report), "--json"], capsys)
    assert code == 0
    summary = json.loads(stdout)  # stdout holds the JSON summary and nothing else
    assert summary["status"] == "ok" and summary["converter"] == "torch.onnx"
    assert summary["check"] == {"passed": True, "report": str(report)}
    assert json.loads(report.read_text())["passed"] is True
    x = fresh_x()
    (got,) = run_onnx(out, x)
    assert np.abs(got - torch_reference(model, x)).max() <= MAX_ABS


def test_torchscript_with_generated_input(torch_files, tmp_path, capsys):
    folder, model = torch_files
    out = tmp_path / "model.onnx"
    code, stdout, err = convert([str(folder / "model.pt"), "--to", "onnx", "-o", str(out),
                                 "--input", "x:batch,4:float32", "--check"], capsys)
    assert code == 0, err
    assert stdout.startswith(f"wrote {out}") and "check: passed" in stdout
    x = fresh_x()
    (got,) = run_onnx(out, x)
    assert np.abs(got - torch_reference(model, x)).max() <= MAX_ABS


def test_factory_and_force(tmp_path, capsys, monkeypatch):
    from tests.bad_inputs.factories import tiny_torch

    monkeypatch.chdir(ROOT)
    out = tmp_path / "model.onnx"
    out.write_bytes(b"an older model")
    code, _, err = convert(["tests.bad_inputs.factories:tiny_torch", "--to", "onnx", "-o",
                            str(out), "--force", "--opset", "18"], capsys)
    assert code == 0, err
    x = fresh_x()
    (got,) = run_onnx(out, x)
    assert np.abs(got - torch_reference(tiny_torch()[0], x)).max() <= MAX_ABS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]  # no temp left


def test_optimize_writes_the_best_variant_and_prints_the_table(tmp_path, capsys, monkeypatch):
    from tests.bad_inputs.factories import wide_torch

    monkeypatch.chdir(ROOT)
    out = tmp_path / "model.onnx"
    code, stdout, err = convert(["tests.bad_inputs.factories:wide_torch", "--to", "onnx", "-o",
                                 str(out), "--optimize", "fp32", "--json"], capsys)
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["optimize"]["profile"] == "fp32" and summary["optimize"]["best"]
    # whatever variant won, the written file matches the original under the fp32 profile
    x = fresh_x(cols=32)
    (got,) = run_onnx(out, x)
    expected = torch_reference(wide_torch()[0], x)
    assert np.all(np.abs(got - expected) <= 1e-4 + 1e-4 * np.abs(expected))
    code, stdout, err = convert(["tests.bad_inputs.factories:wide_torch", "--to", "onnx", "-o",
                                 str(out), "--optimize", "fp32", "--force"], capsys)
    assert code == 0, err
    assert "plain" in stdout and "ort-basic" in stdout  # the candidate table


# -- keras / tensorflow ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    folder = tmp_path_factory.mktemp("keras")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,), name="features")
    hidden = keras.layers.Dense(8, activation="tanh")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, name="scores")(hidden))
    model.save(folder / "model.keras")
    model.save(folder / "model.h5")
    model.export(str(folder / "saved_model"), verbose=False)
    return folder, model


@pytest.mark.parametrize("name", ["model.keras", "model.h5", "saved_model"])
def test_keras_files(keras_files, name, tmp_path, capsys):
    folder, model = keras_files
    out = tmp_path / "model.onnx"
    code, stdout, err = convert([str(folder / name), "--to", "onnx", "-o", str(out)], capsys)
    assert code == 0, err
    assert "tensorflow -> onnx" in stdout
    x = fresh_x()
    (got,) = run_onnx(out, x)
    assert np.abs(got - np.asarray(model(x))).max() <= MAX_ABS


# -- scikit-learn ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sklearn_files(tmp_path_factory):
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("sklearn")
    rng = np.random.default_rng(0)
    features = rng.standard_normal((60, 4))
    labels = (features[:, 0] - features[:, 2] > 0.1).astype(int) + (features[:, 1] > 1)
    model = LogisticRegression(max_iter=500).fit(features, labels)
    sio.dump(model, folder / "model.skops")
    (folder / "model.pkl").write_bytes(pickle.dumps(model))
    np.save(folder / "sample.npy", features[:16])
    return folder, model


def assert_classifier_parity(out: Path, model) -> None:
    x = fresh_x(rows=40)
    label, probabilities = run_onnx(out, x)
    np.testing.assert_array_equal(label, model.predict(x))
    assert np.abs(probabilities - model.predict_proba(x)).max() <= MAX_ABS


def test_skops_with_sample_and_check(sklearn_files, tmp_path, capsys):
    folder, model = sklearn_files
    out, report = tmp_path / "model.onnx", tmp_path / "report.md"
    code, stdout, err = convert([str(folder / "model.skops"), "--to", "onnx", "-o", str(out),
                                 "--sample", str(folder / "sample.npy"), "--report",
                                 str(report)], capsys)
    assert code == 0, err
    assert "check: passed" in stdout and report.read_text().strip()
    assert_classifier_parity(out, model)


def test_pickle_only_with_allow_pickle(sklearn_files, tmp_path, capsys):
    folder, model = sklearn_files
    out = tmp_path / "model.onnx"
    refused, _, err = convert([str(folder / "model.pkl"), "--to", "onnx", "-o", str(out)],
                              capsys)
    assert refused == 2 and "unpickling runs arbitrary code" in err and not out.exists()
    code, _, err = convert([str(folder / "model.pkl"), "--to", "onnx", "-o", str(out),
                            "--allow-pickle"], capsys)
    assert code == 0, err
    assert_classifier_parity(out, model)


def test_parity_failure_exits_1_and_writes_no_output(tmp_path, capsys, monkeypatch):
    # A tolerance that the float32 rounding of 256-term dot products cannot meet: a real
    # check that really fails.
    monkeypatch.chdir(ROOT)
    out, report = tmp_path / "model.onnx", tmp_path / "report.json"
    code, stdout, err = convert(["tests.bad_inputs.factories:wide_torch", "--to", "onnx", "-o",
                                 str(out),
                                 "--tolerance", "1e-12,0", "--report", str(report), "--json"],
                                capsys)
    assert code == 1, err
    assert json.loads(stdout)["status"] == "parity_failed"
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        line for line in err.splitlines() if line.startswith("error: parity failed")
    ]
    assert json.loads(report.read_text())["passed"] is False
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_factory_to_coreml(tmp_path, capsys, monkeypatch):
    import interop
    from tests.bad_inputs.factories import tiny_torch

    monkeypatch.chdir(ROOT)
    out = tmp_path / "model.mlpackage"
    code, stdout, err = convert(["tests.bad_inputs.factories:tiny_torch", "--to", "coreml",
                                 "-o", str(out), "--precision", "fp32", "--json"], capsys)
    assert code == 0, err
    assert json.loads(stdout)["converter"] == "torch.coreml" and out.is_dir()
    # The written package, re-read from disk, against the original on fresh inputs.
    report = interop.check(tiny_torch()[0], str(out), latency=False)
    assert report.passed, report.failures
    assert max(row["max_abs_error"] for row in report.to_dict()["parity"]) <= MAX_ABS
