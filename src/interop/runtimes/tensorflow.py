"""Runs TensorFlow/Keras models as compiled tf.functions, keyed by the model's own names.

The model is reduced to one traced callable by ``interop.frameworks.tensorflow.describe``,
the same one the converters from TensorFlow trace, so both sides compute from the identical
graph.

Threads: TensorFlow fixes its thread pools when it initialises (the first op or trace in the
process). ``threads=`` is applied when that has not happened yet; afterwards it cannot change,
and ``TensorflowRuntime.effective_threads`` reports what TensorFlow actually uses.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from interop.errors import InvalidInput
from interop.frameworks.tensorflow import (
    TfModel,
    describe,
    import_tensorflow,
    tensor_specs,
)
from interop.runtimes.base import Runtime
from interop.types import TensorSpec

if TYPE_CHECKING:  # numpy is imported where it is used: --list loads this module
    import numpy as np

log = logging.getLogger("interop.runtimes.tensorflow")

def set_threads(threads: int | None) -> int | None:
    """Apply ``threads`` to TensorFlow's pools if it has not initialised yet; return what holds."""
    tf = import_tensorflow()
    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(int(threads))
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            log.debug("TensorFlow already initialised; its thread pools stay as they are")
    return tf.config.threading.get_intra_op_parallelism_threads() or None


class TensorflowRuntime(Runtime):
    """Runs a TensorFlow/Keras model through its traced tf.function (never eagerly)."""

    name = "tensorflow"
    format = "tensorflow"
    requires = ("tensorflow",)
    install_hint = "pip install 'interop[tensorflow]'"

    def __init__(self, model: Any, *, conversion: Any = None, threads: int | None = 1) -> None:
        super().__init__(model, conversion=conversion, threads=threads)
        self.effective_threads: int | None = None
        self.tf_model: TfModel | None = None

    def load(self) -> None:
        self.effective_threads = set_threads(self.threads)
        self.tf_model = describe(self.model)

    def close(self) -> None:
        self.tf_model = None

    def _model(self) -> TfModel:
        if self.tf_model is None:
            raise RuntimeError("use TensorflowRuntime as a context manager")
        return self.tf_model

    def _known_specs(self) -> list[Any] | None:
        """Specs from the model's signature, else from the conversion's input specs."""
        tf = import_tensorflow()
        tf_model = self._model()
        if tf_model.inputs is not None:
            return tf_model.specs_for()
        if self.conversion is not None and self.conversion.input_specs:
            by_onnx = {s.name: s for s in self.conversion.input_specs}
            specs = []
            for original, converted in self.conversion.input_map.items():
                spec = by_onnx[converted]
                shape = [d if isinstance(d, int) else None for d in spec.shape]
                specs.append(tf.TensorSpec(shape, tf.as_dtype(spec.dtype), name=original))
            return specs
        return None

    def input_specs(self) -> tuple[TensorSpec, ...]:
        specs = self._known_specs()
        return () if specs is None else tensor_specs(specs)

    def run(self, feed: dict[str, Any]) -> dict[str, np.ndarray]:
        tf = import_tensorflow()
        import numpy as np

        tf_model = self._model()
        missing = [n for n in tf_model.input_names if n not in feed]
        if missing:
            raise InvalidInput(
                f"the feed lacks input(s) {', '.join(missing)} (it has {', '.join(feed)})",
                "key the feed by the model's input names: " + ", ".join(tf_model.input_names),
            )
        arrays = [np.asarray(feed[n]) for n in tf_model.input_names]
        specs = self._known_specs() or tf_model.specs_for(arrays)
        traced = tf_model.trace(specs)
        tensors = [
            tf.convert_to_tensor(a, dtype=s.dtype) for a, s in zip(arrays, specs, strict=True)
        ]
        result = traced.concrete(*tensors)
        return {n: np.asarray(result[n]) for n in traced.output_names}
