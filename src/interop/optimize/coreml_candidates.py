"""The built-in Core ML variants: fp16 compute, weight palettization and linear int8 weights
(coremltools.optimize). On Linux they are checked with the reference executor, which gives
parity and size but no latency. coremltools is imported inside the builders."""

from __future__ import annotations

import copy
from typing import Any

from interop.converters import _coreml
from interop.optimize.result import PRECISION, QUANTIZE, BuildContext, Candidate, NotApplicable


def _program(mlmodel: Any) -> Any:
    program = getattr(mlmodel, "_mil_program", None)
    if program is None:
        raise NotApplicable("the model carries no MIL program (a loaded or classic Core ML model)")
    return program


def _computes_in_fp16(program: Any) -> bool:
    from coremltools.converters.mil.mil import types

    for function in program.functions.values():
        for op in function.operations:
            if any(getattr(out, "dtype", None) == types.fp16 for out in op.outputs):
                return True
    return False


def _fp16_compute(mlmodel: Any, ctx: BuildContext) -> Any:
    import coremltools as ct

    program = _program(mlmodel)
    if _computes_in_fp16(program):
        raise NotApplicable("the conversion already computes in fp16")
    return ct.convert(
        copy.deepcopy(program),
        convert_to="mlprogram",
        compute_precision=ct.precision.FLOAT16,
        minimum_deployment_target=_deployment_target(mlmodel),
        pass_pipeline=_coreml.pass_pipeline(ct),  # no fused mul + add with a second epsilon
    )


def _deployment_target(mlmodel: Any) -> Any:
    """The deployment target the plain model was written for, so the variant keeps it."""
    import coremltools as ct

    version = mlmodel.get_spec().specificationVersion
    for target in ct.target:
        if target.value == version:
            return target
    return None


def _needs_ml_program(mlmodel: Any) -> None:
    if mlmodel.get_spec().WhichOneof("Type") != "mlProgram":
        raise NotApplicable("coremltools.optimize works on ML programs only")


def _palettize(mlmodel: Any, ctx: BuildContext) -> Any:
    import coremltools.optimize.coreml as cto

    _needs_ml_program(mlmodel)
    config = cto.OptimizationConfig(global_config=cto.OpPalettizerConfig(mode="kmeans", nbits=8))
    return cto.palettize_weights(mlmodel, config)


def _linear_int8(mlmodel: Any, ctx: BuildContext) -> Any:
    import coremltools.optimize.coreml as cto

    _needs_ml_program(mlmodel)
    config = cto.OptimizationConfig(
        global_config=cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8")
    )
    return cto.linear_quantize_weights(mlmodel, config)


def coreml_candidates() -> list[Candidate]:
    """Every built-in Core ML variant."""
    return [
        Candidate("coreml-fp16", PRECISION, "coreml", _fp16_compute, "fp16 compute precision"),
        Candidate(
            "coreml-palettize-8bit",
            QUANTIZE,
            "coreml",
            _palettize,
            "8-bit k-means weight palettization (weights of 2048+ elements)",
        ),
        Candidate(
            "coreml-linear-int8",
            QUANTIZE,
            "coreml",
            _linear_int8,
            "linear symmetric int8 weights (weights of 2048+ elements)",
        ),
    ]
