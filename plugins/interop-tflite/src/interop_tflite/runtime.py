"""Runs TFLite flatbuffers on LiteRT's Interpreter (``ai_edge_litert``): the ``tflite`` runtime.

The model is a flatbuffer (bytes) or a path to a ``.tflite`` file. Feeds and results are
keyed by the serving signature's names. Inputs are resized to each feed's batch size.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from interop.sdk import Runtime, TensorSpec


def _interpreter(model: Any, threads: int | None) -> Any:
    from ai_edge_litert.interpreter import Interpreter

    if isinstance(model, (str, os.PathLike)):
        return Interpreter(model_path=str(Path(model)), num_threads=threads or -1)
    return Interpreter(model_content=bytes(model), num_threads=threads or -1)


def _specs(details: dict[str, Any]) -> list[TensorSpec]:
    from interop_tflite.converter import spec

    return [spec(name, d["shape_signature"], d["dtype"]) for name, d in details.items()]


def signature(model: Any) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """The serving signature's input and output specs (batch dimension symbolic)."""
    runner = _runner(_interpreter(model, 1))
    return _specs(runner.get_input_details()), _specs(runner.get_output_details())


def _runner(interpreter: Any) -> Any:
    keys = list(interpreter.get_signature_list())
    key = "serving_default" if "serving_default" in keys else (keys[0] if len(keys) == 1 else None)
    if key is None:
        from interop.sdk import InvalidInput

        raise InvalidInput(
            f"the TFLite model has {len(keys)} signatures ({', '.join(keys) or 'none'})",
            "convert with a single serving_default signature",
        )
    return interpreter.get_signature_runner(key)


class TfliteRuntime(Runtime):
    """A LiteRT interpreter with a fixed thread count, used through its serving signature."""

    name = "tflite"
    format = "tflite"
    requires = ("ai_edge_litert",)
    install_hint = "pip install ai-edge-litert"

    def __init__(self, model: Any, *, conversion: Any = None, threads: int | None = 1) -> None:
        super().__init__(model, conversion=conversion, threads=threads)
        self._runner: Any = None
        self._dtypes: dict[str, Any] = {}

    def load(self) -> None:
        self._runner = _runner(_interpreter(self.model, self.threads))
        self._dtypes = {n: d["dtype"] for n, d in self._runner.get_input_details().items()}

    def close(self) -> None:
        self._runner = None

    def input_specs(self) -> tuple[TensorSpec, ...]:
        return tuple(_specs(self._runner.get_input_details()))

    def run(self, feed: dict[str, Any]) -> dict[str, np.ndarray]:
        args = {n: np.asarray(v, dtype=self._dtypes.get(n)) for n, v in feed.items()}
        # The runner hands back views into the interpreter's buffers; copy before the next call.
        return {k: np.array(v, copy=True) for k, v in self._runner(**args).items()}
