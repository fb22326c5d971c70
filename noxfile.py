"""The matrix: lint, types, one test session per framework extra, plugins, docs, compat.

Every session installs from constraints.txt (torch only ever as the pinned 2.13.0 CPU
build); ``compat`` changes only the pins it names. Sessions reuse their virtualenvs, so a
second run skips the installs: ``nox -l`` lists them, ``nox -s tests-torch`` runs one,
``nox -s compat`` runs the whole version matrix and writes docs/compatibility.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
CONSTRAINTS = ROOT / "constraints.txt"
PYTHON = "3.11"

nox.options.default_venv_backend = "virtualenv"  # measured 2x faster to create than venv
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "typecheck"]

TEST_TOOLS = ("pytest", "pytest-xdist", "hypothesis")

# Tests each framework extra must pass on its own (only that extra installed). Tests that
# need several frameworks at once run in `make test`, where everything is installed.
FRAMEWORK_TESTS = {
    "torch": ["tests/test_torch_onnx.py"],
    "tensorflow": ["tests/test_tf_onnx.py"],
    "sklearn": [
        "tests/test_sklearn_onnx.py",
        "tests/test_testing_kit.py",
        "tests/test_third_party_plugin.py",
    ],
    # The classic-spec executor's tests build Core ML protos directly: coremltools alone.
    "coreml": ["tests/test_coreml_classic.py"],
}
FRAMEWORK_MODULES = {
    "torch": "torch",
    "tensorflow": "tensorflow",
    "sklearn": "sklearn",
    "coreml": "coremltools",
}
ONLY_MINE = (
    "import importlib.util, sys; found = [m for m in sys.argv[1:] if importlib.util.find_spec(m)]; "
    "sys.exit(f'other frameworks are installed: {found}' if found else 0)"
)

# compat: id -> (group, extras, pins changed from constraints.txt, case families, converters)
COMPAT = {
    "sklearn-1.9": (
        "sklearn",
        "sklearn",
        {"scikit-learn": "1.9.1", "skl2onnx": "1.20.0"},
        ["sklearn_models"],
        ["sklearn.onnx"],
    ),
    "sklearn-1.8": (
        "sklearn",
        "sklearn",
        {"scikit-learn": "1.8.0", "skl2onnx": "1.20.0"},
        ["sklearn_models"],
        ["sklearn.onnx"],
    ),
    "sklearn-1.7": (
        "sklearn",
        "sklearn",
        {"scikit-learn": "1.7.2", "skl2onnx": "1.20.0"},
        ["sklearn_models"],
        ["sklearn.onnx"],
    ),
    "sklearn-1.6": (
        "sklearn",
        "sklearn",
        {"scikit-learn": "1.6.1", "skl2onnx": "1.20.0"},
        ["sklearn_models"],
        ["sklearn.onnx"],
    ),
    "skl2onnx-1.19": (
        "sklearn",
        "sklearn",
        {"scikit-learn": "1.7.2", "skl2onnx": "1.19.1"},
        ["sklearn_models"],
        ["sklearn.onnx"],
    ),
    "skl2onnx-1.18": (
        "sklearn",
        "sklearn",
        {"scikit-learn": "1.6.1", "skl2onnx": "1.18.0", "onnx": "1.17.0"},
        ["sklearn_models"],
        ["sklearn.onnx"],
    ),
    "ort-1.32": (
        "onnxruntime",
        "sklearn",
        {"onnxruntime": "1.32.0"},
        ["sklearn_models"],
        ["sklearn.onnx"],
    ),
    "ort-1.24": (
        "onnxruntime",
        "sklearn",
        {"onnxruntime": "1.24.4"},
        ["sklearn_models"],
        ["sklearn.onnx"],
    ),
    "tf-2.21": (
        "tensorflow",
        "tensorflow",
        {"tensorflow-cpu": "2.21.0", "tf2onnx": "1.17.0"},
        ["keras_models"],
        ["tensorflow.onnx"],
    ),
    "tf-2.20": (
        "tensorflow",
        "tensorflow",
        {"tensorflow-cpu": "2.20.0", "tf2onnx": "1.17.0"},
        ["keras_models"],
        ["tensorflow.onnx"],
    ),
    "numpy-2.4": (
        "coreml",
        "coreml,torch,sklearn",
        {"numpy": "2.4.6", "coremltools": "9.0"},
        ["torch_models", "sklearn_models"],
        ["torch.coreml", "sklearn.coreml"],
    ),
    "numpy-2.3": (
        "coreml",
        "coreml,torch,sklearn",
        {"numpy": "2.3.5", "coremltools": "9.0"},
        ["torch_models", "sklearn_models"],
        ["torch.coreml", "sklearn.coreml"],
    ),
}

# What we learned about an environment, printed under its table.
COMPAT_NOTES = {
    "skl2onnx-1.19": "skl2onnx 1.19.1 writes numpy booleans into integer attributes of "
    "TreeEnsemble nodes, which the pinned protobuf (7.36) refuses ('Expected an int, got a "
    "boolean'): decision trees, forests and GradientBoosting fail to convert. Use skl2onnx "
    "1.20.",
    "skl2onnx-1.18": "skl2onnx 1.18.0 imports onnx.mapping (missing from the pinned onnx "
    "1.23) and onnx.helper.split_complex_to_pairs (missing from onnx 1.18), so this row uses "
    "onnx 1.17.0; tree models then fail as with skl2onnx 1.19.1.",
}

PLUGINS = {
    "interop-boosting": "plugins/interop-boosting[xgboost-cpu,lightgbm]",
    "interop-tflite": "plugins/interop-tflite",
}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def constraints(session: nox.Session, overrides: dict[str, str] | None = None) -> str:
    """constraints.txt less the pins ``overrides`` replaces, as a file for pip's -c."""
    drop = {_canonical(name) for name in overrides or {}}
    kept = [
        line
        for line in CONSTRAINTS.read_text().splitlines()
        if not line.strip()
        or line.lstrip().startswith("#")
        or _canonical(re.split(r"[=<>!~ ]", line.strip(), maxsplit=1)[0]) not in drop
    ]
    path = Path(session.create_tmp()) / "constraints.txt"
    path.write_text("\n".join(kept) + "\n")
    return str(path)


def install(
    session: nox.Session, *requirements: str, overrides: dict[str, str] | None = None
) -> None:
    pins = [f"{name}=={version}" for name, version in (overrides or {}).items()]
    session.install("-c", constraints(session, overrides), *requirements, *pins)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over everything written in Python."""
    install(session, "ruff")
    session.run(
        "ruff",
        "check",
        "src",
        "tests",
        "conformance",
        "benchmarks",
        "plugins",
        "scripts",
        "noxfile.py",
    )


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy on src/ (configuration in pyproject.toml)."""
    install(session, "mypy", "-e", ".")
    session.run("mypy")


def _framework_session(framework: str) -> None:
    @nox.session(python=PYTHON, name=f"tests-{framework}")
    def tests(session: nox.Session) -> None:
        install(session, "-e", f".[{framework}]", *TEST_TOOLS)
        # Proof that the extra stands alone: no other framework came along with it.
        others = [m for f, m in FRAMEWORK_MODULES.items() if f != framework]
        session.run("python", "-c", ONLY_MINE, *others)
        session.run(
            "python",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *FRAMEWORK_TESTS[framework],
            *session.posargs,
        )

    tests.__doc__ = f"tests for the {framework} extra, with only that extra installed"


for _framework in FRAMEWORK_TESTS:
    _framework_session(_framework)


@nox.session(python=PYTHON)
def plugins(session: nox.Session) -> None:
    """install plugins/* through their own pyproject and run each plugin's tests."""
    install(
        session,
        "-e",
        ".[tensorflow,sklearn]",
        "pytest",
        *[f"-e{spec}" for spec in PLUGINS.values()],
    )
    for name in PLUGINS:
        session.run(
            "python",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"plugins/{name}/tests",
            *session.posargs,
        )
    session.run("interop-convert", "--list")


@nox.session(python=PYTHON)
def conformance(session: nox.Session) -> None:
    """the conformance suite (python -m conformance); rewrites its results and support matrix."""
    install(session, "-e", ".[all]")
    session.run("python", "-m", "conformance", *session.posargs)


@nox.session(python=PYTHON)
def zoo(session: nox.Session) -> None:
    """the zoo tier: real architectures (Hugging Face, Keras Applications, scikit-learn and
    boosting on shipped datasets) to ONNX and Core ML; rewrites conformance/results/zoo.json
    and the zoo section of the support matrix. Pass -- --jobs 2 on two idle cores (the whole
    tier, ONNX and Core ML, took 943 s that way on 2 cores; --planted about doubles it)."""
    install(session, "-e", ".[all,zoo]", "-e", "plugins/interop-boosting[xgboost-cpu,lightgbm]")
    session.run("python", "-m", "conformance", "--tier", "zoo", "--target", "onnx",
                "--target", "coreml", *session.posargs)


@nox.session(python=PYTHON)
def sklearn_coverage(session: nox.Session) -> None:
    """every scikit-learn estimator to ONNX and Core ML; rewrites
    conformance/results/sklearn_coverage.json and its support-matrix section (4-8 min measured
    on 2 shared cores: 253 s alone, 486 s beside a second run)."""
    install(session, "-e", ".[sklearn,coreml]")
    session.run("python", "scripts/sklearn_coverage.py", *session.posargs)


@nox.session(python=PYTHON)
def large(session: nox.Session) -> None:
    """models over 2 GB (issue 14): torch and Keras to ONNX, torch to Core ML (fp16, fp32),
    each converted, saved and checked in a subprocess that reports its peak RSS. One at a
    time: each needs about 8 GB of free memory and 6 GB of disk."""
    install(session, "-e", ".[torch,tensorflow,coreml]", *TEST_TOOLS)
    session.run(
        "python", "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-m", "large",
        "tests/test_large_models.py", *session.posargs, env={"INTEROP_LARGE": "1"},
    )


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """build the documentation site with mkdocs, warnings as errors, no network."""
    install(session, "mkdocs")
    session.run("mkdocs", "build", "--strict", "--site-dir", "build/site")


@nox.session(python=PYTHON)
@nox.parametrize("env", list(COMPAT), ids=list(COMPAT))
def compat(session: nox.Session, env: str) -> None:
    """one environment of the version matrix; rewrites docs/compatibility.md."""
    group, extras, overrides, families, converters = COMPAT[env]
    install(session, "-e", f".[{extras}]", "pytest", overrides=overrides)
    args = ["--id", env, "--group", group]
    args += [f"--family={f}" for f in families] + [f"--converter={c}" for c in converters]
    if env in COMPAT_NOTES:
        args.append(f"--note={COMPAT_NOTES[env]}")
    session.run("python", "scripts/compat.py", "run", *args)
    session.run("python", "scripts/compat.py", "table")
