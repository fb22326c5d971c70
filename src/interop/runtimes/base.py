"""The runtime protocol, for reference; runtimes are duck-typed classes.

A runtime is a class registered in the ``interop.runtimes`` entry-point group under the
name of the format it runs (``onnx``, ``coreml``, ``torch``, ...). It is used as::

    with RuntimeClass(model, conversion=conversion, threads=1) as rt:
        rt.input_specs()          # tuple[TensorSpec, ...]
        outputs = rt.run(feed)    # dict[str, numpy.ndarray]

``RuntimeClass.available() -> (bool, reason)`` is a class or static method that must not
import the framework (the base class answers from ``requires`` and ``install_hint``).
``model`` is an in-memory model object or a path. For a source framework's
runtime (torch, tensorflow, sklearn) the feed is keyed by the original's input names
(``conversion.input_map`` keys, in order) and the result by the original's output names
(``conversion.output_map`` keys); for a converted format both use the converted model's
names. Loading happens in ``__enter__``, once; a runtime never times itself.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from interop.types import TensorSpec
from interop.util import modules_missing

if TYPE_CHECKING:  # numpy is imported where it is used: --list loads this module
    import numpy as np


class Runtime:
    """Convenience base: stores the arguments and implements the context-manager plumbing."""

    name = ""
    format = ""
    requires: tuple[str, ...] = ()
    install_hint = ""

    @classmethod
    def available(cls) -> tuple[bool, str]:
        missing = modules_missing(cls.requires)
        if missing:
            hint = cls.install_hint or "pip install " + " ".join(missing)
            return False, f"{', '.join(missing)} not installed; {hint}"
        return True, ""

    def __init__(self, model: Any, *, conversion: Any = None, threads: int | None = 1) -> None:
        self.model = model
        self.conversion = conversion
        self.threads = threads

    def __enter__(self) -> Any:
        self.load()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def load(self) -> None:
        """Load the model once (import the framework here)."""

    def close(self) -> None:
        """Release what load() acquired."""

    def input_specs(self) -> tuple[TensorSpec, ...]:
        raise NotImplementedError

    def run(self, feed: dict[str, Any]) -> dict[str, np.ndarray]:
        raise NotImplementedError
