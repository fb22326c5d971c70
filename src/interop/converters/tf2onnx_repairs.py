"""What interop does around tf2onnx (and coremltools' TensorFlow frontend) so real Keras models
convert: one table of repairs, each with the failure it answers and the model that showed it.

The repairs work on the frozen GraphDef of the one concrete function interop traces
(``freeze``), before either converter sees it, so ONNX and Core ML get the same repaired graph.
TensorFlow is imported inside the functions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("interop.converters.tf2onnx_repairs")

# Attributes that keep grappler's function optimizer from inlining a function body. Keras 3's
# TensorFlow backend runs grouped convolutions (ConvNeXt's depthwise 7x7, any Conv2D with
# groups > 1) through a nested ``tf.function(jit_compile=True)`` (``_conv_xla``), which carries
# both; TensorFlow on CPU cannot run a grouped Conv2D without XLA, which is why Keras does it.
_NO_INLINE_ATTRS = ("_noinline", "_XlaMustCompile")
_CALL_OPS = frozenset({"StatefulPartitionedCall", "PartitionedCall"})


@dataclass(frozen=True)
class Repair:
    """One repair: a name for provenance, why it exists, and the GraphDef rewrite (if any).

    ``apply(graph_def) -> bool`` edits the GraphDef in place and says whether it changed
    anything. Repairs without ``apply`` happen while freezing (see ``freeze``).
    """

    name: str
    why: str
    apply: Callable[[Any], bool] | None = None


def _all_nodes(graph_def: Any) -> list[Any]:
    nodes = list(graph_def.node)
    for function in graph_def.library.function:
        nodes.extend(function.node_def)
    return nodes


def _allow_inlining(graph_def: Any) -> bool:
    """Drop the no-inline/XLA marks from every library function and call node."""
    noinline = set()
    for function in graph_def.library.function:
        marked = [key for key in _NO_INLINE_ATTRS if key in function.attr]
        for key in marked:
            del function.attr[key]
        if marked:
            noinline.add(function.signature.name)
    changed = bool(noinline)
    for node in _all_nodes(graph_def):
        if node.op in _CALL_OPS:
            for key in _NO_INLINE_ATTRS:
                if key in node.attr:
                    del node.attr[key]
                    changed = True
    return changed


def _erfc_as_one_minus_erf(ctx: Any, node: Any, name: str, args: Any) -> None:
    """tf2onnx op handler: Erfc(x) -> 1 - Erf(x) (ONNX has Erf but no Erfc)."""
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


OP_HANDLERS: dict[str, tuple[Any, list[Any]]] = {"Erfc": (_erfc_as_one_minus_erf, [])}
"""tf2onnx ``custom_op_handlers`` for TensorFlow ops tf2onnx 1.17 does not lower (see REPAIRS)."""

REPAIRS: tuple[Repair, ...] = (
    Repair(
        "erfc-as-one-minus-erf",
        "exact GELU (Keras' default activation='gelu', ConvNeXt) lowers to Erfc, which "
        "tf2onnx 1.17 has no handler for: it logs 'Unsupported ops', exits normally and writes "
        "an invalid model. OP_HANDLERS lowers Erfc(x) to 1 - Erf(x).",
    ),
    Repair(
        "fold-captured-constants",
        "tf2onnx.convert.from_function lists every non-resource input of the concrete "
        "function as a graph input, captured eager tensors included: Keras 3's Normalization "
        "layer holds its mean and variance as such tensors, so EfficientNet and EfficientNetV2 "
        "got extra ONNX inputs (.../normalization/Sub/y:0, .../Sqrt/x:0). interop freezes the "
        "function itself (captures become Const nodes) and names only the real inputs.",
    ),
    Repair(
        "inline-xla-functions",
        "Keras 3 lowers grouped convolutions (ConvNeXt's depthwise Conv2D with groups=C) to a "
        "nested jit_compile tf.function marked _noinline; freezing and grappler keep it as a "
        "StatefulPartitionedCall, which neither tf2onnx nor coremltools converts. Dropping the "
        "marks lets grappler's function optimizer inline the plain grouped Conv2D.",
        _allow_inlining,
    ),
)


@dataclass(frozen=True)
class Frozen:
    """A traced function as a frozen, repaired GraphDef and the tensor names around it."""

    graph_def: Any
    input_tensors: tuple[str, ...]  # "x:0" names of the real inputs, in the function's order
    output_tensors: tuple[str, ...]  # "Identity:0" names, in the order of ``output_keys``
    output_keys: tuple[str, ...]  # the structured output keys those tensors carry
    applied: tuple[str, ...]  # names of the repairs that changed something

    def renames(self, input_names: Sequence[str]) -> dict[str, str]:
        """Tensor name -> the model's own name, for inputs and outputs."""
        mapping = dict(zip(self.input_tensors, input_names, strict=True))
        mapping.update(zip(self.output_tensors, self.output_keys, strict=True))
        return mapping


def freeze(concrete: Any, as_inputs: Mapping[str, Any] | None = None) -> Frozen:
    """Freeze ``concrete`` (variables and captured tensors become constants) and repair it.

    ``as_inputs`` maps captured variable placeholders (node names) to their variables: those
    are not read at all; each stays a plain Placeholder of the variable's dtype and shape,
    its ReadVariableOps become Identity (the large-model route, ``tf_onnx_large``).
    """
    import tensorflow as tf

    real_inputs = len(tf.nest.flatten(concrete.structured_input_signature))
    captured = [t for t in concrete.inputs[real_inputs:] if t.dtype != tf.resource]
    graph_def = _frozen_graph_def(concrete, frozenset(as_inputs or ()))
    if as_inputs:
        _variables_as_placeholders(graph_def, as_inputs)
    applied = ["fold-captured-constants"] if captured else []
    if any(node.op == "Erfc" for node in _all_nodes(graph_def)):
        applied.append("erfc-as-one-minus-erf")
    for repair in REPAIRS:
        if repair.apply is not None and repair.apply(graph_def):
            applied.append(repair.name)
    structured = concrete.structured_outputs
    keys = (
        tuple(str(k) for k in tf.nest.flatten({k: k for k in structured}))
        if isinstance(structured, dict)
        else tuple(f"output_{i}" for i in range(len(concrete.outputs)))
    )
    if applied:
        log.debug("tf2onnx repairs applied: %s", ", ".join(applied))
    return Frozen(
        graph_def=graph_def,
        input_tensors=tuple(t.name for t in concrete.inputs[:real_inputs]),
        output_tensors=tuple(t.name for t in concrete.outputs),
        output_keys=keys,
        applied=tuple(applied),
    )


def _frozen_graph_def(concrete: Any, keep: frozenset[str] = frozenset()) -> Any:
    """The concrete function's GraphDef with variables and captured tensors as constants.

    Tensor names stay those of ``concrete``. TensorFlow's public
    ``convert_variables_to_constants_v2`` also rebuilds a ConcreteFunction from the GraphDef
    (wrap, lift, prune, deep copies): for Keras ResNet50 that was 35 of its 38 s here, and the
    converters only need the GraphDef, so the step that produces it is called directly where
    this TensorFlow has it.
    """
    from tensorflow.python.framework import convert_to_constants as c2c

    replace = getattr(c2c, "_replace_variables_by_constants", None)
    data_class = getattr(c2c, "_FunctionConverterDataInEager", None)
    if replace is None or data_class is None:
        if keep:
            raise RuntimeError("this TensorFlow has no variable-by-variable freezing")
        frozen = c2c.convert_variables_to_constants_v2(
            concrete, lower_control_flow=False, aggressive_inlining=True
        )
        return frozen.graph.as_graph_def(add_shapes=True)
    data = data_class(
        func=concrete,
        lower_control_flow=False,
        aggressive_inlining=True,
        variable_names_denylist=set(keep) or None,
    )
    graph_def, _ = replace(converter_data=data)
    return graph_def


def _variables_as_placeholders(graph_def: Any, variables: Mapping[str, Any]) -> None:
    """Each kept resource placeholder -> a Placeholder of its variable's dtype and shape, its
    ReadVariableOps -> Identity. Anything else reading the handle is refused."""
    nodes = {node.name: node for node in graph_def.node}
    missing = sorted(set(variables) - set(nodes))
    if missing:
        raise RuntimeError(f"variable placeholder(s) {missing} are not in the frozen graph")
    for node in graph_def.node:
        for name in node.input:
            source = name.lstrip("^").split(":")[0]
            if source not in variables:
                continue
            if node.op != "ReadVariableOp" or name.startswith("^"):
                raise RuntimeError(f"{node.op} {node.name!r} uses variable handle {source!r}")
            dtype = node.attr["dtype"].type
            node.op = "Identity"
            del node.attr["dtype"]
            node.attr["T"].type = dtype
    for name, variable in variables.items():
        placeholder = nodes[name]
        dtype = variable.dtype.as_datatype_enum
        for key in list(placeholder.attr):
            del placeholder.attr[key]
        placeholder.op = "Placeholder"
        placeholder.attr["dtype"].type = dtype
        shape = placeholder.attr["shape"].shape
        for size in variable.shape:
            shape.dim.add().size = int(size)


def inline_functions(frozen: Frozen) -> Any:
    """The frozen GraphDef with every function call inlined by grappler (for coremltools).

    tf2onnx runs this optimizer itself; coremltools, given a GraphDef, does not.
    """
    import tensorflow as tf
    from tensorflow.core.protobuf import config_pb2, meta_graph_pb2
    from tensorflow.python.grappler import tf_optimizer

    config = config_pb2.ConfigProto()
    config.graph_options.rewrite_options.optimizers[:] = ["function"]
    with tf.Graph().as_default() as graph:  # meta graphs exist only outside eager mode
        tf.graph_util.import_graph_def(frozen.graph_def, name="")
        meta_graph = tf.compat.v1.train.export_meta_graph(graph_def=frozen.graph_def, graph=graph)
    fetch = meta_graph_pb2.CollectionDef()
    fetch.node_list.value.extend(frozen.input_tensors + frozen.output_tensors)
    meta_graph.collection_def["train_op"].CopyFrom(fetch)
    return tf_optimizer.OptimizeGraph(config, meta_graph)


def needs_graph_route(concrete: Any) -> bool:
    """Whether the concrete function calls a function grappler will not inline."""
    graph_def = concrete.graph.as_graph_def()
    return any(
        key in function.attr for function in graph_def.library.function for key in _NO_INLINE_ATTRS
    )
