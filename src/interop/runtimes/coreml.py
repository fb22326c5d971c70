"""Runs Core ML models: Apple's runtime on macOS, interop's numpy reference executor elsewhere.

The reference executor checks numbers, not speed: its latency says nothing about Apple
hardware, so ``measures_latency`` is False and the harness reports no latency for it.
Set ``INTEROP_COREML_REFERENCE=1`` to use the reference executor on macOS too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interop._lazy import LazyModule
from interop.errors import InvalidInput
from interop.frameworks.coreml import quiet_coremltools
from interop.runtimes.base import Runtime
from interop.types import TensorSpec

if TYPE_CHECKING:
    import numpy as np
else:  # numpy loads when a conversion or run first needs it
    np = LazyModule("numpy")


def native_available() -> bool:
    """True where Apple's Core ML runtime can predict (macOS), unless the user opted out."""
    return sys.platform == "darwin" and os.environ.get("INTEROP_COREML_REFERENCE", "") in ("", "0")


class CoremlRuntime(Runtime):
    """``model`` is a coremltools MLModel, a Model_pb2 spec, or a .mlpackage/.mlmodel path."""

    name = "coreml-native" if native_available() else "coreml-reference"
    format = "coreml"
    measures_latency = native_available()

    requires = ("coremltools",)
    install_hint = "pip install 'interop[coreml]'"

    def __init__(self, model: Any, *, conversion: Any = None, threads: int | None = 1) -> None:
        super().__init__(model, conversion=conversion, threads=threads)
        self.native = native_available()
        self.name = "coreml-native" if self.native else "coreml-reference"
        self.measures_latency = self.native
        self._executor: Any = None
        self._mlmodel: Any = None

    def load(self) -> None:
        if self.native:
            with quiet_coremltools():
                import coremltools as ct

                model = self.model
                if isinstance(model, (str, Path)):
                    model = ct.models.MLModel(str(model))
                elif not hasattr(model, "predict"):
                    model = ct.models.MLModel(model)
            self._mlmodel = model
            return
        from interop.coreml_ref import load_executor

        with quiet_coremltools():
            self._executor = load_executor(self.model)

    def close(self) -> None:
        self._executor = None
        self._mlmodel = None

    def input_specs(self) -> tuple[TensorSpec, ...]:
        if self._executor is not None:
            return tuple(self._executor.input_specs())
        from interop.coreml_ref.mlprogram import input_specs_of

        return input_specs_of(self._mlmodel.get_spec())

    def run(self, feed: dict[str, Any]) -> dict[str, np.ndarray]:
        if self._executor is None and self._mlmodel is None:
            raise InvalidInput("the Core ML runtime was not loaded", "use it as a context manager")
        if self._executor is not None:
            return self._executor.run(feed)
        result = self._mlmodel.predict({k: np.asarray(v) for k, v in feed.items()})
        return {k: np.asarray(v) for k, v in result.items()}
