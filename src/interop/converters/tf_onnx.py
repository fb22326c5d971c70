"""TensorFlow/Keras -> ONNX through tf2onnx, tracing the same tf.function the runtime runs.

Every model kind (Keras, tf.Module/tf.function, SavedModel) becomes one tf.function
(``interop.frameworks.tensorflow.describe``) from
inputs named after the model's own inputs to a dict keyed by its own output names; tf2onnx
converts that function, so ONNX names equal the original names with no ``:0`` suffixes.

tf2onnx has no handler for ``Erfc``, which TensorFlow emits for exact GELU (Keras'
default ``activation="gelu"``); left alone it writes an invalid model and only logs the fact.
We register a handler that lowers ``Erfc(x)`` to ``1 - Erf(x)``.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar

from interop.converters.base import Converter
from interop.errors import ConversionError, InvalidInput, first_line
from interop.frameworks import locks
from interop.frameworks.onnx import check_onnx, opset_of, save_onnx, stamp_provenance, value_specs
from interop.types import FP32_TOLERANCE, Conversion, Tolerance

log = logging.getLogger("interop.converters.tf_onnx")

MAX_OPSET = 18  # the highest opset tf2onnx 1.17 maps TensorFlow ops to
MIN_OPSET = 9  # below this, Erf (and with it exact GELU) has no ONNX op
DEFAULT_OPSET = 17


def _erfc_as_one_minus_erf(ctx: Any, node: Any, name: str, args: Any) -> None:
    """tf2onnx handler: Erfc(x) -> 1 - Erf(x) (ONNX has Erf but no Erfc)."""
    import numpy as np
    from tf2onnx import utils

    dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))
    node.type = "Erf"
    node.domain = ""
    one = ctx.make_const(utils.make_name(f"{name}_one"), np.array(1, dtype=dtype))
    ctx.insert_new_node_on_output(
        "Sub",
        node.output[0],
        name=utils.make_name(f"{name}_erfc"),
        inputs=[one.output[0], node.output[0]],
    )


CUSTOM_OP_HANDLERS: dict[str, tuple[Any, list[Any]]] = {"Erfc": (_erfc_as_one_minus_erf, [])}


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _quiet_tf2onnx() -> Iterator[_Collect]:
    """Keep tf2onnx's log lines out of the user's console; replay them into our logger."""
    logger = logging.getLogger("tf2onnx")
    handler = _Collect()
    old_propagate, old_level = logger.propagate, logger.level
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate, logger.level = old_propagate, old_level
        for record in handler.records:
            log.debug("tf2onnx %s: %s", record.levelname.lower(), record.getMessage())


def _name_batch_dims(onnx_model: Any) -> None:
    """Call the free leading dimension "batch" (tf2onnx names each one ``unk__N``)."""
    for value in list(onnx_model.graph.input) + list(onnx_model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_param = "batch"


class TensorflowToOnnx(Converter):
    """Keras models, tf.Modules with a tf.function, and SavedModels to ONNX via tf2onnx."""

    name: ClassVar[str] = "tensorflow.onnx"
    source: ClassVar[str] = "tensorflow"
    target: ClassVar[str] = "onnx"
    options: ClassVar[Mapping[str, Any]] = {"opset": DEFAULT_OPSET, "dynamic_batch": True}
    default_tolerance: ClassVar[Tolerance] = FP32_TOLERANCE
    requires: ClassVar[tuple[str, ...]] = ("tensorflow", "tf2onnx", "onnx")
    install_hint: ClassVar[str] = "pip install 'interop[tensorflow]'"

    def _convert(self, model: Any, example_inputs: Any, options: dict[str, Any]) -> Conversion:
        opset = options["opset"]
        if (
            not isinstance(opset, int)
            or isinstance(opset, bool)
            or not MIN_OPSET <= opset <= MAX_OPSET
        ):
            raise InvalidInput(
                f"opset {opset!r} is outside what tf2onnx supports ({MIN_OPSET} to {MAX_OPSET})",
                f"pass opset={MAX_OPSET} or lower (default {DEFAULT_OPSET})",
            )
        dynamic_batch = bool(options["dynamic_batch"])

        from interop.frameworks.tensorflow import (
            describe,
            example_arrays,
            import_tensorflow,
            trace_examples,
        )

        tf = import_tensorflow()
        tf_model = describe(model)
        arrays = example_arrays(tf_model, example_inputs)
        # tracing and tf2onnx's freezing/rewriting run on TensorFlow's process-wide graph
        # state: the tensorflow lock (frameworks.locks)
        with locks.hold("tensorflow", "trace"):
            arrays, specs, traced = trace_examples(tf_model, arrays, dynamic_batch)
        output_names = traced.output_names

        import tf2onnx

        try:
            with locks.hold("tensorflow", self.name), _quiet_tf2onnx():
                onnx_model, _ = tf2onnx.convert.from_function(
                    traced.function,  # already traced for specs: tf2onnx reuses that trace
                    input_signature=specs,
                    opset=opset,
                    custom_op_handlers=dict(CUSTOM_OP_HANDLERS),
                )
        except Exception as exc:
            raise ConversionError(
                f"tf2onnx failed on {tf_model.kind} {tf_model.name!r}: {first_line(exc)}",
                "try another opset with opset=, or simplify the layer named in the message",
            ) from exc
        check_onnx(onnx_model, self.name)

        input_names = [i.name for i in onnx_model.graph.input]
        if set(input_names) != set(tf_model.input_names):
            raise ConversionError(
                f"tf2onnx named the inputs {input_names}, expected {list(tf_model.input_names)}",
                "report this with the model",
            )
        graph_outputs = {o.name for o in onnx_model.graph.output}
        lost = [n for n in output_names if n not in graph_outputs]
        if lost:
            raise ConversionError(
                f"tf2onnx lost the output name(s) {', '.join(lost)} (got {sorted(graph_outputs)})",
                "report this with the model",
            )
        # Graph outputs in the original's order, so positional consumers see the same order.
        by_name = {o.name: o for o in onnx_model.graph.output}
        ordered = [by_name[n] for n in output_names]
        del onnx_model.graph.output[:]
        onnx_model.graph.output.extend(ordered)
        if dynamic_batch:
            _name_batch_dims(onnx_model)

        provenance = stamp_provenance(
            onnx_model,
            {
                "converter": self.name,
                "source_framework": "tensorflow",
                "source_framework_version": tf.__version__,
                "tf2onnx_version": tf2onnx.__version__,
                "opset": str(opset_of(onnx_model)),
                "python": platform.python_version(),
            },
        )
        feed = {n: a for n, a in zip(tf_model.input_names, arrays, strict=True)}
        return Conversion(
            source=self.source,
            target=self.target,
            converter=self.name,
            model=onnx_model,
            input_specs=value_specs(onnx_model.graph.input),
            output_specs=value_specs(onnx_model.graph.output),
            input_map={n: n for n in tf_model.input_names},
            output_map={n: n for n in output_names},
            saver=save_onnx,
            suffix=".onnx",
            input_layout="named",
            provenance=provenance,
            default_tolerance=self.default_tolerance,
            example_feed=feed,
            runtime="onnx",
        )
