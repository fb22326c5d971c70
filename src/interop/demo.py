"""`make demo`: convert one built-in example per framework to ONNX, check each, write reports.

Run as ``python -m interop.demo [--out DIR] [--no-check]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def torch_example() -> tuple[str, Any, Any]:
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 4),
    ).eval()
    stats = dict(model.named_buffers())
    with torch.no_grad():  # non-trivial batch-norm statistics
        stats["1.running_mean"].uniform_(-0.5, 0.5)
        stats["1.running_var"].uniform_(0.5, 2.0)
    x = torch.randn(8, 3, 16, 16)
    return "torch CNN + BatchNorm", model, (x,)


def keras_example() -> tuple[str, Any, Any]:
    from interop.frameworks.tensorflow_import import import_tensorflow

    import_tensorflow()  # TensorFlow's native start-up lines go to the debug log
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(12, 6), name="sequence")
    hidden = keras.layers.LSTM(16)(inputs)
    outputs = keras.layers.Dense(3, activation="gelu", name="scores")(hidden)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).normal(size=(8, 12, 6)).astype("float32")
    return "Keras LSTM + exact GELU", model, x


def sklearn_example() -> tuple[str, Any, Any]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = X.astype("float32")
    model = make_pipeline(StandardScaler(), GradientBoostingClassifier(random_state=0)).fit(X, y)
    return "sklearn scaler + gradient boosting", model, X[:8]


EXAMPLES: list[Callable[[], tuple[str, Any, Any]]] = [torch_example, keras_example, sklearn_example]


def _worst(conversion: Any) -> str:
    errors = [
        o["max_abs_error"]
        for o in conversion.validation.get("outputs", {}).values()
        if o.get("max_abs_error") is not None
    ]
    return f"{max(errors):.2e}" if errors else "labels equal"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m interop.demo", description=__doc__)
    parser.add_argument("--out", default="demo-output", help="where models and reports go")
    parser.add_argument("--no-check", action="store_true", help="convert only, skip the harness")
    args = parser.parse_args(argv)

    import interop

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    failed = False
    for build in EXAMPLES:
        title, model, example = build()
        started = time.perf_counter()
        try:
            conv = interop.convert(model, to="onnx", example_inputs=example)
        except interop.InteropError as exc:
            rows.append((title, "-", "-", "FAILED: " + exc.message, "-", "-"))
            failed = True
            continue
        seconds = time.perf_counter() - started
        slug = conv.source
        path = conv.save(out / f"{slug}.onnx")
        verdict, report_path = "-", "-"
        if not args.no_check:
            report = interop.check(model, conv)
            report_path = str(report.save(out / f"{slug}-report.html"))
            report.save(out / f"{slug}-report.json")
            verdict = "PASS" if report.passed else "FAIL"
            failed = failed or not report.passed
        rows.append((title, conv.converter, f"{seconds:.1f}s", _worst(conv), verdict, report_path))
        del path

    headers = ("model", "converter", "convert", "max abs error", "check", "report")
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if not args.no_check:
        print(f"\nHTML reports: {out.resolve()}/*-report.html")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
