"""convert() and check(): orchestration of registry, converters, runtimes and harness."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from interop import registry
from interop.detect import detect_path, detect_source
from interop.errors import ConversionError, InvalidInput
from interop.types import Conversion, ConverterInfo

log = logging.getLogger("interop")


def converters() -> list[ConverterInfo]:
    """Every registered converter with its availability, read without importing frameworks."""
    return registry.converter_infos()


def convert(
    model: Any,
    to: str = "onnx",
    example_inputs: Any = None,
    *,
    converter: str | None = None,
    opset: int | None = None,
    dynamic_batch: bool | None = None,
    precision: str | None = None,
    options: Mapping[str, Any] | None = None,
    optimize: str | None = None,
) -> Conversion:
    """Convert ``model`` to the target format and check it against the original.

    The result has passed the converter's own validity checks and one run on the example
    inputs that matches the original within the converter's default tolerance; anything
    else raises ConversionError (or InvalidInput / MissingDependency) with the cause.
    ``optimize="fp32"`` (or "fp16", "int8") then returns the fastest variant that passes
    that profile against the original (see ``interop.optimize``); its summary is in
    ``result.validation["optimization"]``.
    """
    if not isinstance(to, str) or not to:
        raise InvalidInput(f"target {to!r} is not a format name", "use to='onnx' or to='coreml'")
    if isinstance(model, (str, os.PathLike)):  # a model file or directory (SavedModel)
        source = detect_path(os.fspath(model))
    else:
        source = detect_source(model, registry.known_sources())
    conv = registry.resolve(source, to, converter)
    given: dict[str, Any] = dict(options or {})
    for key, value in (
        ("opset", opset),
        ("dynamic_batch", dynamic_batch),
        ("precision", precision),
    ):
        if value is not None:
            if key in given:
                raise InvalidInput(
                    f"{key} given twice", f"pass {key}= or options[{key!r}], not both"
                )
            given[key] = value
    log.info("converting %s model to %s with %s", source, to, conv.name)
    conversion = conv.convert(model, example_inputs, **given)
    if not isinstance(conversion, Conversion):
        raise ConversionError(
            f"converter {conv.name!r} returned {type(conversion).__name__}, not a Conversion",
            "the converter is broken; report it to its authors",
        )
    try:
        validate(model, conversion)
    except ConversionError as exc:
        if not _may_widen_precision(to, given, exc):
            raise
        conversion = _convert_fp32(conv, model, example_inputs, given, exc)
    if optimize is not None:
        from interop.optimize.search import optimize as optimize_conversion

        found = optimize_conversion(model, conversion, profile=optimize)
        conversion = found.best
        conversion.validation["optimization"] = {
            "profile": found.profile,
            "best": found.best_name,
            "speedup": found.speedup,
        }
    return conversion


def _may_widen_precision(to: str, given: Mapping[str, Any], exc: ConversionError) -> bool:
    """Core ML's default fp16 failed on a model that fp16 rounding alone moves too far, and
    the caller did not ask for a precision: fp32 is the faithful conversion."""
    return to == "coreml" and "precision" not in given and exc.fp16_sensitivity is not None


def _convert_fp32(
    conv: Any, model: Any, example_inputs: Any, given: Mapping[str, Any], exc: ConversionError
) -> Conversion:
    """Convert again at fp32 after the default fp16 program could not match; say so in the
    warnings and the provenance (also in the model's metadata)."""
    note = (
        f"converted at precision fp32, not the default fp16: rounding only the inputs to fp16 "
        f"moves the original's own outputs by {exc.fp16_sensitivity:.2g} (relative RMS), more "
        f"than an fp16 program can match; pass precision='fp16' to insist"
    )
    log.info("%s", note)
    conversion = conv.convert(model, example_inputs, **{**given, "precision": "fp32"})
    try:
        validate(model, conversion)
    except ConversionError as again:
        raise ConversionError(
            f"{again.message}; fp16 failed first: {exc.message}", again.hint
        ) from again
    conversion.warnings.append(note)
    conversion.provenance["interop.precision_fallback"] = note
    metadata = getattr(conversion.model, "user_defined_metadata", None)
    if metadata is not None:
        metadata["interop.precision_fallback"] = note
    return conversion


def validate(model: Any, conversion: Conversion, tolerance: Any = None) -> None:
    """Judge ``conversion`` against ``model`` on its example feed, as ``check`` would.

    Raises ConversionError naming the output that differs and by how much.
    """
    from interop.harness.validate import validate_conversion

    validate_conversion(model, conversion, tolerance)


def environment(*names: str) -> dict[str, str]:
    """Python, platform, interop and the installed versions of the frameworks involved."""
    from interop.harness.environment import environment as _environment

    return _environment(*names)


def runtimes() -> list[Any]:
    """Every registered runtime (a way to run a format) with its availability."""
    return registry.runtime_infos()


def check(
    model: Any,
    converted: Any,
    *,
    inputs: Any = None,
    batch_sizes: tuple[int, ...] = (1, 8),
    tolerance: Any = None,
    profile: str | None = None,
    latency: bool = True,
    threads: int = 1,
    isolate: bool = False,
    timeout: float = 600.0,
    memory_limit_mb: int | None = None,
    raise_on_failure: bool = False,
    seed: int = 0,
    warmup: int = 3,
    repeat: int = 100,
    time_budget_s: float = 1.0,
    case: str | None = None,
    case_tolerance: Any = None,
    diagnose: bool = False,
) -> Any:
    """Run ``converted`` beside the original ``model`` on identical inputs; return a Report.

    ``converted`` is a Conversion or the path of a saved model. ``tolerance`` is a profile
    name ("fp32", "fp16", "strict"), a Tolerance, ``{"atol": .., "rtol": ..}`` or a dict of
    those per original output name; it overrides ``profile=`` and ``case_tolerance=``, which
    override the converter's default. Latency is measured with ``threads`` threads on both
    sides: ``warmup`` untimed runs, then up to ``repeat`` runs or ``time_budget_s`` seconds
    per batch size. ``isolate=True`` runs each side in a subprocess with ``timeout`` seconds
    and an address-space cap of ``memory_limit_mb``; a crash, hang or out-of-memory is then
    a failed report rather than an exception. ``diagnose=True`` runs ``interop.diagnose``
    at batch size 1 when parity fails and stores its dictionary as ``report.diagnosis``.
    """
    from interop.harness.check import run_check

    report = run_check(
        model,
        converted,
        inputs=inputs,
        batch_sizes=tuple(batch_sizes),
        tolerance=tolerance,
        profile=profile,
        latency=latency,
        threads=threads,
        isolate=isolate,
        timeout=timeout,
        memory_limit_mb=memory_limit_mb,
        seed=seed,
        warmup=warmup,
        repeat=repeat,
        time_budget_s=time_budget_s,
        case=case,
        case_tolerance=case_tolerance,
    )
    if diagnose and not report.passed and report.parity:
        from interop.diagnose.core import diagnose as run_diagnosis

        report.diagnosis = run_diagnosis(
            model, converted, inputs=inputs, tolerance=tolerance, seed=seed
        ).to_dict()
    if raise_on_failure and not report.passed:
        from interop.errors import ParityError

        reasons = "; ".join(report.failures[:3]) or report.verdict
        raise ParityError(
            f"the converted model failed its check ({report.verdict}): {reasons}",
            "read report.failures; save the report with report.save('report.html') for detail",
            report=report,
        )
    return report
