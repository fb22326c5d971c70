"""What a loaded model says about its own inputs, read from the object without importing
its framework (the object is already there)."""

from __future__ import annotations

from typing import Any

from interop.types import TensorSpec


def program_specs(program: Any) -> tuple[TensorSpec, ...]:
    """The user inputs of a torch ExportedProgram (a symbolic batch is ``batch``)."""
    try:
        names = list(program.graph_signature.user_inputs)
        nodes = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
        specs = []
        for name in names:
            value = nodes[name].meta.get("val")
            shape = tuple(
                int(d) if _is_static(d) else ("batch" if i == 0 else str(d))
                for i, d in enumerate(value.shape)
            )
            specs.append(TensorSpec(name, shape, str(value.dtype).replace("torch.", "")))
        return tuple(specs)
    except Exception:  # a program without tensor inputs or with exotic metadata
        return ()


def _is_static(dim: Any) -> bool:
    # Never int() a torch.SymInt: that adds a guard pinning the program's batch to the
    # example's size, and every later export of the program then has a fixed batch.
    return isinstance(dim, int) and not hasattr(dim, "node")


def keras_specs(model: Any) -> tuple[TensorSpec, ...]:
    """The inputs of a built Keras model; none for a subclassed model never called."""
    try:
        specs = []
        for index, tensor in enumerate(model.inputs):
            shape = tuple(
                int(d) if d is not None else ("batch" if i == 0 else f"dim{i}")
                for i, d in enumerate(tensor.shape)
            )
            name = str(getattr(tensor, "name", "") or f"input_{index}").split(":")[0]
            specs.append(TensorSpec(name, shape, str(getattr(tensor.dtype, "name", tensor.dtype))))
        return tuple(specs)
    except Exception:  # a subclassed model that was never built has no inputs
        return ()


def sklearn_specs(model: Any) -> tuple[tuple[TensorSpec, ...], bool]:
    """(the X input of a fitted estimator, whether it was fitted on a DataFrame)."""
    columns = getattr(model, "feature_names_in_", None)
    count = getattr(model, "n_features_in_", None)
    if columns is not None:
        return (TensorSpec("X", ("batch", len(columns)), "float32"),), True
    if isinstance(count, int):
        return (TensorSpec("X", ("batch", count), "float32"),), False
    return (), False
