"""Random command lines and random file contents: never a traceback, never an undocumented code."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interop.cli import main

ROOT = Path(__file__).resolve().parents[1]
FILES = ROOT / "tests" / "bad_inputs" / "files"
SUFFIXES = (".pt2", ".pt", ".keras", ".h5", ".skops", ".pkl", ".joblib", ".npy", ".npz",
            ".csv", ".parquet", ".onnx", "")
# --allow-pickle is left out on purpose: unpickling random bytes could run arbitrary code,
# which is exactly what the CLI refuses to do without it.
WORDS = ("--to", "onnx", "coreml", "tflite", "-o", "--opset", "18", "99", "--precision",
         "fp16", "fp32", "--converter", "sklearn.onnx", "torch.onnx", "--option", "zipmap=true",
         "a=1", "--input", "x:batch,4:float32", "X:8,4:float64", "x:4", "--sample", "--force",
         "--check", "--report", "--json", "-v", "-q", "--log-level", "debug", "--debug",
         "--no-plugins", "--trust", "--list", "--version", "--help",
         "tests.bad_inputs.factories:raises", "tests.bad_inputs.factories:returns_three")
# No ':' in free text: a random package.module:function would import and call real code.
FREE_TEXT = st.text(st.characters(blacklist_characters=":", blacklist_categories=("Cs",)),
                    max_size=12)


@st.composite
def command_lines(draw):
    suffix = draw(st.sampled_from(SUFFIXES))
    content = draw(st.binary(max_size=600))
    sample_suffix = draw(st.sampled_from((".npy", ".npz", ".csv", ".parquet", ".txt")))
    sample = draw(st.binary(max_size=300))
    tokens = draw(st.lists(
        st.one_of(
            st.sampled_from(WORDS),
            st.sampled_from(("{model}", "{sample}", "{out}", "{good}", "{dir}")),
            FREE_TEXT,
        ),
        max_size=10,
    ))
    return suffix, content, sample_suffix, sample, tokens


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=command_lines())
def test_random_command_lines(case, tmp_path_factory, capsys, monkeypatch):
    suffix, content, sample_suffix, sample_bytes, tokens = case
    monkeypatch.chdir(ROOT)
    folder = tmp_path_factory.mktemp("fuzz")
    model = folder / f"model{suffix}"
    model.write_bytes(content)
    sample = folder / f"sample{sample_suffix}"
    sample.write_bytes(sample_bytes)
    values = {"model": str(model), "sample": str(sample), "out": str(folder / "out.onnx"),
              "good": str(FILES / "tiny.skops"), "dir": str(folder)}
    argv = [values[t[1:-1]] if t[1:-1] in values and t.startswith("{") else t for t in tokens]

    code = main(argv)

    captured = capsys.readouterr()
    assert code in {0, 1, 2, 3, 4}, (argv, captured.err)
    assert "Traceback" not in captured.err + captured.out, argv
    if code != 0:
        errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
        hints = [line for line in captured.err.splitlines() if line.startswith("hint:")]
        assert len(errors) == 1 and len(hints) == 1, (argv, captured.err)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    sample_suffix=st.sampled_from((".npy", ".npz", ".csv")),
    sample_bytes=st.binary(max_size=300),
    extra=st.lists(st.one_of(st.sampled_from(WORDS), FREE_TEXT), max_size=4),
)
def test_random_samples_and_options_for_a_real_model(
    sample_suffix, sample_bytes, extra, tmp_path_factory, capsys
):
    # A valid model and command, so random sample bytes and options reach the readers and
    # the converter instead of failing on the model file.
    folder = tmp_path_factory.mktemp("fuzz-good")
    sample = folder / f"sample{sample_suffix}"
    sample.write_bytes(sample_bytes)
    out = folder / "out.onnx"
    argv = [str(FILES / "tiny.skops"), "--to", "onnx", "-o", str(out), "--sample", str(sample),
            *[t for t in extra if t not in {"--check", "--report"}]]

    code = main(argv)

    captured = capsys.readouterr()
    assert code in {0, 1, 2, 3, 4}, (argv, captured.err)
    assert "Traceback" not in captured.err + captured.out, argv
    if code != 0:
        assert sum(line.startswith("error:") for line in captured.err.splitlines()) == 1, argv
        assert not out.exists()
