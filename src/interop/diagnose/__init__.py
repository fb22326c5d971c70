"""Where parity breaks: the original's layers against the converted model's values.

``diagnose(model, converted)`` returns a :class:`Diagnosis`; see docs/diagnose.md.
Import order inside the package: probes <- scoped <- onnx_nodes/onnx_values/coreml_values
<- torch_layers <- collect_* <- shrink <- core; result and render stand alone.
"""

from __future__ import annotations

from interop.diagnose.core import diagnose
from interop.diagnose.result import Diagnosis, LayerDiff

__all__ = ["Diagnosis", "LayerDiff", "diagnose"]
