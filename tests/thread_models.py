"""Small real models for the thread and process tests and benchmarks/threads.py.

``build(name)`` returns ``(model, example_inputs)``; it is a plain function of a name so that
a process pool can call it by name in a child (spawn and forkserver pickle by reference).
"""

from __future__ import annotations

from typing import Any

MODELS = (
    "torch_mlp",
    "torch_cnn",
    "torch_norm",
    "keras_dense",
    "sklearn_logreg",
    "sklearn_forest",
    "sklearn_gbr",
    "sklearn_tree",
)
# built on request, not in the thread test (its Core ML route falls back to jit.trace)
EXTRA = ("torch_gru",)


def _x(rows: int, cols: int, seed: int) -> Any:
    import numpy as np

    return np.random.default_rng(seed).normal(size=(rows, cols)).astype(np.float32)


def build(name: str) -> tuple[Any, Any]:
    if name.startswith("torch_"):
        import torch

        torch.manual_seed(len(name))
        nn = torch.nn
        if name == "torch_mlp":
            model = nn.Sequential(nn.Linear(12, 24), nn.ReLU(), nn.Linear(24, 4))
            example: Any = torch.randn(8, 12)
        elif name == "torch_cnn":
            model = nn.Sequential(
                nn.Conv2d(3, 6, 3, padding=1),
                nn.BatchNorm2d(6),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Flatten(),
                nn.Linear(6 * 4 * 4, 5),
            )
            example = torch.randn(8, 3, 8, 8)
        elif name == "torch_norm":
            model = nn.Sequential(
                nn.Linear(16, 16),
                nn.LayerNorm(16),
                nn.GELU(approximate="tanh"),
                nn.Linear(16, 3),
                nn.Softmax(dim=-1),
            )
            example = torch.randn(8, 16)
        elif name == "torch_gru":
            model = _GruHead(torch)
            example = torch.randn(8, 5, 6)
        else:
            raise KeyError(name)
        return model.eval(), (example,)
    if name == "keras_dense":
        import keras

        keras.utils.set_random_seed(4)
        model = keras.Sequential(
            [
                keras.Input(shape=(10,)),
                keras.layers.Dense(16, activation="relu"),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        return model, _x(8, 10, 4)
    if name.startswith("sklearn_"):
        from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.tree import DecisionTreeClassifier

        x = _x(200, 6, 5).astype("float64")
        labels = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int) + (x[:, 2] > 1).astype(int)
        if name == "sklearn_logreg":
            est: Any = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, labels)
        elif name == "sklearn_forest":
            est = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0)
            est.fit(x, labels)
        elif name == "sklearn_gbr":
            est = GradientBoostingRegressor(n_estimators=10, max_depth=3, random_state=0)
            est.fit(x, x[:, 0] * 2 + x[:, 3])
        elif name == "sklearn_tree":
            est = DecisionTreeClassifier(max_depth=5, random_state=0).fit(x, labels)
        else:
            raise KeyError(name)
        return est, x[:16]
    raise KeyError(name)


def _GruHead(torch: Any) -> Any:  # noqa: N802 (a class built where torch is imported)
    class GruHead(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = torch.nn.GRU(6, 8, batch_first=True)
            self.head = torch.nn.Linear(8, 2)

        def forward(self, x: Any) -> Any:
            out, _ = self.gru(x)
            return self.head(out[:, -1])

    return GruHead()


def convert_and_check(name: str, targets: tuple[str, ...] = ("onnx", "coreml")) -> dict[str, Any]:
    """Build, convert to each target and check; figures only (picklable for a process pool)."""
    import os

    import interop

    model, example = build(name)
    out: dict[str, Any] = {"pid": os.getpid()}
    for target in targets:
        conv = interop.convert(model, to=target, example_inputs=example)
        report = interop.check(model, conv, latency=False)
        out[target] = {"passed": bool(report.passed), "max_abs_error": report.worst_abs_error()}
    return out
