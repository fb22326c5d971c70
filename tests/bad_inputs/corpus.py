"""The bad-input corpus: each case is a command line, its documented exit code, and a phrase
its one ``error:`` line must contain.

In ``argv``, ``{f}`` is this directory's ``files/`` folder and ``{out}`` a fresh output path
in a temporary directory ``{tmp}`` (the test asserts that nothing is written there;
``{existing}`` is a file already there, which must be left alone). Factories are
named from the repository root, which the tests make the current directory.
"""

from __future__ import annotations

from dataclasses import dataclass

USAGE, BAD_INPUT, CONVERSION, MISSING = 2, 2, 3, 4
FACTORY = "tests.bad_inputs.factories"
GOOD = "{f}/tiny.skops"  # a valid 4-feature LogisticRegression, for option-level cases


@dataclass(frozen=True)
class BadCase:
    id: str
    argv: tuple[str, ...]
    exit_code: int
    phrase: str


def _c(case_id: str, argv: str, exit_code: int, phrase: str) -> BadCase:
    return BadCase(case_id, tuple(argv.split()), exit_code, phrase)


CASES = [
    # the model file itself
    _c("missing-file", "{f}/no_such_model.pt2 --to onnx -o {out}", BAD_INPUT, "does not exist"),
    _c("empty-pt2", "{f}/empty.pt2 --to onnx -o {out}", BAD_INPUT, "is empty"),
    _c("empty-keras", "{f}/empty.keras --to onnx -o {out}", BAD_INPUT, "is empty"),
    _c("empty-skops", "{f}/empty.skops --to onnx -o {out}", BAD_INPUT, "is empty"),
    _c("empty-h5", "{f}/empty.h5 --to onnx -o {out}", BAD_INPUT, "is empty"),
    _c("random-pt2", "{f}/random.pt2 --to onnx -o {out}", BAD_INPUT, "not a readable"),
    _c("random-pt", "{f}/random.pt --to onnx -o {out}", BAD_INPUT, "not a TorchScript"),
    _c("random-keras", "{f}/random.keras --to onnx -o {out}", BAD_INPUT, "not a readable"),
    _c("random-h5", "{f}/random.h5 --to onnx -o {out}", BAD_INPUT, "not an HDF5 file"),
    _c("text-h5", "{f}/text.h5 --to onnx -o {out}", BAD_INPUT, "not an HDF5 file"),
    _c("random-skops", "{f}/random.skops --to onnx -o {out}", BAD_INPUT, "not a readable"),
    _c("truncated-pt2", "{f}/truncated.pt2 --to onnx -o {out}", BAD_INPUT, "not a readable"),
    _c("truncated-torchscript", "{f}/truncated_script.pt --to onnx -o {out}", BAD_INPUT,
       "not a readable"),
    _c("truncated-keras", "{f}/truncated.keras --to onnx -o {out}", BAD_INPUT, "not a readable"),
    _c("truncated-skops", "{f}/truncated.skops --to onnx -o {out}", BAD_INPUT, "not a readable"),
    _c("wrong-zip-pt2", "{f}/wrong_zip.pt2 --to onnx -o {out}", BAD_INPUT, "not a torch.export"),
    _c("wrong-zip-keras", "{f}/wrong_zip.keras --to onnx -o {out}", BAD_INPUT,
       "not a Keras model"),
    _c("wrong-zip-skops", "{f}/wrong_zip.skops --to onnx -o {out}", BAD_INPUT,
       "not a skops file"),
    _c("dir-not-savedmodel", "{f}/not_a_savedmodel --to onnx -o {out}", BAD_INPUT,
       "not a SavedModel"),
    _c("corrupt-savedmodel", "{f}/corrupt_savedmodel --to onnx -o {out}", BAD_INPUT,
       "as a SavedModel"),
    _c("already-onnx", "{f}/model.onnx --to onnx -o {out}", BAD_INPUT, "already a converted"),
    _c("unknown-suffix", "{f}/model.xyz --to onnx -o {out}", BAD_INPUT, "unknown model file type"),
    # safety: code-running formats without opt-in
    _c("pickle-refused", "{f}/model.pkl --to onnx -o {out}", BAD_INPUT, "unpickling runs"),
    _c("joblib-refused", "{f}/random.joblib --to onnx -o {out}", BAD_INPUT, "unpickling runs"),
    _c("torch-pickle-refused", "{f}/whole_model.pt --to onnx -o {out}", BAD_INPUT,
       "whole-model torch pickle"),
    _c("state-dict", "{f}/state_dict.pt --to onnx -o {out} --allow-pickle", BAD_INPUT,
       "state dict"),
    _c("corrupt-pickle", "{f}/corrupt.pkl --to onnx -o {out} --allow-pickle", BAD_INPUT,
       "cannot load"),
    _c("keras-lambda-unsafe", "{f}/lambda.keras --to onnx -o {out}", BAD_INPUT, "safe mode"),
    _c("skops-untrusted", "{f}/untrusted.skops --to onnx -o {out}", BAD_INPUT,
       "corpus_custom_types.CustomScaler"),
    # command line
    _c("no-arguments", "", USAGE, "no MODEL"),
    _c("no-target", GOOD + " -o {out}", USAGE, "--to is required"),
    _c("no-output", GOOD + " --to onnx", USAGE, "-o OUT is required"),
    _c("unknown-flag", GOOD + " --to onnx -o {out} --frobnicate", USAGE, "unrecognized"),
    _c("unknown-target", GOOD + " --to onnx2 -o {out}", USAGE, "unknown target format"),
    _c("opset-too-high", GOOD + " --to onnx -o {out} --opset 99", USAGE, "out of range"),
    _c("opset-zero", GOOD + " --to onnx -o {out} --opset 0", USAGE, "out of range"),
    _c("opset-not-int", GOOD + " --to onnx -o {out} --opset eighteen", USAGE, "integer"),
    _c("opset-for-coreml", GOOD + " --to coreml -o {tmp}/m.mlpackage --opset 13", USAGE,
       "applies to ONNX"),
    _c("bad-precision", GOOD + " --to onnx -o {out} --precision fp8", USAGE, "invalid choice"),
    _c("bad-log-level", GOOD + " --to onnx -o {out} --log-level LOUD", USAGE, "--log-level"),
    _c("malformed-option", GOOD + " --to onnx -o {out} --option novalue", USAGE, "KEY=VALUE"),
    _c("unknown-option", GOOD + " --to onnx -o {out} --option colour=1", BAD_INPUT,
       "unknown option"),
    _c("unknown-converter", GOOD + " --to onnx -o {out} --converter nope.onnx", CONVERSION,
       "no converter named"),
    _c("converter-wrong-source", GOOD + " --to onnx -o {out} --converter torch.onnx", BAD_INPUT,
       "not sklearn to onnx"),
    _c("tolerance-malformed", GOOD + " --to onnx -o {out} --tolerance 1e-5,x", BAD_INPUT,
       "--tolerance"),
    _c("tolerance-negative", GOOD + " --to onnx -o {out} --tolerance -1", BAD_INPUT,
       "numbers >= 0"),
    # example inputs
    _c("input-no-dtype", GOOD + " --to onnx -o {out} --input x:4", BAD_INPUT,
       "NAME:SHAPE:DTYPE"),
    _c("input-negative-dim", GOOD + " --to onnx -o {out} --input x:batch,-1:float32", BAD_INPUT,
       "dimension"),
    _c("input-bad-dtype", GOOD + " --to onnx -o {out} --input x:batch,4:complex64", BAD_INPUT,
       "unknown dtype"),
    _c("input-wrong-shape", GOOD + " --to onnx -o {out} --input x:batch,5:float32", BAD_INPUT,
       "expects"),
    _c("sample-wrong-shape", GOOD + " --to onnx -o {out} --sample {f}/sample_3cols.npy",
       BAD_INPUT, "expects"),
    _c("sample-missing", GOOD + " --to onnx -o {out} --sample {f}/nope.npy", BAD_INPUT,
       "does not exist"),
    _c("sample-random-bytes", GOOD + " --to onnx -o {out} --sample {f}/random.npy", BAD_INPUT,
       "cannot read"),
    _c("sample-object-pickle", GOOD + " --to onnx -o {out} --sample {f}/sample_object.npy",
       BAD_INPUT, "cannot read"),
    _c("sample-text-columns", GOOD + " --to onnx -o {out} --sample {f}/text_columns.csv",
       BAD_INPUT, "not numeric"),
    _c("sample-empty-csv", GOOD + " --to onnx -o {out} --sample {f}/empty.csv", BAD_INPUT,
       "is empty"),
    _c("sample-unsupported", GOOD + " --to onnx -o {out} --sample {f}/sample.txt", BAD_INPUT,
       "unsupported file type"),
    _c("sample-and-input", GOOD + " --to onnx -o {out} --sample {f}/sample_4cols.npy "
       "--input x:batch,4:float32", BAD_INPUT, "not both"),
    # output paths
    _c("output-missing-dir", GOOD + " --to onnx -o {out}/../no_such_dir/m.onnx", BAD_INPUT,
       "does not exist"),
    _c("output-exists", GOOD + " --to onnx -o {existing}", BAD_INPUT, "already exists"),
    _c("output-wrong-suffix", GOOD + " --to onnx -o {out}.mlpackage", BAD_INPUT,
       "names a coreml file"),
    _c("report-bad-suffix", GOOD + " --to onnx -o {out} --report {out}.txt", BAD_INPUT,
       "unknown report format"),
    # factories
    _c("factory-raises", f"{FACTORY}:raises --to onnx -o {{out}}", BAD_INPUT, "raised ValueError"),
    _c("factory-returns-none", f"{FACTORY}:returns_none --to onnx -o {{out}}", BAD_INPUT,
       "returned None"),
    _c("factory-returns-three", f"{FACTORY}:returns_three --to onnx -o {{out}}", BAD_INPUT,
       "tuple of 3"),
    _c("factory-not-a-model", f"{FACTORY}:returns_string --to onnx -o {{out}}", BAD_INPUT,
       "not a model"),
    _c("factory-not-callable", f"{FACTORY}:NOT_CALLABLE --to onnx -o {{out}}", BAD_INPUT,
       "not callable"),
    _c("factory-missing-attr", f"{FACTORY}:no_such_function --to onnx -o {{out}}", BAD_INPUT,
       "has no attribute"),
    _c("factory-missing-module", "interop_no_such_pkg.models:build --to onnx -o {out}",
       BAD_INPUT, "cannot import"),
    _c("factory-module-raises", "tests.bad_inputs.broken_module:build --to onnx -o {out}",
       BAD_INPUT, "raised RuntimeError"),
    _c("factory-exits", f"{FACTORY}:exits --to onnx -o {{out}}", BAD_INPUT, "sys.exit"),
    _c("factory-missing-dependency", f"{FACTORY}:needs_missing_module --to onnx -o {{out}}",
       MISSING, "interop_no_such_module"),
    _c("torch-no-signature", f"{FACTORY}:tiny_torch_no_inputs --to onnx -o {{out}}", BAD_INPUT,
       "no input signature"),
    _c("torch-input-does-not-fit",
       f"{FACTORY}:tiny_torch_no_inputs --to onnx -o {{out}} --input x:batch,5:float32",
       BAD_INPUT, "does not accept"),
    # the conversion itself
    _c("unsupported-control-flow", f"{FACTORY}:data_dependent --to onnx -o {{out}}", CONVERSION,
       "torch.onnx"),
]
