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
from interop.harness.inputs import batch_of
from interop.harness.rounding import has_float_inputs, output_noise, perturbed
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
    probed = None
    try:
        with original_cls(model, conversion=conversion) as original:
            reference = original.run(original_feed)
            if has_float_inputs(original_feed):  # its own rounding noise (harness.rounding)
                try:
                    probed = original.run(perturbed(original_feed))
                except Exception:  # no probe, no noise floor
                    probed = None
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
        fp16 = conversion.provenance.get("interop.precision") == "fp16"
        if fp16 and has_float_inputs(original_feed):
            moved = _fp16_sensitivity(original_cls, model, conversion, original_feed, reference)
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


def _fp16_sensitivity(
    original_cls: Any, model: Any, conversion: Conversion, feed: dict[str, Any], reference: Any
) -> float | None:
    """The largest relative RMS change of the original's outputs when its floating inputs
    are rounded to fp16 (None if it cannot be measured)."""
    import numpy as np

    from interop.harness.compare import relative_rms_error

    rounded = {
        k: np.asarray(v).astype(np.float16).astype(np.asarray(v).dtype)
        if np.asarray(v).dtype.kind == "f"
        else v
        for k, v in feed.items()
    }
    try:
        with original_cls(model, conversion=conversion) as original:
            moved = original.run(rounded)
    except Exception:
        return None
    changes = [
        relative_rms_error(np.asarray(reference[n], np.float64), np.asarray(moved[n], np.float64))
        for n in reference
        if n in moved and np.asarray(reference[n]).dtype.kind in "fc"
    ]
    return max(changes) if changes else None
