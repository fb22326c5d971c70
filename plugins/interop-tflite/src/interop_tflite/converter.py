"""Keras models and SavedModel directories to TFLite flatbuffers (``tensorflow.tflite``).

Routes: ``TFLiteConverter.from_keras_model`` for Keras models and ``from_saved_model`` for
SavedModel directories. ``from_concrete_functions`` is deliberately not used: on TF 2.21 it
produced all-NaN outputs without an error (and wrapping a model's function in a new
SavedModel gave wrong numbers the same way), which interop's convert-time check catches
but which no user should be offered.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from interop.sdk import (
    FP32_TOLERANCE,
    Conversion,
    ConversionError,
    Converter,
    InvalidInput,
    TensorSpec,
    provenance,
)

log = logging.getLogger("interop_tflite")

_OUTPUT_INDEX = re.compile(r"^output_(\d+)$")
_FAILED_OP = re.compile(r"'(tf\.[A-Za-z0-9_]+)' op")


class TensorflowToTflite(Converter):
    """Converts through TFLiteConverter; the model's own input and output names are kept."""

    name = "tensorflow.tflite"
    source = "tensorflow"
    target = "tflite"
    # The batch stays dynamic (TFLite resizes inputs per call); a fixed batch would need the
    # concrete-function route that silently breaks, so False is refused rather than ignored.
    options: ClassVar[dict[str, Any]] = {"dynamic_batch": True}
    # XNNPACK's fp32 kernels reorder sums; measured errors are below 1e-6 on small models.
    default_tolerance = FP32_TOLERANCE
    requires = ("tensorflow", "ai_edge_litert")
    install_hint = "pip install interop-tflite"

    def _convert(self, model: Any, example_inputs: Any, options: dict[str, Any]) -> Conversion:
        if not options["dynamic_batch"]:
            raise InvalidInput(
                "tensorflow.tflite keeps the batch dimension dynamic",
                "drop dynamic_batch=False; TFLite resizes inputs to the batch you feed",
            )
        from interop.frameworks.tensorflow import (
            describe,
            import_tensorflow,
            is_saved_model_dir,
            signature_feed,
        )

        tf = import_tensorflow()
        tf_model = describe(model)
        if is_saved_model_dir(model):
            route = "from_saved_model"
            make = lambda: tf.lite.TFLiteConverter.from_saved_model(  # noqa: E731
                str(model), signature_keys=["serving_default"]
            )
        elif tf_model.kind == "Keras model":
            route = "from_keras_model"
            make = lambda: tf.lite.TFLiteConverter.from_keras_model(model)  # noqa: E731
        else:
            raise InvalidInput(
                f"tensorflow.tflite converts Keras models and SavedModel directories, "
                f"not a {tf_model.kind}",
                "save it with tf.saved_model.save(obj, path, signatures=...) and pass the path",
            )
        if example_inputs is None:
            feed = signature_feed(tf_model)
        else:
            feed = _feed(example_inputs, tf_model.input_names)

        printed = io.StringIO()
        try:
            # Keras 3's export path prints "Saved artifact at ..." to stdout; keep it in the log.
            with contextlib.redirect_stdout(printed):
                flatbuffer = make().convert()
        except Exception as exc:
            raise ConversionError(_failure(exc, tf_model.name), _hint(exc)) from exc
        finally:
            if printed.getvalue().strip():
                log.debug("TFLiteConverter printed: %s", printed.getvalue().strip())

        from interop_tflite.runtime import signature

        sig_inputs, sig_outputs = signature(flatbuffer)
        input_map = _match_inputs(tf_model.input_names, [s.name for s in sig_inputs])
        output_names = tf_model.output_names or tuple(s.name for s in sig_outputs)
        output_map = _match_outputs(tuple(output_names), [s.name for s in sig_outputs])
        dtypes = {s.name: s.dtype for s in sig_inputs}
        example_feed = {
            input_map[n]: np.asarray(feed[n]).astype(dtypes[input_map[n]], copy=False)
            for n in tf_model.input_names
        }
        from interop_tflite import __version__

        stamped = provenance(
            {
                "converter": self.name,
                "route": route,
                "source_framework_version": tf.__version__,
                "interop_tflite.version": __version__,
            }
        )
        return Conversion(
            source=self.source,
            target=self.target,
            converter=self.name,
            model=flatbuffer,
            input_specs=tuple(sig_inputs),
            output_specs=tuple(sig_outputs),
            input_map=input_map,
            output_map=output_map,
            saver=_save,
            suffix=".tflite",
            input_layout="named",
            provenance=stamped,
            default_tolerance=self.default_tolerance,
            example_feed=example_feed,
            runtime="tflite",
        )


def _feed(example_inputs: Any, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Example inputs (an array, a sequence or a dict of arrays) keyed by the model's names."""
    if isinstance(example_inputs, Mapping):
        missing = [n for n in names if n not in example_inputs]
        if missing:
            raise InvalidInput(
                f"example_inputs lacks {', '.join(missing)} "
                f"(it has {', '.join(map(str, example_inputs))})",
                "key example_inputs by the model's input names: " + ", ".join(names),
            )
        return {n: np.asarray(example_inputs[n]) for n in names}
    arrays = list(example_inputs) if isinstance(example_inputs, (tuple, list)) else [example_inputs]
    if len(arrays) != len(names):
        raise InvalidInput(
            f"the model takes {len(names)} input(s) ({', '.join(names)}), "
            f"example_inputs has {len(arrays)}",
            "pass one array per input, in order, or a dict keyed by input name",
        )
    return {n: np.asarray(a) for n, a in zip(names, arrays, strict=True)}


def _match_inputs(original: tuple[str, ...], converted: list[str]) -> dict[str, str]:
    # Signature inputs are listed by name, not position: match by name where they agree.
    if set(original) == set(converted):
        return {n: n for n in original}
    if len(original) == len(converted) == 1:
        return {original[0]: converted[0]}
    raise ConversionError(
        f"the TFLite signature names its inputs {converted}, the model {list(original)}",
        "give the model's Input layers names, or report this with the model",
    )


def _match_outputs(original: tuple[str, ...], converted: list[str]) -> dict[str, str]:
    if set(original) == set(converted):
        return {n: n for n in original}
    # from_keras_model names outputs output_0..output_N in the model's output order.
    indexed = {int(m.group(1)): name for name in converted if (m := _OUTPUT_INDEX.match(name))}
    if len(indexed) == len(converted) == len(original) and set(indexed) == set(
        range(len(original))
    ):
        return {n: indexed[i] for i, n in enumerate(original)}
    raise ConversionError(
        f"cannot match the TFLite outputs {converted} to the model's {list(original)}",
        "report this with the model",
    )


def _failure(exc: Exception, model_name: str) -> str:
    text = str(exc)
    ops = sorted(set(_FAILED_OP.findall(text)))
    if ops:
        return f"TFLiteConverter cannot lower {', '.join(ops)} in {model_name!r}"
    first = (text.strip().splitlines() or [type(exc).__name__])[0]
    return f"TFLiteConverter failed on {model_name!r}: {type(exc).__name__}: {first[:300]}"


def _hint(exc: Exception) -> str:
    if "TensorList" in str(exc):
        return (
            "recurrent layers with a dynamic batch need TF Select ops, which LiteRT's "
            "interpreter lacks; use unroll=True on the layer, or convert to ONNX instead"
        )
    return "replace the layer the message names, or convert to ONNX instead"


def _save(model: Any, path: Any) -> None:
    with open(path, "wb") as fh:
        fh.write(bytes(model))


def spec(name: str, shape: Any, dtype: Any) -> TensorSpec:
    dims = tuple("batch" if i == 0 and int(d) < 0 else int(d) for i, d in enumerate(shape))
    return TensorSpec(name, dims, str(np.dtype(dtype)))
