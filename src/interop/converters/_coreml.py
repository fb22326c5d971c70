"""What the Core ML converters share: options, warnings, specs, provenance, saving."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from interop.converters.base import Converter
from interop.errors import InvalidInput
from interop.frameworks.coreml import Captured, import_coremltools, quiet_coremltools
from interop.types import FP16_TOLERANCE, FP32_TOLERANCE, TensorSpec, Tolerance
from interop.util import provenance

PRECISIONS = ("fp16", "fp32")

# Calibrated from the conformance suite's measured worst errors through the reference
# executor (docs/tolerances.md, "Core ML"): fp32 programs match within 1e-6, fp16 programs
# carry fp16 rounding of every intermediate tensor (about 1e-3 relative per op).
TOLERANCES = {"fp32": FP32_TOLERANCE, "fp16": FP16_TOLERANCE}


# Framework names as coremltools' version notes spell them
_FRAMEWORK_WORDS = {
    "torch": ("Torch",),
    "tensorflow": ("TensorFlow", "Keras"),
    "sklearn": ("scikit-learn",),
}
_DROPPED = ("Failed to load _ML", "Implicitly cleaning up", "_TORCH_OPS_REGISTRY")


_TESTED_MAX = {
    "torch": ("Torch", "_TORCH_MAX_VERSION"),
    "tensorflow": ("TensorFlow", "_TF_2_MAX_VERSION"),
}


def untested_version_note(source: str, version: str) -> str:
    """coremltools' own "not tested" note for the source framework, stated on every conversion.

    coremltools says it once, when it is imported; a conversion later in the process should
    still carry it.
    """
    if source not in _TESTED_MAX:
        return ""
    label, attribute = _TESTED_MAX[source]
    try:
        from coremltools import _deps
        from packaging.version import Version

        tested = str(getattr(_deps, attribute))
        if Version(version.split("+")[0]) <= Version(tested):
            return ""
    except Exception:  # a coremltools without this table: say nothing rather than guess
        return ""
    return (
        f"{label} version {version} has not been tested with coremltools "
        f"{_coremltools_version()}; {tested} is the most recent version it was tested with"
    )


def _coremltools_version() -> str:
    import coremltools

    return str(coremltools.__version__)


def relevant_warnings(captured: Captured, source: str) -> list[str]:
    """The captured messages worth a user's attention for a conversion from ``source``.

    Version notes about other frameworks and coremltools-internal deprecations are dropped.
    """
    others = [w for s, words in _FRAMEWORK_WORDS.items() if s != source for w in words]
    kept = []
    for message in captured.messages:
        if any(d in message for d in _DROPPED):
            continue
        if "version" in message and any(message.startswith(w) for w in others):
            continue
        if "has not been tested with coremltools" in message:
            continue  # restated by untested_version_note on every conversion
        if message.startswith("XGBoost"):
            continue
        kept.append(message)
    return kept


class MLProgramConverter(Converter):
    """What the ML-program converters (torch, TensorFlow) share: target, options, tolerance."""

    target: ClassVar[str] = "coreml"
    options: ClassVar[Mapping[str, Any]] = {
        "precision": "fp16",
        "dynamic_batch": True,
        "max_batch": 1024,
        "minimum_deployment_target": None,
    }
    default_tolerance: ClassVar[Tolerance] = TOLERANCES["fp16"]

    @staticmethod
    def _setup(options: Mapping[str, Any]) -> tuple[str, bool, int, Captured, Any, Any]:
        """Checked options, a warning collector, coremltools, and the deployment target."""
        precision = check_precision(options["precision"])
        captured = Captured()
        ct = import_coremltools(captured)
        target = deployment_target(ct, options["minimum_deployment_target"])
        return (
            precision, bool(options["dynamic_batch"]), int(options["max_batch"]), captured, ct,
            target,
        )


def check_precision(value: Any) -> str:
    if value not in PRECISIONS:
        raise InvalidInput(
            f"precision {value!r} is not one of {', '.join(PRECISIONS)}",
            "use precision='fp16' (Core ML's default) or precision='fp32'",
        )
    return str(value)


def compute_precision(ct: Any, precision: str) -> Any:
    return ct.precision.FLOAT32 if precision == "fp32" else ct.precision.FLOAT16


# coremltools' fuse_elementwise_to_batchnorm turns a per-channel mul + add on a rank-4
# tensor into batch_norm(mean=0, variance=1) without setting epsilon, so the op takes MIL's
# default epsilon 1e-5 and computes x * gamma / sqrt(1 + 1e-5) + beta: by the MIL spec's
# batch_norm (which the reference executor follows) every such scale is 5e-6 too small.
# One op costs little; Keras DenseNet121's 62 unfolded inference BatchNormalizations (after
# a concat, not a convolution) compound to 6e-4 relative at the output. Without the pass
# the mul and add stay as they are.
_DROPPED_PASSES = ("common::fuse_elementwise_to_batchnorm",)


def pass_pipeline(ct: Any) -> Any:
    """coremltools' default pass pipeline less the passes that change the numbers."""
    pipeline = ct.PassPipeline()
    pipeline.remove_passes(list(_DROPPED_PASSES))
    return pipeline


def deployment_target(ct: Any, value: Any) -> Any:
    """A coremltools target from None, a ct.target member or its name ("iOS16", "macOS13")."""
    if value is None or not isinstance(value, str):
        return value
    target = getattr(ct.target, value, None)
    if target is None:
        known = ", ".join(t.name for t in ct.target)
        raise InvalidInput(f"unknown minimum_deployment_target {value!r}", f"use one of: {known}")
    return target


def feature_specs(features: Any) -> tuple[TensorSpec, ...]:
    """TensorSpecs from a spec's description inputs or outputs."""
    from interop.coreml_ref.mlprogram import SCALAR_FEATURE_DTYPES, UnsupportedOp, array_dtype

    specs = []
    for feature in features:
        kind = feature.type.WhichOneof("Type")
        if kind == "multiArrayType":
            arr = feature.type.multiArrayType
            shape: list[int | str | None] = [int(s) for s in arr.shape]
            for i, rng in enumerate(arr.shapeRange.sizeRanges):
                if i < len(shape) and rng.lowerBound != rng.upperBound:
                    shape[i] = "batch" if i == 0 else None
            specs.append(
                TensorSpec(feature.name, tuple(shape), array_dtype(arr.dataType, feature.name))
            )
        elif kind in SCALAR_FEATURE_DTYPES:
            specs.append(TensorSpec(feature.name, (), SCALAR_FEATURE_DTYPES[kind]))
        else:
            raise UnsupportedOp(
                f"the Core ML model has a {kind} feature {feature.name!r}, which interop "
                "cannot feed or compare",
                "give the model multiarray, double, int64 or string features",
            )
    return tuple(specs)


def stamp_provenance(mlmodel: Any, fields: dict[str, Any]) -> dict[str, str]:
    """Write :func:`interop.util.provenance` into user_defined_metadata and return it."""
    prov = provenance(fields)
    for key, value in prov.items():
        mlmodel.user_defined_metadata[key] = value
    return prov


def save_mlmodel(mlmodel: Any, path: Path) -> None:
    """Write an ML program as .mlpackage (a directory) or a classic spec as .mlmodel."""
    with quiet_coremltools():
        mlmodel.save(str(path))


def program_ops(mlmodel: Any) -> list[str]:
    """The op types of the model's main function, in order (empty for classic specs)."""
    spec = mlmodel.get_spec()
    if spec.WhichOneof("Type") != "mlProgram":
        return []
    fn = spec.mlProgram.functions["main"]
    return [op.type for op in fn.block_specializations[fn.opset].operations]
