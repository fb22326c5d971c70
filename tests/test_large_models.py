"""Models over 2 GB (issue 14): external data, the atomic .onnx + data pair, the size check.

The fast tests run everywhere (``make test``): they lower the external-data threshold
(``INTEROP_ONNX_EXTERNAL_DATA_BYTES``) so that a small model takes the large-model path.
The tests marked ``large`` convert, save and check real models of about 2.4 GB and report
the peak RSS of the process that did it; they exist only when ``INTEROP_LARGE=1`` (the nox
session ``large`` sets it), so ``make test`` neither runs nor skips them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import interop
from interop.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD_ENV = "INTEROP_ONNX_EXTERNAL_DATA_BYTES"
LARGE = os.environ.get("INTEROP_LARGE") == "1"


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def _small_torch():
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(256, 512), torch.nn.ReLU(), torch.nn.Linear(512, 8)
    )
    return model, (torch.randn(2, 256),)


# -- fast: small models, lowered threshold ---------------------------------------------


def test_small_models_stay_one_self_contained_file(tmp_path):
    import onnx

    model, x = _small_torch()
    conv = interop.convert(model, to="onnx", example_inputs=x)
    assert isinstance(conv.model, onnx.ModelProto)
    conv.save(tmp_path / "m.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_over_the_threshold_weights_stay_external_and_the_pair_moves(tmp_path, monkeypatch):
    import onnx

    from interop.frameworks.onnx import ExternalOnnx

    monkeypatch.setenv(THRESHOLD_ENV, "100000")
    model, x = _small_torch()
    conv = interop.convert(model, to="onnx", example_inputs=x)
    assert isinstance(conv.model, ExternalOnnx)
    first = tmp_path / "a"
    first.mkdir()
    conv.save(first / "m.onnx")
    assert sorted(p.name for p in first.iterdir()) == ["m.onnx", "m.onnx.data"]
    graph = onnx.load(str(first / "m.onnx"), load_external_data=False)
    locations = {
        e.value
        for t in graph.graph.initializer
        for e in t.external_data
        if e.key == "location"
    }
    assert locations == {"m.onnx.data"}  # relative: the pair can move
    onnx.checker.check_model(str(first / "m.onnx"))
    moved = tmp_path / "b"
    first.rename(moved)
    report = interop.check(model, str(moved / "m.onnx"), batch_sizes=(1, 4), latency=False)
    assert report.passed, report.failures
    assert "interop.io" in {p.key for p in graph.metadata_props}


_KILL_SCRIPT = """
import os, sys, time, shutil
os.environ["{env}"] = "100000"
import torch, interop
import interop.frameworks.onnx as onnx_fw

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(1024, 1024), torch.nn.Linear(1024, 8))
conv = interop.convert(model, to="onnx", example_inputs=(torch.randn(2, 1024),))

def slow_copy(src, dst):  # the data file copied slowly: the parent kills us mid-copy
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while True:
            chunk = fin.read(1 << 16)
            if not chunk:
                return dst
            fout.write(chunk)
            fout.flush()
            time.sleep(0.05)

onnx_fw.shutil.copyfile = slow_copy
print("saving", flush=True)
conv.save(sys.argv[1])
print("saved", flush=True)
"""


def test_a_kill_during_save_leaves_neither_file(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    script = tmp_path / "save_and_die.py"
    script.write_text(_KILL_SCRIPT.format(env=THRESHOLD_ENV))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(out / "m.onnx")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=_env(),
    )
    try:
        assert proc.stdout.readline().strip() == "saving"
        deadline = time.monotonic() + 120
        partial: list[Path] = []
        while time.monotonic() < deadline and not partial:
            partial = [p for p in out.glob(".m.onnx.*.tmp/m.onnx.data") if p.stat().st_size]
            time.sleep(0.02)
        assert partial, "the save never started writing its data file"
        os.kill(proc.pid, signal.SIGKILL)  # a real kill: no finally, no atexit
        proc.wait(30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "m.onnx").exists() and not (out / "m.onnx.data").exists()
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == []
    # the next save to that name removes the killed one's temporary directory
    model, x = _small_torch()
    os.environ[THRESHOLD_ENV] = "100000"
    try:
        interop.convert(model, to="onnx", example_inputs=x).save(out / "m.onnx")
    finally:
        del os.environ[THRESHOLD_ENV]
    assert sorted(p.name for p in out.iterdir()) == ["m.onnx", "m.onnx.data"]


def test_an_error_during_save_leaves_neither_file(tmp_path, monkeypatch):
    import onnx

    monkeypatch.setenv(THRESHOLD_ENV, "100000")
    model, x = _small_torch()
    conv = interop.convert(model, to="onnx", example_inputs=x)

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(onnx, "save_model", broken)  # the graph fails after the data file
    with pytest.raises(InvalidInput, match="disk is full"):
        conv.save(tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


@contextlib.contextmanager
def _tmpfs(path: Path, size: str, readonly: bool = False):
    """A real tmpfs of ``size`` at ``path``; None where mounting is not allowed."""
    path.mkdir()
    opts = f"size={size}" + (",ro" if readonly else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)],
                          capture_output=True)
    try:
        yield path if done.returncode == 0 else None
    finally:
        if done.returncode == 0:
            subprocess.run(["umount", str(path)], capture_output=True)


def test_a_full_disk_is_named_before_writing_with_the_size_needed(tmp_path, monkeypatch):
    """On a real 4 MB tmpfs when this machine allows mounting (root), else with statvfs
    reporting 4 MB free: the save fails first, names the size, and leaves nothing."""
    monkeypatch.setenv(THRESHOLD_ENV, "100000")
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(1024, 2048), torch.nn.Linear(2048, 8))
    conv = interop.convert(model, to="onnx", example_inputs=(torch.randn(2, 1024),))
    with _tmpfs(tmp_path / "small", "4m") as mounted:
        target = mounted or tmp_path / "small"
        if mounted is None:
            real = os.statvfs

            class _Small:
                def __init__(self, st):
                    self.f_frsize, self.f_bavail = 4096, 1024  # 4 MB free

            monkeypatch.setattr(os, "statvfs", lambda p: _Small(real(p)))
        with pytest.raises(InvalidInput) as info:
            conv.save(target / "m.onnx")
        message = str(info.value)
        assert "not enough disk space" in message and "MB needed" in message, message
        assert "opset" not in message
        assert list(target.iterdir()) == []
    print("full-disk test ran on", "a real tmpfs" if mounted else "a patched statvfs")


def test_a_read_only_directory_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv(THRESHOLD_ENV, "100000")
    model, x = _small_torch()
    conv = interop.convert(model, to="onnx", example_inputs=x)
    with _tmpfs(tmp_path / "ro", "1m", readonly=True) as mounted:
        if mounted is None:  # not root: a directory without write permission
            (tmp_path / "ro").chmod(0o555)
        target = tmp_path / "ro"
        if os.access(target, os.W_OK):
            pytest.fail("cannot make a read-only directory here")
        with pytest.raises(InvalidInput, match="not writable"):
            conv.save(target / "m.onnx")


def test_the_cli_writes_and_reports_both_files(tmp_path):
    import torch

    model, x = _small_torch()
    program = torch.export.export(model, x)
    torch.export.save(program, str(tmp_path / "m.pt2"))
    out = tmp_path / "out.onnx"
    done = subprocess.run(
        [sys.executable, "-m", "interop.cli", str(tmp_path / "m.pt2"), "--to", "onnx",
         "-o", str(out), "--json"],
        capture_output=True, text=True, env=_env(**{THRESHOLD_ENV: "100000"}), timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["files"] == [str(out), str(out) + ".data"]
    assert out.is_file() and Path(str(out) + ".data").is_file()


def _small_keras():
    """Conv2D (1.2 MB kernel) + BatchNormalization + Dense (1.1 MB kernel), random statistics
    and biases so that no layer is an identity."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(7)
    inputs = keras.Input((8, 8, 128), name="image")
    y = keras.layers.Conv2D(256, 3, padding="same", name="conv")(inputs)
    y = keras.layers.BatchNormalization(name="bn")(y)
    y = keras.layers.GlobalAveragePooling2D()(y)
    outputs = keras.layers.Dense(1100, name="logits")(y)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(7)
    for layer in model.layers:
        if layer.weights and layer.name != "image":
            layer.set_weights([
                rng.uniform(0.5, 1.5, w.shape).astype("float32") if "variance" in w.path
                else (rng.standard_normal(w.shape) * 0.05).astype("float32")
                for w in layer.weights
            ])
    x = rng.standard_normal((4, 8, 8, 128)).astype("float32")
    return model, x


def test_keras_big_variables_are_written_once_as_external_weights(tmp_path, monkeypatch):
    """Past the threshold, big Keras variables never become frozen constants: they reach the
    data file straight from the variables, with tf2onnx's kernel Transpose folded in."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    from interop.frameworks.onnx import ExternalOnnx

    monkeypatch.setenv(THRESHOLD_ENV, "100000")
    model, x = _small_keras()
    conv = interop.convert(model, to="onnx", example_inputs=x)
    assert isinstance(conv.model, ExternalOnnx)
    graph = conv.model.graph
    initializers = {t.name: t for t in graph.initializer}
    external = {t.name for t in graph.initializer
                if t.data_location == onnx.TensorProto.EXTERNAL}
    assert {"conv/kernel", "logits/kernel"} <= external
    assert [i.name for i in graph.input] == ["image"]
    on_weights = [n.op_type for n in graph.node if set(n.input) & set(initializers)
                  and n.op_type in ("Transpose", "Reshape", "Cast", "Identity")]
    assert on_weights == []
    ops = [n.op_type for n in graph.node]
    assert ops.count("Conv") == 1 and "Mul" not in ops, ops  # the batch norm folded

    path = conv.save(tmp_path / "m.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.onnx.data"]
    saved = onnx.load(str(path))  # weights read back from the data file
    values = {t.name: numpy_helper.to_array(t) for t in saved.graph.initializer}
    kernel = model.get_layer("conv").kernel.numpy()  # HWIO
    assert values["conv/kernel"].shape == (256, 128, 3, 3)  # OIHW
    bn = model.get_layer("bn")  # its scale folded into the kernel, as grappler did frozen
    scale = bn.gamma.numpy() / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)
    np.testing.assert_allclose(values["conv/kernel"],
                               kernel.transpose(3, 2, 0, 1) * scale[:, None, None, None],
                               rtol=1e-6, atol=0)
    np.testing.assert_array_equal(values["logits/kernel"],
                                  model.get_layer("logits").kernel.numpy())

    report = interop.check(model, conv, batch_sizes=(1, 4), latency=False)
    assert report.passed, report.failures
    by_path = interop.check(model, str(path), batch_sizes=(1,), latency=False)
    assert by_path.passed, by_path.failures

    # a planted fault: the Keras kernel moved by 1% after conversion must be caught
    layer = model.get_layer("conv")
    layer.kernel.assign(layer.kernel.numpy() * 1.01)
    faulty = interop.check(model, conv, batch_sizes=(1, 4), latency=False)
    assert not faulty.passed
    assert any("logits" in f and "max abs error" in f for f in faulty.failures), faulty.failures


def test_keras_big_variables_below_the_threshold_stay_in_one_file(tmp_path, monkeypatch):
    """The same route below the external-data threshold (taken there past ROUTE_BYTES, 64 MiB;
    lowered here): the variables' bytes go into the proto, one self-contained file."""
    import onnx
    from onnx import numpy_helper

    from interop.converters import tf_onnx_large

    monkeypatch.setattr(tf_onnx_large, "ROUTE_BYTES", 2**20)
    model, x = _small_keras()
    conv = interop.convert(model, to="onnx", example_inputs=x)
    assert isinstance(conv.model, onnx.ModelProto)
    values = {t.name: numpy_helper.to_array(t) for t in conv.model.graph.initializer}
    assert values["conv/kernel"].shape == (256, 128, 3, 3)
    conv.save(tmp_path / "m.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
    report = interop.check(model, conv, batch_sizes=(1, 4), latency=False)
    assert report.passed, report.failures


# -- large: about 2.4 GB of fp32 weights, peak RSS measured in a subprocess -------------

_MEASURE = """
import json, os, resource, sys, time
from pathlib import Path
import numpy as np

def peak_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB -> GB

kind, out = sys.argv[1], Path(sys.argv[2])
base = peak_gb()
t0 = time.time()
{build}
built = peak_gb()
import interop
{convert}
t1 = time.time()
converted = peak_gb()
path = conv.save(out)
saved = peak_gb()
t2 = time.time()
del conv
report = interop.check(model, str(path), batch_sizes=(1,), latency=False)
t3 = time.time()
files = sorted(p.name for p in out.parent.iterdir() if not p.name.startswith("."))
size = sum((out.parent / f).stat().st_size if (out.parent / f).is_file() else
           sum(q.stat().st_size for q in (out.parent / f).rglob("*") if q.is_file())
           for f in files)
print(json.dumps({{"kind": kind, "weights_gb": weights / 1e9, "passed": report.passed,
    "failures": report.failures[:3], "files": files, "saved_gb": size / 1e9,
    "peak_gb": {{"imports": base, "model": built, "convert": converted, "save": saved,
                "check": peak_gb()}},
    "seconds": {{"convert": t1 - t0, "save": t2 - t1, "check": t3 - t2}}}}))
"""

_TORCH_BUILD = """
import torch
torch.manual_seed(0)
with torch.no_grad():
    model = torch.nn.Sequential(*[torch.nn.Linear(10000, 10000) for _ in range(6)]).eval()
    for layer in model:  # small weights keep six layers' outputs finite
        layer.weight.mul_(0.5)
weights = sum(p.numel() * p.element_size() for p in model.parameters())
x = torch.randn(2, 10000)
"""

_KERAS_BUILD = """
import keras
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((10000,))] + [keras.layers.Dense(10000) for _ in range(6)])
weights = sum(int(np.prod(w.shape)) * 4 for w in model.weights)
x = np.random.default_rng(0).standard_normal((2, 10000)).astype("float32")
"""

_CASES = {
    "torch-onnx": (_TORCH_BUILD, 'conv = interop.convert(model, to="onnx", example_inputs=(x,))',
                   "model.onnx"),
    "keras-onnx": (_KERAS_BUILD, 'conv = interop.convert(model, to="onnx", example_inputs=x)',
                   "model.onnx"),
    "torch-coreml-fp16": (_TORCH_BUILD, 'conv = interop.convert(model, to="coreml", '
                          'example_inputs=(x,), precision="fp16")', "model.mlpackage"),
    "torch-coreml-fp32": (_TORCH_BUILD, 'conv = interop.convert(model, to="coreml", '
                          'example_inputs=(x,), precision="fp32")', "model.mlpackage"),
}


def _free_gb() -> float:
    with open("/proc/meminfo") as f:
        info = {ln.split(":")[0]: int(ln.split()[1]) for ln in f}
    return info["MemAvailable"] / 1e6


def _run_large(kind: str, tmp_path: Path) -> dict:
    build, convert, name = _CASES[kind]
    if _free_gb() < 8:
        pytest.fail(f"{kind}: only {_free_gb():.1f} GB of memory available; 8 GB needed")
    script = tmp_path / "measure.py"
    script.write_text(_MEASURE.format(build=textwrap.indent(build, "").strip(),
                                      convert=convert))
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run([sys.executable, str(script), kind, str(out / name)],
                          capture_output=True, text=True, env=_env(), timeout=3600)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    sys.stderr.write(f"\n{kind}: {json.dumps(result)}\n")
    if os.environ.get("INTEROP_LARGE_LOG"):  # one JSON line per model, for the record
        with open(os.environ["INTEROP_LARGE_LOG"], "a") as log:
            log.write(json.dumps(result) + "\n")
    assert result["passed"], result["failures"]
    assert result["weights_gb"] > 2.147
    return result


if LARGE:

    @pytest.mark.large
    def test_large_torch_to_onnx_converts_saves_and_checks(tmp_path):
        result = _run_large("torch-onnx", tmp_path)
        assert result["files"] == ["model.onnx", "model.onnx.data"]
        assert result["peak_gb"]["check"] <= 3 * result["weights_gb"], result

    @pytest.mark.large
    def test_large_keras_to_onnx_converts_saves_and_checks(tmp_path):
        result = _run_large("keras-onnx", tmp_path)
        assert result["files"] == ["model.onnx", "model.onnx.data"]
        assert result["peak_gb"]["check"] <= 3 * result["weights_gb"], result

    @pytest.mark.large
    def test_large_torch_to_coreml_fp16(tmp_path):
        result = _run_large("torch-coreml-fp16", tmp_path)
        assert result["files"] == ["model.mlpackage"]

    @pytest.mark.large
    def test_large_torch_to_coreml_fp32(tmp_path):
        result = _run_large("torch-coreml-fp32", tmp_path)
        assert result["files"] == ["model.mlpackage"]
