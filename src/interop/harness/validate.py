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
    try:
        with original_cls(model, conversion=conversion) as original:
            reference = original.run({o: feed[c] for o, c in conversion.input_map.items()})
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
    verdict = judge_batch(batch, conversion, reference, produced, per_output)
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
            }
            for name, cmp in verdict.comparisons.items()
        },
        "passed": verdict.passed,
    }
    if not verdict.passed:
        raise ConversionError(
            f"{conversion.converter} produced a model that computes different numbers: "
            + "; ".join(f.removeprefix(f"batch {batch}: ") for f in verdict.failures),
            "the converter mis-lowered an op; try another opset or converter, or report it "
            "with the model",
        )
