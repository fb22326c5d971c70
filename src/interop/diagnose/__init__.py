"""Where parity breaks: the original's layers against the converted model's values.

``diagnose(model, converted)`` returns a :class:`Diagnosis`; see docs/diagnose.md.
Import order inside the package: probes <- scoped <- onnx_nodes/onnx_values/coreml_values
<- torch_layers <- collect_* <- shrink <- core; result and render stand alone.

``interop.diagnose`` is both this package and the public function: importing a submodule
binds the package to that name on ``interop``, so the package is callable and answers
like the function (as ``interop.converters`` does).
"""

from __future__ import annotations

from interop._lazy import callable_package
from interop.diagnose.core import diagnose
from interop.diagnose.result import Diagnosis, LayerDiff

callable_package(__name__, "interop.diagnose.core:diagnose")

__all__ = ["Diagnosis", "LayerDiff", "diagnose"]
