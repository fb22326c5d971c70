"""Convert-time validation: check's verdict at one batch size, the converter's example feed.

The comparison, the tolerance precedence and the label/probability/tie rules are those of
``interop.check`` (:func:`interop.harness.verdict.judge_batch`); only the inputs differ: the
example feed the converter traced with, run once in this process.
"""

from __future__ import annotations

from typing import Any

from interop import registry
from interop.errors import ConversionError, InteropError, InvalidInput, first_line
from interop.harness import tolerances as tolerance_levels
from interop.harness.compare import largest_relative_change
from interop.harness.inputs import batch_of
from interop.harness.rounding import (
    has_float_inputs,
    output_noise,
    perturbed,
    rounded_to_fp16,
)
from interop.harness.verdict import judge_batch
from interop.types import Conversion


def validate_conversion(model: Any, conversion: Conversion, tolerance: Any = None) -> None:
    """Run the original and the converted model once on the example feed and judge them.

    ``tolerance`` takes every form ``check(tolerance=)`` takes and overrides the converter's
    default the same way. Records ``conversion.validation``; raises ConversionError naming
    each output that differs and by how much.
    """
    feed = conversion.example_feed
    if not feed:
        raise ConversionError(
            f"{conversion.converter} produced no example feed, so the conversion cannot be checked",
            "pass example_inputs=",
        )
    original_cls = registry.get_runtime(conversion.source)
    converted_cls = registry.get_runtime(conversion.runtime)
    original_feed = {o: feed[c] for o, c in conversion.input_map.items()}
    floats = has_float_inputs(original_feed)
    fp16 = conversion.provenance.get("interop.precision") == "fp16"
    probed = at_fp16 = None
    try:
        with original_cls(model, conversion=conversion) as original:
            reference = original.run(original_feed)
            # the original's own rounding noise, and (fp16 programs) its outputs on inputs
            # rounded to fp16; without them, no noise floor and no fp16 diagnosis
            if floats:
                probed = _run_or_none(original, perturbed(original_feed))
                if fp16:
                    at_fp16 = _run_or_none(original, rounded_to_fp16(original_feed))
    except InteropError:
        raise
    except Exception as exc:
        raise InvalidInput(
            f"the original {conversion.source} model failed on the example inputs: "
            + first_line(exc),
            "pass example inputs the model accepts (check their shapes and dtypes)",
        ) from exc
    try:
        with converted_cls(conversion.model, conversion=conversion) as converted:
            produced = converted.run(feed)
    except InteropError:
        raise
    except Exception as exc:
        raise ConversionError(
            "the converted model failed to run on the example inputs: " + first_line(exc),
            "the converter produced a model the runtime rejects; try another opset or converter",
        ) from exc
    per_output = tolerance_levels.resolve(
        list(conversion.output_map),
        conversion.target,
        conversion.default_tolerance,
        call=tolerance,
    )
    batch = batch_of(feed)
    noise = output_noise(reference, probed) if probed is not None else None
    verdict = judge_batch(batch, conversion, reference, produced, per_output, noise=noise)
    conversion.validation = {
        "batch_size": batch,
        "outputs": {
            name: {
                "passed": cmp.passed,
                "max_abs_error": cmp.max_abs_error,
                "label_agreement": cmp.label_agreement,
                "ties_excused": cmp.ties_excused,
                "atol": cmp.atol,
                "rtol": cmp.rtol,
                "rounding_noise": cmp.rounding_noise,
                "noise_floor": cmp.noise_floor,
            }
            for name, cmp in verdict.comparisons.items()
        },
        "passed": verdict.passed,
    }
    if not verdict.passed:
        message = (
            f"{conversion.converter} produced a model that computes different numbers: "
            + "; ".join(f.removeprefix(f"batch {batch}: ") for f in verdict.failures)
        )
        hint = (
            "the converter mis-lowered an op; try another opset or converter, or report it "
            "with the model"
        )
        if at_fp16 is not None:
            moved = largest_relative_change(reference, at_fp16)
            if moved is not None and moved >= FP16_SENSITIVE:
                message += (
                    f"; rounding only the inputs to fp16 moves the original's own outputs by "
                    f"{moved:.2g} (relative RMS), so no fp16 program can match this model"
                )
                hint = "convert with precision='fp32'; this model is too sensitive for fp16"
                error = ConversionError(message, hint)
                error.fp16_sensitivity = moved
                raise error
        raise ConversionError(message, hint)


FP16_SENSITIVE = 1e-3
"""Relative RMS change of the original, from fp16 rounding of its inputs alone, past which
an fp16 parity failure is blamed on the model's sensitivity rather than the converter (a
fifth of the fp16 profile's rel_rms; trained CNNs measure about 1e-4)."""


def _run_or_none(runtime: Any, feed: dict[str, Any]) -> Any:
    try:
        return runtime.run(feed)
    except Exception:
        return None
