"""TensorFlow/Keras -> Core ML ML program, converting one concrete function of the model.

coremltools 9 fails on Keras 3 model objects in several ways (a Sequential model's
``output_names``, a ``model.export()`` SavedModel with two signatures, Keras 3 RNNs). A
concrete function traced for fixed input specs converts, so every model kind goes through
the same tf.function the tensorflow runtime runs (``interop.frameworks.tensorflow.describe``).
Exact GELU lowers to ``Erfc``, which coremltools' TensorFlow frontend lacks: we register a
lowering ``Erfc(x) -> 1 - erf(x)``. Core ML outputs are renamed to the model's own names.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

from interop._lazy import LazyModule
from interop.converters import _coreml, tf2onnx_repairs
from interop.errors import ConversionError, first_line
from interop.frameworks import locks
from interop.frameworks.tensorflow_import import quiet_native
from interop.types import Conversion

if TYPE_CHECKING:
    import numpy as np
else:  # numpy loads when a conversion or run first needs it
    np = LazyModule("numpy")

log = logging.getLogger("interop.tf_coreml")

_ERFC_REGISTERED = False


def register_erfc() -> None:
    """Teach coremltools' TensorFlow frontend Erfc (exact GELU) as 1 - erf(x), once."""
    global _ERFC_REGISTERED
    if _ERFC_REGISTERED:
        return
    from coremltools.converters.mil.frontend.tensorflow.tf_op_registry import (
        _TF_OPS_REGISTRY,
        register_tf_op,
    )
    from coremltools.converters.mil.mil import Builder as mb

    if "Erfc" not in _TF_OPS_REGISTRY:

        @register_tf_op
        def Erfc(context: Any, node: Any) -> None:  # noqa: N802 (coremltools looks up by name)
            x = context[node.inputs[0]]
            one = np.array(1.0, dtype=np.float32)
            context.add(node.name, mb.sub(x=one, y=mb.erf(x=x), name=node.name))

    _ERFC_REGISTERED = True


class TensorflowToCoreml(_coreml.MLProgramConverter):
    """Keras 3 models, tf.Modules with a tf.function, and SavedModels to an ML program."""

    name: ClassVar[str] = "tensorflow.coreml"
    source: ClassVar[str] = "tensorflow"
    requires: ClassVar[tuple[str, ...]] = ("tensorflow", "coremltools")
    install_hint: ClassVar[str] = "pip install 'interop[tensorflow,coreml]'"

    def _convert(self, model: Any, example_inputs: Any, options: dict[str, Any]) -> Conversion:
        from interop.frameworks.tensorflow import (
            describe,
            example_arrays,
            import_tensorflow,
            trace_examples,
        )

        tf = import_tensorflow()
        precision, dynamic, max_batch, captured, ct, target = self._setup(options)
        with locks.hold("coremltools", "register Erfc"):  # coremltools' op registry
            register_erfc()

        source_model = model
        if _has_recurrent_layer(model):
            model = _unrolled_clone(model)
        tf_model = describe(model)
        arrays = example_arrays(tf_model, example_inputs)
        warnings_out: list[str] = []
        mlmodel = None
        failure: BaseException | None = None
        # A free batch first; where coremltools cannot lower the graph with it (loops over
        # a dynamic shape), the example's fixed batch.
        for flexible in (True, False) if dynamic else (False,):
            with locks.hold("tensorflow", "trace"):  # TensorFlow's tracing state
                arrays, specs, traced = trace_examples(tf_model, arrays, flexible)
                with quiet_native(self.name):  # grappler's start-up lines
                    source, extra = _graph_source(ct, traced)
            ct_inputs = []
            for spec in specs:
                shape: list[Any] = [int(d) if d is not None else None for d in spec.shape.as_list()]
                if shape and shape[0] is None:
                    shape[0] = ct.RangeDim(1, max_batch, default=int(arrays[0].shape[0]))
                dtype = np.float32 if spec.dtype.is_floating else np.int32
                ct_inputs.append(ct.TensorType(name=spec.name, shape=tuple(shape), dtype=dtype))
            try:
                # ct.convert traces/freezes the function and runs coremltools' MIL builder
                # and passes: both libraries' locks, in order (frameworks.locks)
                with (
                    locks.hold_all("tensorflow", "coremltools", what=self.name),
                    quiet_native(self.name),
                    _coreml.quiet_coremltools() as during,
                ):
                    mlmodel = ct.convert(
                        source,
                        source="tensorflow",
                        inputs=ct_inputs,
                        **extra,
                        convert_to="mlprogram",
                        compute_precision=_coreml.compute_precision(ct, precision),
                        minimum_deployment_target=target,
                        pass_pipeline=_coreml.pass_pipeline(ct),
                    )
                for message in during.messages:
                    captured.add(message)
                if not flexible and dynamic:
                    warnings_out.append(
                        f"coremltools could not convert with a flexible batch "
                        f"({first_line(failure) if failure else ''}); the Core ML model "
                        f"has the fixed batch size {int(arrays[0].shape[0])}"
                    )
                break
            except Exception as exc:
                failure = exc
                log.debug("coremltools failed (flexible batch=%s): %s", flexible, first_line(exc))
        if mlmodel is None:
            assert failure is not None
            raise ConversionError(
                f"coremltools could not convert {tf_model.kind} {tf_model.name!r}: "
                f"{first_line(failure)}",
                "the message names the TensorFlow op or layer without a Core ML lowering; "
                "replace that layer, or convert to ONNX instead",
            ) from failure

        if model is not source_model:
            warnings_out.append(
                "the model's recurrent layers were converted unrolled over their fixed "
                "number of time steps (coremltools cannot convert Keras 3's RNN while loop)"
            )
        output_names = list(traced.output_names)
        mlmodel = _rename_outputs(ct, mlmodel, traced, output_names)
        note = _coreml.untested_version_note("tensorflow", tf.__version__)
        if note:
            warnings_out.append(note)
        warnings_out.extend(_coreml.relevant_warnings(captured, "tensorflow"))
        spec = mlmodel.get_spec()
        provenance = _coreml.stamp_provenance(
            mlmodel,
            {
                "converter": self.name,
                "source": "tensorflow",
                "source_version": tf.__version__,
                "coremltools_version": ct.__version__,
                "precision": precision,
            },
        )
        feed = {n: a for n, a in zip(tf_model.input_names, arrays, strict=True)}
        return Conversion(
            source="tensorflow",
            target="coreml",
            converter=self.name,
            model=mlmodel,
            input_specs=_coreml.feature_specs(spec.description.input),
            output_specs=_coreml.feature_specs(spec.description.output),
            input_map={n: n for n in tf_model.input_names},
            output_map={n: n for n in output_names},
            saver=_coreml.save_mlmodel,
            suffix=".mlpackage",
            input_layout="named",
            warnings=warnings_out,
            provenance=provenance,
            default_tolerance=_coreml.TOLERANCES[precision],
            example_feed=feed,
            runtime="coreml",
        )


def _graph_source(ct: Any, traced: Any) -> tuple[Any, dict[str, Any]]:
    """What to hand ct.convert: the concrete function, or where it calls a function that
    TensorFlow will not inline (Keras 3's XLA-only grouped convolution, ConvNeXt), the frozen
    GraphDef with that call inlined (``tf2onnx_repairs``), with its output nodes named."""
    if not tf2onnx_repairs.needs_graph_route(traced.concrete):
        return [traced.concrete], {}
    frozen = tf2onnx_repairs.freeze(traced.concrete)
    placeholders = [t.split(":")[0] for t in frozen.input_tensors]
    expected = [s.name for s in traced.concrete.structured_input_signature[0]]
    if placeholders != expected:
        raise ConversionError(
            f"the frozen graph's inputs {placeholders} do not match the model's {expected}",
            "report this with the model",
        )
    log.debug("coremltools gets the frozen graph (repairs: %s)", ", ".join(frozen.applied))
    outputs = [ct.TensorType(name=t.split(":")[0]) for t in frozen.output_tensors]
    return tf2onnx_repairs.inline_functions(frozen), {"outputs": outputs}


def _has_recurrent_layer(model: Any) -> bool:
    if not hasattr(model, "layers") or not hasattr(model, "get_weights"):
        return False
    import keras

    flatten = getattr(model, "_flatten_layers", None)
    layers = list(flatten(include_self=False)) if flatten else list(model.layers)
    return any(isinstance(layer, keras.layers.RNN) for layer in layers)


def _unrolled_clone(model: Any) -> Any:
    """A copy of a Keras model whose RNN layers are unrolled, with the same weights.

    coremltools' TensorFlow 2 frontend fails on the while loop Keras 3 RNNs trace to
    (IndexError in the loop condition); unrolled, the same cell math is plain ops.
    """
    import keras

    def unroll(config: dict[str, Any]) -> dict[str, Any]:
        config = dict(config)
        config["unroll"] = True
        return config

    def clone(layer: Any) -> Any:
        config = layer.get_config()
        if isinstance(layer, keras.layers.Bidirectional):
            for key in ("layer", "backward_layer"):
                if isinstance(config.get(key), dict):
                    inner = dict(config[key])
                    inner["config"] = unroll(inner["config"])
                    config[key] = inner
            return type(layer).from_config(config)
        if isinstance(layer, keras.layers.RNN):
            return type(layer).from_config(unroll(config))
        return type(layer).from_config(config)

    try:
        copy = keras.models.clone_model(model, clone_function=clone)
        copy.set_weights(model.get_weights())
    except Exception as exc:
        raise ConversionError(
            f"coremltools cannot convert Keras 3 recurrent layers, and unrolling them failed: "
            f"{first_line(exc)}",
            "give the RNN layers a fixed number of time steps, or convert to ONNX instead",
        ) from exc
    return copy


def _rename_outputs(ct: Any, mlmodel: Any, traced: Any, names: list[str]) -> Any:
    """Give the Core ML outputs the model's own output names.

    The concrete function's outputs are its structured outputs flattened (a dict flattens
    in sorted-key order); coremltools keeps that order.
    """
    import tensorflow as tf

    structured = traced.concrete.structured_outputs
    flat_names = [str(k) for k in tf.nest.flatten({k: k for k in structured})]
    spec = mlmodel.get_spec()
    current = [o.name for o in spec.description.output]
    if len(current) != len(flat_names) or set(flat_names) != set(names):
        raise ConversionError(
            f"coremltools produced outputs {current} for the model's outputs {names}",
            "report this with the model",
        )
    if current == flat_names:
        return mlmodel
    # rename through temporary names first, so a new name never collides with an old one
    for i, old in enumerate(current):
        ct.utils.rename_feature(spec, old, f"__interop_out_{i}", rename_inputs=False)
    for i, new in enumerate(flat_names):
        ct.utils.rename_feature(spec, f"__interop_out_{i}", new, rename_inputs=False)
    with _coreml.quiet_coremltools():
        return ct.models.MLModel(spec, weights_dir=mlmodel.weights_dir, skip_model_load=True)
