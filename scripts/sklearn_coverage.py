"""Coverage of scikit-learn estimators: every class ``all_estimators()`` lists, to ONNX and Core ML.

Each estimator is built with its default parameters and fitted on a small dataset that ships
with scikit-learn (classifiers on iris, regressors on diabetes, everything else on iris X; text
vectorizers on a dozen sentences written here), then converted and checked with
``interop.check`` (latency off). Writes conformance/results/sklearn_coverage.json and the
generated section of docs/support-matrix.md. Usage::

    python scripts/sklearn_coverage.py [--only NAME ...] [--no-docs] [--out PATH]

``--only`` reruns those estimators and updates their rows in the last full run's results.
Pipeline and ColumnTransformer, which have no defaults, are built as StandardScaler +
LogisticRegression and a StandardScaler/MinMaxScaler column split.

Result per target: ``pass``, ``fail`` (with the first line of the reason) or ``n/a`` (the
estimator cannot be built with defaults, fitted on the data, or has nothing to convert).
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import signal
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "conformance" / "results" / "sklearn_coverage.json"
MATRIX = ROOT / "docs" / "support-matrix.md"
BEGIN, END = "<!-- sklearn-coverage:begin -->", "<!-- sklearn-coverage:end -->"
TIMEOUT_S = 120  # per estimator and target
DOCS = [
    "the cat sat on the mat", "dogs chase cats", "a bird sings at dawn",
    "the dog barks loudly", "cats purr softly", "birds fly south", "my cat likes fish",
    "the dog fetched the stick", "small bird nest", "cat and dog play",
    "singing birds at dusk", "the old dog sleeps",
]
DOC_LABELS = [0, 1, 2, 1, 0, 2, 0, 1, 2, 0, 2, 1]
TEXT = {"CountVectorizer", "TfidfVectorizer", "HashingVectorizer"}
CATEGORICAL = {"OneHotEncoder", "OrdinalEncoder", "TargetEncoder"}
# families of the classic Core ML specs, by the spec type a conversion's sub-models use
SPEC_FAMILIES = {
    "glmClassifier": "GLM", "glmRegressor": "GLM",
    "treeEnsembleClassifier": "tree ensemble", "treeEnsembleRegressor": "tree ensemble",
    "supportVectorClassifier": "SVM", "supportVectorRegressor": "SVM",
    "kNearestNeighborsClassifier": "k-NN",
    "neuralNetworkClassifier": "neural network", "neuralNetworkRegressor": "neural network",
    "neuralNetwork": "neural network",
    "pipeline": "pipeline", "pipelineClassifier": "pipeline", "pipelineRegressor": "pipeline",
    "scaler": "preprocessing", "oneHotEncoder": "preprocessing", "imputer": "preprocessing",
    "normalizer": "preprocessing", "featureVectorizer": "preprocessing",
    "arrayFeatureExtractor": "preprocessing",
}


def _pipeline() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression())


def _column_transformer() -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    return ColumnTransformer(
        [("std", StandardScaler(), [0, 1]), ("minmax", MinMaxScaler(), [2, 3])]
    )


# composites have no defaults to build: each is built as the smallest usual instance
COMPOSITES = {"Pipeline": _pipeline, "ColumnTransformer": _column_transformer}


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _deadline(seconds: int) -> Any:
    def fire(*_: Any) -> None:
        raise _Timeout(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__)[:240]


def _data(name: str, estimator: Any) -> tuple[Any, Any, Any]:
    """(X, y, example) for the estimator's kind."""
    import numpy as np
    from sklearn.base import is_classifier, is_regressor
    from sklearn.datasets import load_diabetes, load_iris

    if name in TEXT:
        return DOCS, DOC_LABELS, DOCS[:8]
    if name in CATEGORICAL:  # encoders take categories: iris measurements in whole cm
        X, y = load_iris(return_X_y=True)
        X = np.round(X).astype(np.int64)
        return X, (y == 0).astype(int) if name == "TargetEncoder" else y, X[:8]
    if is_regressor(estimator):
        X, y = load_diabetes(return_X_y=True)
        y = (y - y.mean()) / y.std()  # float32 accumulation on the raw 25..346 says nothing
    else:
        X, y = load_iris(return_X_y=True)
        if not is_classifier(estimator):
            y = y.astype(float)
    return X, y, X[:8]


def _fit(cls: Any) -> tuple[Any, Any] | str:
    """(fitted estimator, example) or the reason it is not applicable."""
    from threadpoolctl import threadpool_limits

    name = cls.__name__
    try:
        estimator = COMPOSITES[name]() if name in COMPOSITES else cls()
    except TypeError as exc:
        return "needs constructor arguments: " + _first_line(exc)
    try:
        X, y, example = _data(name, estimator)
        with warnings.catch_warnings(), threadpool_limits(limits=1), _deadline(TIMEOUT_S):
            warnings.simplefilter("ignore")
            takes_y = "y" in inspect.signature(estimator.fit).parameters
            estimator.fit(X, y) if takes_y else estimator.fit(X)
    except Exception as exc:  # noqa: BLE001 - a defaults fit failing is a recorded result
        return "does not fit with defaults on the shipped data: " + _first_line(exc)
    methods = ("predict", "predict_proba", "transform", "decision_function")
    if not any(hasattr(estimator, m) for m in methods):
        return "no predict or transform (fit-only: nothing to convert)"
    return estimator, example


def _try(estimator: Any, example: Any, target: str) -> dict[str, Any]:
    import interop

    started = time.perf_counter()
    try:
        with warnings.catch_warnings(), _deadline(TIMEOUT_S):
            warnings.simplefilter("ignore")
            conversion = interop.convert(estimator, to=target, example_inputs=example)
            report = interop.check(estimator, conversion, latency=False)
    except Exception as exc:  # noqa: BLE001 - every failure is a recorded result
        return {"status": "fail", "reason": _first_line(exc),
                "seconds": round(time.perf_counter() - started, 2)}
    result: dict[str, Any] = {"status": "pass" if report.passed else "fail",
                              "seconds": round(time.perf_counter() - started, 2)}
    if not report.passed:
        worst = max((p for p in report.to_dict()["parity"] if not p["passed"]),
                    key=lambda p: p.get("max_abs_error") or 0, default=None)
        result["reason"] = "parity: " + (
            f"{worst['output']} max abs error {worst.get('max_abs_error')}" if worst else "failed"
        )
    if target == "coreml":
        result["spec_families"] = sorted(_families(conversion.model.get_spec()))
    return result


def _families(spec: Any) -> set[str]:
    kind = spec.WhichOneof("Type")
    found = {SPEC_FAMILIES.get(kind, kind)}
    if kind in ("pipeline", "pipelineClassifier", "pipelineRegressor"):
        container = spec.pipeline if kind == "pipeline" else getattr(spec, kind).pipeline
        for sub in container.models:
            found |= _families(sub)
    return found


def run(only: list[str]) -> dict[str, Any]:
    import skl2onnx
    import sklearn
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from sklearn.utils import all_estimators

    registered = {cls.__name__ for cls in sklearn_operator_name_map}
    rows = []
    started = time.perf_counter()
    for name, cls in all_estimators():
        if only and name not in only:
            continue
        row: dict[str, Any] = {"estimator": name, "module": cls.__module__.split("._")[0],
                               "skl2onnx_registered": name in registered}
        fitted = _fit(cls)
        if isinstance(fitted, str):
            row["onnx"] = row["coreml"] = {"status": "n/a", "reason": fitted}
        else:
            for target in ("onnx", "coreml"):
                row[target] = _try(*fitted, target)
        rows.append(row)
        print(f"{name:40s} onnx={row['onnx']['status']:5s} coreml={row['coreml']['status']}",
              file=sys.stderr, flush=True)
    return {
        "schema": "interop.sklearn_coverage/1",
        "versions": {"scikit-learn": sklearn.__version__, "skl2onnx": skl2onnx.__version__},
        "seconds": round(time.perf_counter() - started, 1),
        "counts": _counts(rows),
        "estimators": rows,
    }


def _counts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    counts: dict[str, Any] = {}
    for target in ("onnx", "coreml"):
        registered = [r for r in rows if r["skl2onnx_registered"]]
        for scope, subset in (("all", rows), ("skl2onnx_registered", registered)):
            tally = {"pass": 0, "fail": 0, "n/a": 0}
            for row in subset:
                tally[row[target]["status"]] += 1
            counts[f"{target}/{scope}"] = {**tally, "total": len(subset)}
    families = sorted({f for r in rows if r["coreml"]["status"] == "pass"
                       for f in r["coreml"].get("spec_families", [])})
    counts["coreml/spec_families_passing"] = families
    return counts


def _markdown(result: dict[str, Any]) -> str:
    c = result["counts"]
    reg = c["onnx/skl2onnx_registered"]
    applicable = reg["total"] - reg["n/a"]
    lines = [
        BEGIN,
        "## scikit-learn estimators (generated by scripts/sklearn_coverage.py)",
        "",
        f"scikit-learn {result['versions']['scikit-learn']}, skl2onnx "
        f"{result['versions']['skl2onnx']}; every class `sklearn.utils.all_estimators()` lists, "
        "built with default parameters and fitted on iris (classifiers, others) or diabetes "
        "(regressors); text vectorizers on twelve written sentences. Full run: "
        f"{result['seconds']:.0f} s (`nox -s sklearn_coverage`).",
        "",
        "| scope | target | pass | fail | n/a | total |",
        "|---|---|---|---|---|---|",
    ]
    for key, tally in c.items():
        if "/" in key and isinstance(tally, dict):
            target, scope = key.split("/")
            lines.append(f"| {scope} | {target} | {tally['pass']} | {tally['fail']} | "
                         f"{tally['n/a']} | {tally['total']} |")
    lines += [
        "",
        f"ONNX on the estimators skl2onnx registers, fittable with defaults: {reg['pass']} of "
        f"{applicable} pass ({100 * reg['pass'] / max(applicable, 1):.0f} %).",
        "Core ML spec families used by a passing estimator: "
        + ", ".join(c["coreml/spec_families_passing"]) + ".",
        "",
        "| estimator | skl2onnx | ONNX | Core ML |",
        "|---|---|---|---|",
    ]
    for row in result["estimators"]:
        cells = []
        for target in ("onnx", "coreml"):
            entry = row[target]
            cell = entry["status"]
            if entry.get("reason"):
                cell += ": " + entry["reason"].replace("|", "\\|")
            cells.append(cell)
        mark = "yes" if row["skl2onnx_registered"] else "no"
        lines.append(f"| {row['estimator']} | {mark} | {cells[0]} | {cells[1]} |")
    lines.append(END)
    return "\n".join(lines)


def write_docs(result: dict[str, Any]) -> None:
    text = MATRIX.read_text() if MATRIX.exists() else "# Support matrix\n"
    section = _markdown(result)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    MATRIX.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="estimator class names")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    result = run(args.only)
    if args.only and args.out.exists():  # update those rows of the last full run
        previous = json.loads(args.out.read_text())
        fresh = {row["estimator"]: row for row in result["estimators"]}
        rows = [fresh.pop(row["estimator"], row) for row in previous["estimators"]]
        result = {**previous, "estimators": rows + list(fresh.values()),
                  "counts": _counts(rows + list(fresh.values()))}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    if not args.no_docs:
        write_docs(result)
    print(json.dumps(result["counts"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
