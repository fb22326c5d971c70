"""PyTorch knowledge the torch converters and the torch runtime share.

Example inputs to tensors, input names from ``forward()`` (or a program's signature), eval
mode for the length of a job, output flattening, tracing, and the dynamic batch: marking it
for torch.export and reading it back from an ExportedProgram. torch and numpy are imported
inside the functions.
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
from collections.abc import Iterator
from typing import Any

from interop.errors import InvalidInput, first_line


# -- models and inputs -------------------------------------------------------------------------
def is_program(model: Any) -> bool:
    import torch

    return isinstance(model, torch.export.ExportedProgram)


def is_script(model: Any) -> bool:
    import torch

    return isinstance(model, torch.jit.ScriptModule)


def to_tensor(value: Any) -> Any:
    """A feed value as a tensor, sharing the array's memory where torch can."""
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        return value
    array = np.asarray(value)
    # torch.from_numpy shares memory and warns on read-only or strided arrays; copy only then.
    if not array.flags.writeable or not array.flags.c_contiguous:
        array = np.array(array, copy=True, order="C")
    return torch.from_numpy(array)


def example_tensor(value: Any, position: int) -> Any:
    """One example input as a tensor of its own (detached, or copied from a numpy array)."""
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, copy=True))
    raise InvalidInput(
        f"example input {position} is a {type(value).__name__}, not a tensor or numpy array",
        "pass example_inputs as a tensor, an array, or a tuple of them",
    )


def example_tensors(model: Any, example_inputs: Any, converter: str) -> tuple[Any, ...]:
    """The positional example tensors; an ExportedProgram may supply its own."""
    if example_inputs is None:
        if is_program(model) and model.example_inputs is not None:
            args, kwargs = model.example_inputs
            if kwargs:
                raise InvalidInput(
                    "the ExportedProgram was exported with keyword inputs",
                    "pass example_inputs= as a tuple of positional tensors",
                )
            example_inputs = tuple(args)
        else:
            raise InvalidInput(
                f"{converter} needs example_inputs to trace the model",
                "pass example_inputs=(tensor, ...) with a realistic batch",
            )
    if isinstance(example_inputs, dict):
        raise InvalidInput(
            f"{converter} takes positional example inputs, not a dict",
            "pass example_inputs as a tuple in forward()'s argument order",
        )
    if not isinstance(example_inputs, (tuple, list)):
        example_inputs = (example_inputs,)
    args = tuple(example_tensor(v, i) for i, v in enumerate(example_inputs))
    if not args:
        raise InvalidInput("example_inputs is empty", "pass at least one tensor")
    return args


def input_names(model: Any, count: int) -> list[str]:
    """forward()'s argument names (an ExportedProgram's user inputs), else input_0, input_1..."""
    names: list[str] = []
    try:
        if is_program(model):
            names = [str(n) for n in model.graph_signature.user_inputs]
        elif is_script(model):
            # a ScriptMethod has no Python signature; its schema lists self and the arguments
            names = [a.name for a in model.forward.schema.arguments][1:]
        else:
            params = inspect.signature(model.forward).parameters.values()
            names = [
                p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
    except (TypeError, ValueError, AttributeError):
        names = []
    names = names[:count]
    if len(names) != count or len(set(names)) != count:
        names = [f"input_{i}" for i in range(count)]
    return names


@contextlib.contextmanager
def eval_mode(model: Any) -> Iterator[bool]:
    """Inference mode for the block: dropout off, batch norm on running statistics.

    Yields whether any submodule was training; each submodule's own mode is put back after.
    An ExportedProgram has no modes and is left alone.
    """
    import torch

    modes = [(m, m.training) for m in model.modules()] if isinstance(model, torch.nn.Module) else []
    try:
        if modes:
            model.eval()
        yield any(training for _, training in modes)
    finally:
        for module, training in modes:
            module.training = training


def output_leaves(result: Any) -> list[Any]:
    """A model's result flattened as torch.export flattens it: output_0, output_1, ..."""
    from torch.utils._pytree import tree_leaves

    return list(tree_leaves(result))


def count_outputs(model: Any, args: tuple[Any, ...]) -> int:
    """How many tensors the model returns (running it once unless it is a program)."""
    import torch

    if is_program(model):
        return len(model.graph_signature.user_outputs)
    try:
        with torch.inference_mode():
            result = model(*args)
    except Exception as exc:
        raise InvalidInput(
            f"the model failed on the example inputs: {first_line(exc)}",
            "pass example_inputs that forward() accepts, in its argument order",
        ) from None
    leaves = output_leaves(result)
    if not leaves or not all(isinstance(leaf, torch.Tensor) for leaf in leaves):
        raise InvalidInput(
            "the model's forward() must return tensors (a tensor or a tuple of tensors)",
            "return only tensors from forward(); compute other values outside the model",
        )
    return len(leaves)


def jit_trace(model: Any, args: tuple[Any, ...] | list[Any]) -> tuple[Any, list[str]]:
    """torch.jit.trace, and what it warned (a TracerWarning can mean a wrong trace)."""
    import torch

    with warnings.catch_warnings(record=True) as caught, torch.no_grad():
        warnings.simplefilter("always")
        traced = torch.jit.trace(model, tuple(args), check_trace=False)
    return traced, [f"torch.jit.trace: {w.message}" for w in caught]


# -- the dynamic batch -------------------------------------------------------------------------
def batch_shapes(
    args: tuple[Any, ...] | list[Any], max_batch: int | None = None
) -> tuple[Any, ...]:
    """torch.export dynamic_shapes: dim 0 of every input with a dimension is one ``batch`` Dim.

    The Dim is bounded to [1, max_batch] when ``max_batch`` is given.
    """
    import torch

    if max_batch is None:
        batch = torch.export.Dim("batch")
    else:
        batch = torch.export.Dim("batch", min=1, max=max_batch)
    return tuple({0: batch} if a.dim() >= 1 else None for a in args)


def batch_dynamic(args: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Args to trace with and the dynamic_shapes that make their batch free.

    torch.export specialises a size-1 dimension to a constant, so a batch of one is doubled
    for tracing only; the example feed keeps the caller's tensors.
    """
    import torch

    shapes = batch_shapes(args)
    batched = [a for a in args if a.dim() >= 1]
    if batched and all(a.shape[0] == 1 for a in batched):
        args = tuple(torch.cat([a, a]) if a.dim() >= 1 else a for a in args)
    return args, shapes


def input_batch_dims(program: Any) -> list[Any]:
    """Dim 0 (a SymInt or an int) of each user input of the program that has a dimension."""
    import torch

    user_inputs = set(program.graph_signature.user_inputs)
    dims = []
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in user_inputs:
            value = node.meta.get("val")
            if isinstance(value, torch.Tensor) and value.dim() >= 1:
                dims.append(value.shape[0])
    return dims


def _free_symbols(dim: Any) -> set[Any]:
    """The symbols a SymInt dimension depends on (none for a number or a pinned SymInt)."""
    import torch

    return set(dim.node.expr.free_symbols) if isinstance(dim, torch.SymInt) else set()


def program_has_dynamic_batch(program: Any) -> bool:
    """True when dim 0 of every batched user input is a symbol the program keeps free."""
    ranged = {str(s) for s in program.range_constraints}
    # a SymInt a guard has since pinned (int() on it) has a number, not a symbol
    return all({str(s) for s in _free_symbols(d)} & ranged for d in input_batch_dims(program))


def batch_was_pinned(program: Any) -> bool:
    """A SymInt batch whose expression a guard has since turned into a number."""
    dims = input_batch_dims(program)
    node = getattr(dims[0], "node", None) if dims else None
    expr = getattr(node, "expr", None)
    return expr is not None and not getattr(expr, "free_symbols", True)


def batch_range(program: Any, max_batch: int) -> tuple[int, int] | None:
    """The (lower, upper) bounds of the program's batch, or None for a fixed batch.

    Read as coremltools reads it: a dimension is flexible only where its printed symbol is
    a key of range_constraints (a SymInt whose guard made it a number prints as that
    number). Never ``int()`` a SymInt here: that adds a guard which pins it. The bounds are
    the program's own, clipped to [1, max_batch].
    """
    dims = input_batch_dims(program)
    if not dims:
        return None
    ranges = {str(symbol): bounds for symbol, bounds in program.range_constraints.items()}
    bounds = ranges.get(str(dims[0]))
    if bounds is None:
        return None
    low, high = 1, max_batch
    # sympy comparisons, so that torch's int_oo bounds (which int() refuses) work too
    if bool(bounds.lower > low):
        low = int(bounds.lower)
    if bool(bounds.upper < high):
        high = int(bounds.upper)
    return (low, high) if low < high else None


def output_batch_dims(program: Any) -> list[Any]:
    """Per user output: "batch" when dim 0 is the inputs' batch symbol, else that dim.

    Read from the program's symbolic output shapes; None for a 0-d or non-tensor output.
    """
    import torch
    from torch.export.graph_signature import OutputKind

    batch: set[Any] = set()
    for dim in input_batch_dims(program):
        batch |= _free_symbols(dim)
    output_node = next(n for n in program.graph.nodes if n.op == "output")
    values = output_node.args[0]
    found: list[Any] = []
    for spec, value in zip(program.graph_signature.output_specs, values, strict=False):
        if spec.kind != OutputKind.USER_OUTPUT:
            continue
        meta = getattr(value, "meta", {}).get("val") if hasattr(value, "meta") else None
        if not isinstance(meta, torch.Tensor) or meta.dim() == 0:
            found.append(None)
            continue
        first = meta.shape[0]
        if isinstance(first, torch.SymInt):
            expr = first.node.expr
            found.append("batch" if expr.free_symbols and expr in batch else str(expr))
        else:
            found.append(int(first))
    return found
