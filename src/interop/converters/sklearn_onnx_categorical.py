"""HistGradientBoosting with native categorical features to ONNX, through a feature preamble.

skl2onnx cannot convert bitset splits. ``frameworks.sklearn.categorical_plan`` rewrites the
model over numeric features: the numeric columns as they are, then one feature per distinct
categorical split (0 left, 1 right, -1/2 where scikit-learn sends missing and unknown values).
skl2onnx converts that copy; this module puts the preamble in front of it: one ai.onnx.ml
``LabelEncoder`` per split (raw category -> 0/1, anything else -> the missing direction),
``Cast`` for the numeric columns, and one ``Concat`` into the tree ensemble's input.
"""

from __future__ import annotations

from typing import Any

from interop.frameworks.sklearn import CategoricalPlan

FEATURES = "hgb_categorical_features"  # the tree ensemble's input inside the graph


def graft_preamble(onnx_model: Any, plan: CategoricalPlan, inputs: list[Any],
                   columns: list[str]) -> None:
    """Replace the graph input ``FEATURES`` by the preamble reading ``inputs``.

    ``inputs`` are the converter's planned inputs (one ``X``, or one ``(N, 1)`` per column);
    ``columns`` the fitted column names (empty when fitted on an array).
    """
    import onnx
    from onnx import TensorProto, helper

    graph = onnx_model.graph
    declared = [value for value in graph.input if value.name == FEATURES]
    batch = declared[0].type.tensor_type.shape.dim[0] if declared else None
    elem: dict[str, int] = {"object": TensorProto.STRING, "int64": TensorProto.INT64}
    by_name = {item.name: item for item in inputs}
    nodes: list[Any] = []
    gathered: set[str] = set()

    def column(j: int) -> tuple[str, int]:
        """The (N, 1) tensor of raw column ``j`` and its element type."""
        if len(inputs) > 1:
            item = by_name[columns[j]]
            return item.name, _elem_type(item.values, elem)
        item = inputs[0]
        out = f"{FEATURES}_col{j}"
        if out in gathered:
            return out, _elem_type(item.values, elem)
        gathered.add(out)
        index = f"{FEATURES}_col{j}_index"
        graph.initializer.append(helper.make_tensor(index, TensorProto.INT64, [1], [j]))
        nodes.append(helper.make_node("Gather", [item.name, index], [out], axis=1))
        return out, _elem_type(item.values, elem)

    parts = []
    for j in plan.numeric_columns:
        source, _ = column(j)
        out = f"{FEATURES}_num{j}"
        nodes.append(helper.make_node("Cast", [source], [out], to=TensorProto.FLOAT))
        parts.append(out)
    for s, split in enumerate(plan.splits):
        source, kind = column(split.column)
        out = f"{FEATURES}_split{s}"
        keys: dict[str, Any]
        if kind == TensorProto.STRING:
            keys = {"keys_strings": [str(k) for k in split.keys]}
        elif kind == TensorProto.INT64:
            keys = {"keys_int64s": [int(k) for k in split.keys]}
        else:
            keys = {"keys_floats": [float(k) for k in split.keys]}
        nodes.append(helper.make_node(
            "LabelEncoder", [source], [out], domain="ai.onnx.ml",
            values_floats=list(split.values), default_float=split.default, **keys,
        ))
        parts.append(out)
    nodes.append(helper.make_node("Concat", parts, [FEATURES], axis=1))
    for node in reversed(nodes):
        graph.node.insert(0, node)
    for value in declared:
        graph.input.remove(value)
    for item in inputs:
        value = helper.make_tensor_value_info(
            item.name, _elem_type(item.values, elem), [None, item.values.shape[1]]
        )
        if batch is not None:
            value.type.tensor_type.shape.dim[0].CopyFrom(batch)
        graph.input.append(value)
    for entry in onnx_model.opset_import:
        if entry.domain == "ai.onnx.ml" and entry.version < 2:
            entry.version = 2  # LabelEncoder with float values
    onnx.checker.check_model(onnx_model)


def _elem_type(values: Any, elem: dict[str, int]) -> int:
    from onnx import TensorProto

    name = "object" if values.dtype.kind in "OUS" else str(values.dtype)
    return elem.get(name, TensorProto.FLOAT)
