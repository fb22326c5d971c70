"""Keras/TF -> ONNX for big models: large variables kept out of every graph, written once.

tf2onnx works on a frozen GraphDef: every variable copied into a constant, then into
grappler's copy, tf2onnx's tensors, and a deep copy of its whole graph before each of its
optimizers (about 20 a pass, several passes). Here each captured variable of
``BIG_VARIABLE_BYTES`` or more, read only by ReadVariableOp, stays a plain Placeholder
(``tf2onnx_repairs.freeze(as_inputs=...)``), so tf2onnx converts a graph of small constants
and sees those weights as graph inputs. ``attach_weights`` then turns each such input into
an initializer: what tf2onnx put between the input and its use (a Transpose of a Conv
kernel, a Reshape, a Cast) is folded into the array, and the bytes are written from
``variable.numpy()`` one variable at a time, to one external data file past
``external_threshold()`` or into the proto below it.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interop.frameworks.onnx import ExternalOnnx, external_threshold

BIG_VARIABLE_BYTES = 2**20
"""A variable of this many bytes or more becomes a graph input, not a frozen constant."""

ROUTE_BYTES = 64 * 2**20
"""The route is taken when the big variables hold more than this (or than the external-data
threshold, if lower): past it, tf2onnx's copies of a frozen graph cost gigabytes (a 216 MB
model peaked at 8.5-11 GB) and minutes."""

_INLINE_BYTES = 1024  # in an external model, smaller initializers stay in the graph proto
_ALIGN = 4096


@dataclass(frozen=True)
class Weight:
    """A big variable kept as a graph input: its capture placeholder and its ONNX name."""

    placeholder: str  # the node name of the captured resource placeholder in the traced graph
    name: str  # the initializer's name in the ONNX model (the variable's own name)
    variable: Any
    shape: tuple[int, ...]
    dtype: Any  # numpy dtype

    @property
    def nbytes(self) -> int:
        count = 1
        for size in self.shape:
            count *= size
        return count * self.dtype.itemsize


def big_variables(concrete: Any, taken: Sequence[str] = ()) -> list[Weight]:
    """The captured variables of ``concrete`` that can stay out of the frozen graph.

    A variable qualifies when it holds ``BIG_VARIABLE_BYTES`` or more, has a fully known
    shape and a numeric dtype, and every use of its handle in the traced graph is a
    ReadVariableOp (a handle passed into a nested function or a ResourceGather is frozen as
    before). Nothing is read: shapes and dtypes come from the variables.
    """
    import numpy as np
    import tensorflow as tf

    real_inputs = len(tf.nest.flatten(concrete.structured_input_signature))
    by_handle = {id(v.handle): v for v in concrete.graph.variables}
    used = set(taken)
    weights: list[Weight] = []
    for external, internal in zip(
        concrete.captured_inputs, concrete.inputs[real_inputs:], strict=True
    ):
        variable = by_handle.get(id(external))
        if variable is None or internal.dtype != tf.resource:
            continue
        if not variable.shape.is_fully_defined() or not variable.dtype.is_numpy_compatible:
            continue
        dtype = np.dtype(variable.dtype.as_numpy_dtype)
        if dtype.kind not in "fiub":
            continue
        if any(op.type != "ReadVariableOp" for op in internal.consumers()):
            continue
        shape = tuple(int(s) for s in variable.shape)
        weight = Weight(internal.op.name, _unique(variable.name, used), variable, shape, dtype)
        if weight.nbytes >= BIG_VARIABLE_BYTES:
            used.add(weight.name)
            weights.append(weight)
    return weights


def _unique(name: str, used: set[str]) -> str:
    base = name.split(":")[0] or "weight"
    candidate, n = base, 1
    while candidate in used:
        candidate, n = f"{base}_{n}", n + 1
    return candidate


def route_applies(weights: Sequence[Weight]) -> bool:
    return sum(w.nbytes for w in weights) > min(ROUTE_BYTES, external_threshold())


def hide_shapes(graph_def: Any, weights: Sequence[Weight]) -> None:
    """The weight placeholders of unknown shape: grappler builds a fake input tensor for
    every Placeholder of known shape (measured: +1.7 GB kept for 2.4 GB of weights)."""
    names = {w.placeholder for w in weights}
    for node in graph_def.node:
        if node.name in names:
            shape = node.attr["shape"].shape
            del shape.dim[:]
            shape.unknown_rank = True


def restore_shapes(graph_def: Any, weights: Sequence[Weight]) -> None:
    """The weight placeholders' shapes back, for tf2onnx (a Conv needs its kernel's)."""
    by_name = {w.placeholder: w for w in weights}
    for node in graph_def.node:
        weight = by_name.get(node.name)
        if weight is not None:
            shape = node.attr["shape"].shape
            shape.unknown_rank = False
            del shape.dim[:]
            for size in weight.shape:
                shape.dim.add().size = size


# -- folding what tf2onnx put on a weight input into the array --------------------------

Step = Callable[[Any], Any]


@dataclass(frozen=True)
class _Fold:
    node: Any
    step: Step
    shape: tuple[int, ...]
    dtype: Any


def _attr(node: Any, name: str, default: Any = None) -> Any:
    import onnx

    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


def _const_ints(name: str, initializers: dict[str, Any]) -> list[int] | None:
    from onnx import numpy_helper

    tensor = initializers.get(name)
    if tensor is None:
        return None
    return [int(v) for v in numpy_helper.to_array(tensor).reshape(-1)]


def _fold_step(
    node: Any, shape: tuple[int, ...], dtype: Any, initializers: dict[str, Any]
) -> _Fold | None:
    """The numpy step equal to ``node`` applied to its first input, or None."""
    import numpy as np
    import onnx

    rank = len(shape)
    if node.op_type == "Identity":
        return _Fold(node, lambda a: a, shape, dtype)
    if node.op_type == "Transpose":
        perm = [int(p) for p in _attr(node, "perm", list(range(rank))[::-1])]
        return _Fold(node, lambda a: np.transpose(a, perm), tuple(shape[p] for p in perm), dtype)
    if node.op_type == "Cast":
        try:
            target = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(int(_attr(node, "to"))))
        except Exception:
            return None
        if target.kind not in "fiub":
            return None
        return _Fold(node, lambda a: a.astype(target), shape, target)
    if node.op_type == "Reshape" and len(node.input) == 2:
        wanted = _const_ints(node.input[1], initializers)
        if wanted is None:
            return None
        if not _attr(node, "allowzero", 0):
            wanted = [shape[i] if d == 0 else d for i, d in enumerate(wanted)]
        count = int(np.prod(shape, dtype=np.int64))
        if wanted.count(-1) == 1:
            known = int(np.prod([d for d in wanted if d != -1], dtype=np.int64))
            if known == 0:
                return None
            wanted[wanted.index(-1)] = count // known
        new_shape = tuple(wanted)
        if int(np.prod(new_shape, dtype=np.int64)) != count or min(new_shape, default=0) < 0:
            return None
        return _Fold(node, lambda a: a.reshape(new_shape), new_shape, dtype)
    if node.op_type in ("Squeeze", "Unsqueeze"):
        axes = _const_ints(node.input[1], initializers) if len(node.input) > 1 else None
        if axes is None:
            axes = _attr(node, "axes")
        if axes is None:
            return None
        if node.op_type == "Squeeze":
            axes = sorted(a % rank for a in axes)
            if any(shape[a] != 1 for a in axes):
                return None
            squeezed = tuple(d for i, d in enumerate(shape) if i not in axes)
            return _Fold(node, lambda a: a.reshape(squeezed), squeezed, dtype)
        out_rank = rank + len(axes)
        axes = sorted(a % out_rank for a in axes)
        dims = list(shape)
        for a in axes:
            dims.insert(a, 1)
        expanded = tuple(dims)
        return _Fold(node, lambda a: a.reshape(expanded), expanded, dtype)
    return None


def _subgraph_names(graph: Any) -> set[str]:
    """Every tensor name read inside a subgraph (If/Loop/Scan bodies) of ``graph``."""
    import onnx

    names: set[str] = set()

    def walk(g: Any) -> None:
        for node in g.node:
            names.update(node.input)
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)
                for sub in attr.graphs:
                    walk(sub)

    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                walk(attr.g)
            for sub in attr.graphs:
                walk(sub)
    return names


@dataclass(frozen=True)
class _Planned:
    weight: Weight
    name: str  # the tensor the initializer provides (the last folded node's output)
    steps: tuple[Step, ...]
    shape: tuple[int, ...]
    dtype: Any


def _plan(model: Any, weights: Sequence[Weight]) -> list[_Planned]:
    """Per weight input: the chain of foldable nodes it alone feeds, removed from the graph."""
    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    pinned = _subgraph_names(graph) | {o.name for o in graph.output}
    removed: list[Any] = []
    plans = []
    for weight in weights:
        tensor, shape, dtype = weight.name, weight.shape, weight.dtype
        steps: list[Step] = []
        while tensor not in pinned:
            users = consumers.get(tensor, [])
            if len(users) != 1 or users[0].input[0] != tensor or len(users[0].output) != 1:
                break
            fold = _fold_step(users[0], shape, dtype, initializers)
            if fold is None:
                break
            steps.append(fold.step)
            removed.append(fold.node)
            tensor, shape, dtype = fold.node.output[0], fold.shape, fold.dtype
        if tensor != weight.name and tensor not in pinned:  # named after the variable again
            for user in consumers.get(tensor, []):
                for i, name in enumerate(user.input):
                    if name == tensor:
                        user.input[i] = weight.name
            consumers[weight.name] = consumers.pop(tensor, [])
            tensor = weight.name
        users = consumers.get(tensor, [])
        if tensor not in pinned and len(users) == 1 and users[0].op_type == "Conv":
            step = _fold_scale_shift(graph, users[0], tensor, shape, dtype, initializers,
                                     consumers, pinned, removed)
            if step is not None:
                steps.append(step)
        plans.append(_Planned(weight, tensor, tuple(steps), shape, dtype))
    for node in removed:
        graph.node.remove(node)
    still_used = {name for node in graph.node for name in node.input} | pinned
    for name in {i for node in removed for i in node.input}:
        if name in initializers and name not in still_used:
            graph.initializer.remove(initializers.pop(name))
    return plans


def _channel_vector(
    node: Any, tensor: str, channels: int, rank: int, dtype: Any, initializers: dict[str, Any]
) -> Any:
    """The constant operand of a binary ``node`` on ``tensor`` as one value per channel (axis
    1 of an N-C-... tensor), or None when it is not per-channel."""
    import numpy as np
    from onnx import numpy_helper

    if len(node.input) != 2 or list(node.input).count(tensor) != 1:
        return None
    other = node.input[1] if node.input[0] == tensor else node.input[0]
    if other not in initializers:
        return None
    value = numpy_helper.to_array(initializers[other])
    if value.ndim > rank:
        return None
    full = (1,) * (rank - value.ndim) + tuple(value.shape)
    if any(d != 1 for i, d in enumerate(full) if i != 1) or full[1] not in (1, channels):
        return None
    return np.broadcast_to(value.reshape(-1), (channels,)).astype(dtype)


def _fold_scale_shift(
    graph: Any,
    conv: Any,
    kernel: str,
    shape: tuple[int, ...],
    dtype: Any,
    initializers: dict[str, Any],
    consumers: dict[str, list[Any]],
    pinned: set[str],
    removed: list[Any],
) -> Step | None:
    """Conv -> Mul(per-channel) -> Add(per-channel) as one Conv: the scale goes into the
    kernel as it is written (the returned step), scale and shift into the bias.

    A frozen kernel let grappler fold an inference BatchNormalization into it; a kernel that
    is a graph input leaves tf2onnx a Mul and an Add (ResNet50: 56 more nodes, +15 % time).
    """
    import numpy as np
    from onnx import numpy_helper

    if conv.input[1] != kernel or conv.input[0] == kernel:
        return None
    channels, rank = shape[0], len(shape)
    has_bias = len(conv.input) > 2 and conv.input[2] != ""
    if has_bias and conv.input[2] not in initializers:
        return None
    bias = (numpy_helper.to_array(initializers[conv.input[2]]).astype(dtype).reshape(-1)
            if has_bias else np.zeros(channels, dtype))
    if bias.shape != (channels,):
        return None
    scale = None
    out = conv.output[0]
    for op in ("Mul", "Add"):
        users = consumers.get(out, [])
        if out in pinned or len(users) != 1 or users[0].op_type != op:
            continue
        vector = _channel_vector(users[0], out, channels, rank, dtype, initializers)
        if vector is None:
            break
        if op == "Mul":
            scale, bias = vector, bias * vector
        else:
            bias = bias + vector
        removed.append(users[0])
        out = users[0].output[0]
    if out == conv.output[0]:
        return None
    conv.output[0] = out
    name = f"{kernel}/folded_bias"
    while name in initializers:
        name += "_"
    tensor = numpy_helper.from_array(np.ascontiguousarray(bias, dtype=dtype), name)
    graph.initializer.append(tensor)
    initializers[name] = tensor
    if has_bias or len(conv.input) > 2:
        conv.input[2] = name
    else:
        conv.input.append(name)
    if scale is None:
        return lambda a: a
    per_output = scale.reshape((channels,) + (1,) * (rank - 1))
    return lambda a: a * per_output


def _array(plan: _Planned) -> Any:
    """The planned initializer's value, contiguous and little-endian (one variable's copy)."""
    import numpy as np

    array = np.asarray(plan.weight.variable.numpy())
    for step in plan.steps:
        array = step(array)
    array = np.ascontiguousarray(array, dtype=plan.dtype)
    if sys.byteorder != "little":
        array = array.byteswap()
    if tuple(array.shape) != plan.shape:
        raise RuntimeError(f"{plan.name}: folded to {array.shape}, planned {plan.shape}")
    return array


def _initializer(plan: _Planned) -> Any:
    import onnx

    tensor = onnx.TensorProto()
    tensor.name = plan.name
    tensor.dims.extend(plan.shape)
    tensor.data_type = onnx.helper.np_dtype_to_tensor_dtype(plan.dtype)
    return tensor


def attach_weights(model: Any, weights: Sequence[Weight]) -> Any:
    """tf2onnx's model with the weight inputs as initializers: a ModelProto holding them
    below ``external_threshold()``, else an :class:`ExternalOnnx` with one data file.

    The variables are read here, one at a time, so the result no longer depends on them.
    """
    names = {w.name for w in weights}
    graph_inputs = {i.name for i in model.graph.input}
    lost = sorted(names - graph_inputs)
    if lost:
        raise RuntimeError(f"tf2onnx dropped the weight input(s) {lost}")
    kept = [i for i in model.graph.input if i.name not in names]
    del model.graph.input[:]
    model.graph.input.extend(kept)
    plans = _plan(model, weights)
    inline = sum(len(t.raw_data) for t in model.graph.initializer)
    total = inline + sum(p.weight.nbytes for p in plans)
    if total <= external_threshold():
        for plan in plans:
            tensor = _initializer(plan)
            tensor.raw_data = _array(plan).tobytes()
            model.graph.initializer.append(tensor)
        return model
    return _external(model, plans)


def _external(model: Any, plans: Sequence[_Planned]) -> ExternalOnnx:
    """The model in a temporary directory: graph in ``model.onnx``, every initializer of
    ``_INLINE_BYTES`` or more in ``model.onnx.data`` (offsets aligned to 4 KiB)."""
    import onnx

    directory = tempfile.mkdtemp(prefix="interop-onnx-")
    path = Path(directory) / "model.onnx"
    location = path.name + ".data"

    def place(tensor: Any, data: Any, out: Any) -> None:
        out.write(b"\0" * ((-out.tell()) % _ALIGN))
        offset = out.tell()
        out.write(data)
        tensor.data_location = onnx.TensorProto.EXTERNAL
        del tensor.external_data[:]
        for key, value in (("location", location), ("offset", str(offset)),
                           ("length", str(out.tell() - offset))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value

    try:
        with open(path.with_name(location), "wb") as out:
            for tensor in model.graph.initializer:
                if len(tensor.raw_data) >= _INLINE_BYTES:
                    data = tensor.raw_data
                    tensor.ClearField("raw_data")
                    place(tensor, data, out)
            for plan in plans:
                tensor = _initializer(plan)
                array = _array(plan)
                place(tensor, memoryview(array).cast("B"), out)
                del array
                model.graph.initializer.append(tensor)
        onnx.save_model(model, str(path), save_as_external_data=False)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return ExternalOnnx(path, proto=model, owned_dir=directory)
