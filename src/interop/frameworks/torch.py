"""PyTorch knowledge the torch converters and the torch runtime share.

Example inputs to tensors, input names from ``forward()`` (or a program's signature), eval
mode for the length of a job, output flattening, tracing, and the dynamic batch: marking it
for torch.export and reading it back from an ExportedProgram. torch and numpy are imported
inside the functions.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from interop.errors import InvalidInput, first_line
from interop.frameworks import locks


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


def example_tensor(value: Any, position: int | str) -> Any:
    """One example input as a tensor of its own (detached, or copied from a numpy array)."""
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, copy=True))
    raise InvalidInput(
        f"example input {position!r} is a {type(value).__name__}, not a tensor or numpy array",
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


@dataclass(frozen=True)
class ExampleCall:
    """How the model is called on its example: input names, tensors, and whether by keyword.

    ``keywords`` is True for a dict of keyword tensors (Hugging Face style: ``input_ids``,
    ``attention_mask``, ``pixel_values``...); the names are then the keywords, in the dict's
    order, and the conversion's ``input_layout`` is ``"named"``.
    """

    names: tuple[str, ...]
    tensors: tuple[Any, ...]
    keywords: bool = False

    @property
    def layout(self) -> str:
        return "named" if self.keywords else "positional"

    def kwargs(self) -> dict[str, Any]:
        return dict(zip(self.names, self.tensors, strict=True))

    def with_tensors(self, tensors: tuple[Any, ...]) -> ExampleCall:
        return ExampleCall(self.names, tuple(tensors), self.keywords)


def example_call(model: Any, example_inputs: Any, converter: str) -> ExampleCall:
    """The example inputs as an ExampleCall: a dict calls by keyword, anything else by position.

    Positional inputs are named after forward()'s arguments (see ``input_names``). A dict's
    None values are left out, as Hugging Face models treat a missing keyword as None.
    """
    if not isinstance(example_inputs, Mapping):
        args = example_tensors(model, example_inputs, converter)
        return ExampleCall(tuple(input_names(model, len(args))), args, False)
    if is_program(model) or is_script(model):
        raise InvalidInput(
            f"{converter} calls an ExportedProgram or a TorchScript module by position, "
            "not with a dict of keyword tensors",
            "pass example_inputs as a tuple in forward()'s argument order",
        )
    items = [(str(k), v) for k, v in example_inputs.items() if v is not None]
    if not items:
        raise InvalidInput("example_inputs is an empty dict", "pass at least one tensor")
    accepted = keyword_names(model)
    unknown = [k for k, _ in items if accepted is not None and k not in accepted]
    if unknown:
        raise InvalidInput(
            f"forward() takes no argument named {', '.join(map(repr, unknown))}",
            "key example_inputs by forward()'s argument names: "
            + ", ".join(sorted(accepted or ())),
        )
    tensors = tuple(example_tensor(v, k) for k, v in items)  # type: ignore[arg-type]
    return ExampleCall(tuple(k for k, _ in items), tensors, True)


def keyword_names(model: Any) -> set[str] | None:
    """forward()'s keyword-capable argument names; None when it also takes ``**kwargs``."""
    try:
        params = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError, AttributeError):
        return None
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def named_parameters(model: Any) -> set[str] | None:
    """forward()'s named (keyword-capable) arguments, even when it also takes ``**kwargs``."""
    try:
        params = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError, AttributeError):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def call_model(model: Any, call: ExampleCall) -> Any:
    """Run the model as its example is called: ``model(**kwargs)`` or ``model(*args)``."""
    return model(**call.kwargs()) if call.keywords else model(*call.tensors)


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


def named_outputs(result: Any) -> list[tuple[str, Any]]:
    """A result's leaves with their names, in torch.export's flattening order.

    A tensor or a tuple/list is named by position (output_0, output_1...). A mapping, such
    as a Hugging Face ``ModelOutput``, is named by its keys (``logits``,
    ``last_hidden_state``, ``pooler_output``); a ModelOutput leaves out fields that are None,
    and a nested sequence under a key is named ``key.0``, ``key.1``...
    """
    from torch.utils._pytree import tree_flatten_with_path

    leaves_with_paths, _ = tree_flatten_with_path(result)
    if not isinstance(result, Mapping):
        return [(f"output_{i}", leaf) for i, (_, leaf) in enumerate(leaves_with_paths)]
    named: list[tuple[str, Any]] = []
    for path, leaf in leaves_with_paths:
        parts = []
        for key in path:
            for attribute in ("key", "idx", "name"):
                if hasattr(key, attribute):
                    parts.append(str(getattr(key, attribute)))
                    break
        named.append((".".join(parts) or f"output_{len(named)}", leaf))
    return named


def run_example(model: Any, call: ExampleCall) -> Any:
    """The model's result on its example call, as an InvalidInput when forward() fails."""
    import torch

    try:
        with torch.inference_mode():
            return call_model(model, call)
    except Exception as exc:
        hint = (
            "pass example_inputs that forward() accepts: a tuple in its argument order, "
            "or a dict keyed by its argument names"
        )
        named = named_parameters(model) if call.keywords else None
        unknown = [k for k in call.names if named is not None and k not in named]
        if unknown:  # forward() takes **kwargs, so the name went through unchecked
            hint = (
                f"forward() has no argument named {', '.join(map(repr, unknown))} (it went "
                "into **kwargs); key example_inputs by: " + ", ".join(sorted(named or ()))
            )
        raise InvalidInput(
            f"the model failed on the example inputs: {first_line(exc)}", hint
        ) from None


def output_names(model: Any, call: ExampleCall) -> list[str]:
    """The names of the tensors the model returns (see ``named_outputs``), running it once."""
    import torch

    if is_program(model):
        # the program's output treespec has the names (a ModelOutput's fields) without a run
        from torch.utils._pytree import tree_unflatten

        count = len(model.graph_signature.user_outputs)
        spec = model.call_spec.out_spec
        skeleton = tree_unflatten(list(range(count)), spec) if spec is not None else None
        names = [name for name, _ in named_outputs(skeleton)] if skeleton is not None else []
        return names if len(names) == count else [f"output_{i}" for i in range(count)]
    named = named_outputs(run_example(model, call))
    if not named or not all(isinstance(leaf, torch.Tensor) for _, leaf in named):
        raise InvalidInput(
            "the model's forward() must return tensors (a tensor, a tuple of tensors, or a "
            "dict/ModelOutput of tensors)",
            "return only tensors from forward() (for Hugging Face models build them with "
            "use_cache=False); compute other values outside the model",
        )
    names = [name for name, _ in named]
    if len(set(names)) != len(names):
        return [f"output_{i}" for i in range(len(names))]
    return names


def count_outputs(model: Any, args: tuple[Any, ...]) -> int:
    """How many tensors the model returns (running it once unless it is a program)."""
    names = output_names(model, ExampleCall(tuple(f"input_{i}" for i in range(len(args))),
                                            tuple(args)))
    return len(names)


def flat_module(model: Any, call: ExampleCall) -> Any:
    """A module that takes the inputs by position and returns a flat tuple of tensors.

    For exporters that want neither keywords nor dict outputs (the TorchScript exporter); the
    wrapped model is called exactly as its example is.
    """
    import torch

    class FlatCall(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: Any) -> tuple[Any, ...]:
            result = call_model(self.model, call.with_tensors(tensors))
            return tuple(leaf for _, leaf in named_outputs(result))

    return FlatCall()


# -- quiet --------------------------------------------------------------------------------------
# The loggers of the libraries under torch.onnx; torch's own handler prints "W1130 ..." lines
# and onnxscript's constant folding warns "Evaluation failed: ..." through the last-resort
# handler when nobody configured logging.
NOISY_LOGGERS = ("torch", "onnxscript", "onnx_ir", "onnx")


class _Forward(logging.Handler):
    """Re-emits a library's records on our logger at debug, naming the library."""

    def __init__(self, target: logging.Logger) -> None:
        super().__init__(logging.DEBUG)
        self._target = target

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._target.debug("%s: %s", record.name, record.getMessage())
        except Exception:  # a bad format string in a library's record is not our failure
            self._target.debug("%s: %s", record.name, record.msg)


@contextlib.contextmanager
def quiet(target: logging.Logger) -> Iterator[None]:
    """Nothing from torch's exporters reaches stdout or stderr; it goes to ``target`` at debug.

    Three leaks, three plugs: library loggers (their handlers swapped for one that forwards),
    Python prints (sys.stdout/sys.stderr redirected), and C++ prints (file descriptors 1 and 2
    pointed at a temporary file, read back into the log afterwards). With ``target`` enabled
    for debug, or INTEROP_VERBOSE=1, the text still reaches the log, never the terminal.
    """
    forward = _Forward(target)
    saved = []
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate))
        logger.handlers = [forward]
        logger.propagate = False
    stream = LogStream(target)
    try:
        # the streams and descriptors are the process's: one thread redirects them at a time
        with locks.hold("stdio", "torch quiet"), _fd_capture(target), \
                contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
            yield
    finally:
        stream.flush()
        for logger, handlers, propagate in saved:
            logger.handlers = handlers
            logger.propagate = propagate


@contextlib.contextmanager
def _fd_capture(target: logging.Logger) -> Iterator[None]:
    """File descriptors 1 and 2 into a temporary file for the block; its text to the log."""
    import sys
    import tempfile

    try:
        fds = [(fd, os.dup(fd)) for fd in (1, 2)]
    except OSError:  # no real descriptors (an embedded interpreter): nothing to capture
        yield
        return
    with tempfile.TemporaryFile() as sink:
        for stream in (sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()  # type: ignore[union-attr]  # None is suppressed too
        try:
            for fd, _ in fds:
                os.dup2(sink.fileno(), fd)
            yield
        finally:
            for stream in (sys.__stdout__, sys.__stderr__):
                with contextlib.suppress(Exception):
                    stream.flush()  # type: ignore[union-attr]  # None is suppressed too
            for fd, copy in fds:
                os.dup2(copy, fd)
                os.close(copy)
            sink.seek(0)
            for line in sink.read().decode("utf-8", "replace").splitlines():
                if line.strip():
                    target.debug("%s", line.rstrip())


class LogStream(io.TextIOBase):
    """A text stream that turns each written line into a debug log record."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if line.strip():
                self._logger.debug("%s", line.rstrip())
        return len(text)

    def flush(self) -> None:
        if self._pending.strip():
            self._logger.debug("%s", self._pending.rstrip())
        self._pending = ""


def jit_trace(model: Any, args: tuple[Any, ...] | list[Any]) -> tuple[Any, list[str]]:
    """torch.jit.trace, and what it warned (a TracerWarning can mean a wrong trace)."""
    import torch

    with locks.hold_all("torch", "stdio", what="torch.jit.trace"), \
            warnings.catch_warnings(record=True) as caught, torch.no_grad():
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


def batch_dynamic_call(call: ExampleCall) -> tuple[ExampleCall, Any]:
    """``batch_dynamic`` for an ExampleCall: dynamic_shapes keyed by name for a keyword call."""
    args, shapes = batch_dynamic(call.tensors)
    if call.keywords:
        return call.with_tensors(args), dict(zip(call.names, shapes, strict=True))
    return call.with_tensors(args), shapes


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
