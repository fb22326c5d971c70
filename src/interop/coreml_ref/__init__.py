"""A numpy reference executor for Core ML models, for platforms without Apple's runtime.

``load_executor(model_or_path)`` returns an executor with ``input_specs()`` and
``run(feed) -> dict[str, ndarray]``: ``mlprogram.MLProgramExecutor`` for ML programs,
``classic.ClassicExecutor`` for the classic specs (pipelines, GLMs, tree ensembles, ...).

Imports run one way only (no module imports this package's ``__init__`` back):
``base <- spec_io``, ``base <- ops_math <- ops_nn, ops_tensor <- optable <- mlprogram``,
``base <- classic_common <- classic_{trees,linear,svm,preprocess,nn} <- classic``, and
``__init__`` imports ``spec_io``, ``mlprogram`` and ``classic`` inside ``load_executor``.
"""

from __future__ import annotations

from typing import Any


def load_executor(model: Any) -> Any:
    """The reference executor for an MLModel, a spec, or a saved .mlpackage / .mlmodel path."""
    from interop.coreml_ref.spec_io import load_spec

    spec, base_dir = load_spec(model)
    if spec.WhichOneof("Type") == "mlProgram":
        from interop.coreml_ref.mlprogram import MLProgramExecutor

        return MLProgramExecutor(spec, base_dir)
    from interop.coreml_ref.classic import ClassicExecutor

    return ClassicExecutor(spec, base_dir)


__all__ = ["load_executor"]
