"""TensorFlow/Keras -> ONNX through tf2onnx, tracing the same tf.function the runtime runs.

Every model kind (Keras, tf.Module/tf.function, SavedModel) becomes one tf.function
(``interop.frameworks.tensorflow.describe``) from
inputs named after the model's own inputs to a dict keyed by its own output names; tf2onnx
converts that function, so ONNX names equal the original names with no ``:0`` suffixes.

interop freezes the function itself and hands tf2onnx the repaired GraphDef
(``tf2onnx_repairs``: captured constants folded, XLA-only functions inlined, Erfc lowered);
the repairs applied are listed in the provenance under ``tf2onnx_repairs``.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

from interop.converters import tf2onnx_repairs, tf_onnx_large
from interop.converters.base import Converter
from interop.errors import ConversionError, InvalidInput, first_line
from interop.frameworks import locks
from interop.frameworks.onnx import (
    check_onnx,
    external_threshold,
    from_tensor_storage,
    graph_def_weight_bytes,
    numpy_product_alias,
    opset_of,
    save_onnx,
    stamp_provenance,
    value_specs,
)
from interop.frameworks.tensorflow_import import quiet_native
from interop.types import FP32_TOLERANCE, Conversion, Tolerance

log = logging.getLogger("interop.converters.tf_onnx")

MAX_OPSET = 18  # the highest opset tf2onnx 1.17 maps TensorFlow ops to
MIN_OPSET = 9  # below this, Erf (and with it exact GELU) has no ONNX op
DEFAULT_OPSET = 17


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _quiet_tf2onnx() -> Iterator[_Collect]:
    """Keep tf2onnx's and TensorFlow's Python log lines (tf2onnx's optimizer tracebacks, TF's
    deprecation notes from the freezing tf2onnx does) out of the user's console; replay them
    into our logger at debug level."""
    handler = _Collect()
    saved = []
    for name in ("tf2onnx", "tensorflow"):
        logger = logging.getLogger(name)
        saved.append((logger, logger.propagate, logger.level, list(logger.handlers)))
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(logging.WARNING)
    try:
        yield handler
    finally:
        for logger, propagate, level, handlers in saved:
            logger.removeHandler(handler)
            for old in handlers:
                logger.addHandler(old)
            logger.propagate, logger.level = propagate, level
        for record in handler.records:
            log.debug("%s %s: %s", record.name, record.levelname.lower(), record.getMessage())


def _tf2onnx_from_frozen(
    frozen: tf2onnx_repairs.Frozen,
    name: str,
    opset: int,
    renames: dict[str, str],
    weights: Sequence[tf_onnx_large.Weight] = (),
) -> Any:
    """tf2onnx on an already frozen GraphDef: grappler, then tf2onnx's conversion proper.

    ``tf2onnx.convert.from_graph_def`` does the same two steps, but first freezes the graph
    once more with TF1's ``convert_variables_to_constants`` and throws the result away (several
    seconds on ResNet50); the two steps are called directly where this tf2onnx has them.
    """
    import tensorflow as tf
    import tf2onnx
    from tf2onnx import tf_loader

    inputs = list(frozen.input_tensors) + [f"{w.placeholder}:0" for w in weights]
    outputs = list(frozen.output_tensors)
    shared: dict[str, Any] = {
        "name": name,
        "input_names": inputs,
        "output_names": outputs,
        "opset": opset,
        "custom_op_handlers": dict(tf2onnx_repairs.OP_HANDLERS),
        "tensors_to_rename": renames,
    }
    common = getattr(tf2onnx.convert, "_convert_common", None)
    if common is None:
        onnx_model, _ = tf2onnx.convert.from_graph_def(frozen.graph_def, **shared)
        return onnx_model
    # past the external-data threshold tf2onnx keeps the big tensors out of the proto
    # (large_model); they go to one data file, not to its zip (frameworks.onnx). Grappler
    # needs the graph in one MetaGraphDef (2 GB at most): skipped there, as tf2onnx does.
    large = graph_def_weight_bytes(frozen.graph_def) > external_threshold()
    with tf.device("/cpu:0"):
        optimized = frozen.graph_def
        if not large:
            # grappler would allocate a fake feed for each weight placeholder of known shape
            tf_onnx_large.hide_shapes(frozen.graph_def, weights)
            with tf.Graph().as_default():
                optimized = tf_loader.tf_optimize(inputs, outputs, frozen.graph_def)
            tf_onnx_large.restore_shapes(optimized, weights)
        with numpy_product_alias():  # tf2onnx's large_model path calls np.product
            onnx_model, storage = common(
                optimized, large_model=large, continue_on_error=True, **shared
            )
    if large and storage is not None:
        return from_tensor_storage(onnx_model, storage)
    return onnx_model


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

        with quiet_native("import tf2onnx"):  # it loads more of TensorFlow's native code
            import tf2onnx

        try:
            with (
                locks.hold("tensorflow", self.name),
                quiet_native(self.name),
                _quiet_tf2onnx(),
            ):
                weights = tf_onnx_large.big_variables(
                    traced.concrete, taken=tuple(tf_model.input_names) + tuple(output_names)
                )
                if not tf_onnx_large.route_applies(weights):
                    weights = []
                frozen = tf2onnx_repairs.freeze(
                    traced.concrete, as_inputs={w.placeholder: w.variable for w in weights}
                )
                renames = frozen.renames(tf_model.input_names)
                renames.update({f"{w.placeholder}:0": w.name for w in weights})
                onnx_model = _tf2onnx_from_frozen(
                    frozen,
                    name=tf_model.name,
                    opset=opset,
                    renames=renames,
                    weights=weights,
                )
                del frozen.graph_def.node[:]  # the frozen graph's constants, released now
                if weights:
                    onnx_model = tf_onnx_large.attach_weights(onnx_model, weights)
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
                "tf2onnx_repairs": ",".join(frozen.applied),
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
