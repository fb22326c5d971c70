""".pt2 files: pytree types of installed packages load, the user's own need --import --trust,
and every kind of load failure gets its own error and hint. All files are real: written by
torch.export.save in a separate process (so this process has imported none of their types),
then cut short, replaced or edited inside the zip where a test needs a bad one.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from interop import loaders
from interop.cli import main
from interop.errors import InvalidInput, MissingDependency

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
HAVE_TRANSFORMERS = importlib.util.find_spec("transformers") is not None
# Unique module names: importing one here registers its type for the rest of the session.
OWN = "interop_t15_own_outputs"
GONE = "interop_t15_gone_outputs"

USER_MODULE = """
from dataclasses import dataclass
import torch

@dataclass
class Out:
    y: torch.Tensor

torch.export.register_dataclass(Out, serialized_type_name=__name__ + ".Out")

class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, x):
        return Out(self.linear(x))
"""

MAKE = f"""
import sys, torch
torch.manual_seed(0)
out = sys.argv[1]
sys.path.insert(0, out + "/own")
sys.path.insert(0, out + "/gone")
import {OWN}, {GONE}
x = torch.randn(3, 4)
for name, mod in (("own", {OWN}), ("gone", {GONE})):
    torch.export.save(torch.export.export(mod.Model(), (x,)), f"{{out}}/{{name}}.pt2")
plain = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
torch.export.save(torch.export.export(plain, (x,)), out + "/plain.pt2")
if sys.argv[2] == "bert":
    from transformers import BertConfig, BertForSequenceClassification
    config = BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, vocab_size=1000)
    model = BertForSequenceClassification(config).eval()
    ids = torch.randint(0, 1000, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.long)
    torch.export.save(torch.export.export(model, (ids, mask)), out + "/bert.pt2")
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """own.pt2 / gone.pt2 (outputs a dataclass from a user's module), plain.pt2, bert.pt2."""
    out = tmp_path_factory.mktemp("pt2")
    for name, module in (("own", OWN), ("gone", GONE)):
        (out / name).mkdir()
        (out / name / f"{module}.py").write_text(USER_MODULE)
    subprocess.run([sys.executable, "-c", MAKE, str(out), "bert" if HAVE_TRANSFORMERS else ""],
                   check=True, env=_env(), timeout=300)
    (out / "gone" / f"{GONE}.py").unlink()  # that code is gone: nothing can register its type
    return out


def _run_cli(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    errors = [ln for ln in captured.err.splitlines() if ln.startswith("error:")]
    hints = [ln for ln in captured.err.splitlines() if ln.startswith("hint:")]
    assert "Traceback" not in captured.err
    return code, errors, hints


def _rewrite(src: Path, dst: Path, edit) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, edit(info.filename, zin.read(info.filename)))
    return dst


# -- the case: a Hugging Face model -------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_TRANSFORMERS, reason="transformers is not installed")
def test_bert_pt2_converts_and_checks_from_the_cli(files, tmp_path):
    names = loaders.pytree.treespec_type_names(files / "bert.pt2")
    assert "transformers.modeling_outputs.SequenceClassifierOutput" in names
    report = tmp_path / "report.json"
    # a fresh process that has not imported transformers, exactly as a user runs it
    run = subprocess.run(
        [sys.executable, "-m", "interop.cli", files / "bert.pt2", "--to", "onnx", "-o",
         tmp_path / "bert.onnx", "--check", "--report", report],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert "check: passed" in run.stdout
    assert json.loads(report.read_text())["passed"] is True
    assert (tmp_path / "bert.onnx").is_file()


@pytest.mark.skipif(not HAVE_TRANSFORMERS, reason="transformers is not installed")
def test_bert_pt2_loads_in_a_process_that_never_imported_transformers(files):
    code = ("import sys; from interop import loaders; "
            "assert 'transformers' not in sys.modules; "
            f"loaded = loaders.load_model({str(files / 'bert.pt2')!r}); "
            "print(loaded.kind, 'transformers.modeling_outputs' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["torch.export", "True"]


# -- pytree types -----------------------------------------------------------------------------


def test_type_names_are_read_from_the_treespecs(files):
    names = loaders.pytree.treespec_type_names(files / "own.pt2")
    assert f"{OWN}.Out" in names and "builtins.tuple" in names


def test_a_type_whose_package_is_not_installed_names_it_and_what_to_install(files, capsys):
    with pytest.raises(MissingDependency) as missing:
        loaders.load_model(str(files / "gone.pt2"))
    assert f"{GONE}.Out" in missing.value.message and "not installed" in missing.value.message
    assert f"pip install {GONE}" in missing.value.hint
    code, errors, hints = _run_cli([files / "gone.pt2", "--to", "onnx", "-o",
                                    files / "x.onnx"], capsys)
    assert code == 4 and len(errors) == len(hints) == 1
    assert not (files / "x.onnx").exists()


def test_torchs_own_pytree_message_is_quoted_when_it_fails_anyway(files):
    from interop.loaders.torch import pt2_failure, torch_messages

    with torch_messages() as messages, pytest.raises(RuntimeError) as raw:
        torch.export.load(str(files / "gone.pt2"))
    error = pt2_failure(files / "gone.pt2", raw.value, messages)
    assert f'"Deserializing {GONE}.Out in pytree is not registered.' in error.message
    assert f"--import {GONE} --trust" in error.hint


def test_own_code_is_imported_only_with_import_and_trust(files, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(files / "own"))  # findable, as from its own directory
    with pytest.raises(InvalidInput) as own:
        loaders.load_model(str(files / "own.pt2"))
    assert "not part of an installed package" in own.value.message
    assert f"--import {OWN} --trust" in own.value.hint
    with pytest.raises(InvalidInput) as untrusted:
        loaders.load_model(str(files / "own.pt2"), imports=[OWN])
    assert "--trust" in untrusted.value.hint
    assert OWN not in sys.modules
    code, errors, _ = _run_cli([files / "own.pt2", "--to", "onnx", "-o", files / "x.onnx",
                                "--import", OWN], capsys)
    assert code == 2 and "would run that code" in errors[0]
    loaded = loaders.load_model(str(files / "own.pt2"), imports=[OWN], trust=True)
    assert loaded.kind == "torch.export" and OWN in sys.modules


# -- the other kinds of failure, one each -------------------------------------------------------


def test_version_mismatch_quotes_both_versions(files, tmp_path, capsys):
    def newer(name, data):
        if not name.endswith("models/model.json"):
            return data
        record = json.loads(data)
        record["schema_version"]["major"] += 1
        record["torch_version"] = "2.99.0"
        return json.dumps(record).encode()

    bad = _rewrite(files / "plain.pt2", tmp_path / "newer.pt2", newer)
    code, errors, hints = _run_cli([bad, "--to", "onnx", "-o", tmp_path / "x.onnx"], capsys)
    assert code == 2
    assert "saved by torch 2.99.0" in errors[0] and torch.__version__ in errors[0]
    assert "does not match our current schema version" in errors[0]  # torch's own line
    assert "export the model again" in hints[0]


def test_archive_version_mismatch(files, tmp_path, capsys):
    bad = _rewrite(files / "plain.pt2", tmp_path / "archive.pt2",
                   lambda n, d: b"9" if n.endswith("/archive_version") else d)
    code, errors, _ = _run_cli([bad, "--to", "onnx", "-o", tmp_path / "x.onnx"], capsys)
    assert code == 2 and "Saved archive version 9 does not match" in errors[0]


def test_truncated_file(files, tmp_path, capsys):
    data = (files / "plain.pt2").read_bytes()
    bad = tmp_path / "cut.pt2"
    bad.write_bytes(data[: len(data) * 2 // 3])
    code, errors, hints = _run_cli([bad, "--to", "onnx", "-o", tmp_path / "x.onnx"], capsys)
    assert code == 2 and "truncated" in errors[0] and "cut short" in hints[0]
    # the loader says the same when called directly (torch's failure is classified too)
    with pytest.raises(InvalidInput) as direct:
        loaders.torch.load_exported_program(bad)
    assert "truncated" in direct.value.message


def test_not_a_pt2_at_all(tmp_path, capsys):
    bad = tmp_path / "notes.pt2"
    bad.write_text("these are my notes, not a model\n")
    code, errors, hints = _run_cli([bad, "--to", "onnx", "-o", tmp_path / "x.onnx"], capsys)
    assert code == 2 and "not a zip archive at all" in errors[0]
    assert "torch.export.save" in hints[0]


def test_plain_program_still_loads(files):
    loaded = loaders.load_model(str(files / "plain.pt2"))
    assert loaded.kind == "torch.export" and loaded.example_inputs is not None
