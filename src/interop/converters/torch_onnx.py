"""PyTorch -> ONNX through the dynamo exporter (torch.export), with a dynamic batch by default.

TorchScript modules (scripted, traced, or read with torch.jit.load) are accepted too: the dynamo
exporter refuses them, so they are first translated to a torch.export program with
``torch._export.converter.TS2EPConverter`` (a private torch API; the conversion says so in its
warnings). The check still runs the ScriptModule itself as the original.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import re
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

from interop.converters._onnx import (
    check_onnx,
    graph_inputs,
    opset_of,
    save_onnx,
    stamp_provenance,
    value_specs,
)
from interop.converters.base import Converter
from interop.errors import ConversionError, InvalidInput
from interop.types import Conversion, Tolerance

log = logging.getLogger(__name__)

# The dynamo exporter translates with torchlib, written for opset 18; below that it falls back
# to a version conversion that may silently keep 18, so we refuse it instead.
MIN_OPSET = 18
FALLBACK_MAX_OPSET = 23

# Exporter warnings that say nothing actionable to our users.
_QUIET_WARNINGS = (
    # One Dim shared by every input triggers this rename notice; sharing it is the point.
    "shares the same shape constraints",
    # nn.RNN keeps its weights in _flat_weights; export reports them, harmlessly.
    "_flat_weights",
)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _LogStream(io.TextIOBase):
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


class TorchToOnnx(Converter):
    """nn.Module, ExportedProgram or ScriptModule -> onnx.ModelProto via torch.onnx (dynamo)."""

    name: ClassVar[str] = "torch.onnx"
    source: ClassVar[str] = "torch"
    target: ClassVar[str] = "onnx"
    options: ClassVar[dict[str, Any]] = {
        "opset": None,
        "dynamic_batch": True,
        "input_names": None,
        "output_names": None,
        "optimize": True,
    }
    default_tolerance: ClassVar[Tolerance] = Tolerance(atol=1e-4, rtol=1e-4)
    requires: ClassVar[tuple[str, ...]] = ("torch", "onnx", "onnxscript", "onnxruntime")
    install_hint: ClassVar[str] = "pip install 'interop[torch]'"

    def _convert(self, model: Any, example_inputs: Any, options: dict[str, Any]) -> Conversion:
        import torch

        is_program = isinstance(model, torch.export.ExportedProgram)
        is_script = isinstance(model, torch.jit.ScriptModule)
        if not is_program and not isinstance(model, torch.nn.Module):
            raise InvalidInput(
                f"torch.onnx converts an nn.Module, an ExportedProgram or a TorchScript module, "
                f"not a {type(model).__name__}",
                "pass the model object (or torch.export.export(model, args))",
            )
        opset = _check_opset(options["opset"])
        args = _example_tensors(model, example_inputs, is_program)
        original_names = _original_input_names(model, len(args), is_program)
        input_names = _names_option(options["input_names"], "input_names", len(args))
        if is_script and input_names is None:
            # the translated program renames inputs (x -> x_1); keep forward()'s names
            input_names = list(original_names)
        warns: list[str] = []
        # Inference graphs need eval mode (dropout off, batch norm on running statistics);
        # each submodule's own mode is put back afterwards.
        modes = [] if is_program else [(m, m.training) for m in model.modules()]
        if any(training for _, training in modes):
            warns.append("the model was in training mode; it was exported in eval mode")
        try:
            if modes:
                model.eval()
            n_outputs = _count_outputs(model, args, is_program)
            if is_script:
                model = _script_to_program(model, args, bool(options["dynamic_batch"]), warns)
                is_program = True
            output_names = _names_option(options["output_names"], "output_names", n_outputs)
            program = self._export(
                model,
                *self._export_args(model, args, is_program, options, warns),
                opset,
                input_names,
                output_names or [f"output_{i}" for i in range(n_outputs)],
                bool(options["optimize"]),
                warns,
            )
        finally:
            for module, training in modes:
                module.training = training
        onnx_model = program.model_proto
        if opset is not None and opset_of(onnx_model) != opset:
            raise ConversionError(
                f"torch.onnx produced opset {opset_of(onnx_model)}, not the requested {opset}",
                f"choose an opset between {MIN_OPSET} and {_max_opset()}",
            )
        check_onnx(onnx_model, self.name)

        onnx_inputs = graph_inputs(onnx_model)
        if len(onnx_inputs) != len(args):
            raise ConversionError(
                f"the exported graph has {len(onnx_inputs)} inputs but the model takes "
                f"{len(args)}",
                "make every forward() argument a tensor the model uses",
            )
        onnx_outputs = list(onnx_model.graph.output)
        if len(onnx_outputs) != n_outputs:
            raise ConversionError(
                f"the exported graph has {len(onnx_outputs)} outputs but the model returns "
                f"{n_outputs} tensors",
                "return a tensor or a flat tuple of tensors from forward()",
            )
        output_specs = value_specs(onnx_outputs)
        input_specs = value_specs(onnx_inputs)
        if any(spec.shape and spec.shape[0] == "batch" for spec in input_specs):
            # A program's own symbolic shapes say which outputs follow the batch; the ONNX
            # graph's output dims are only the exporter's rendering of them.
            firsts = (
                _program_output_batch_dims(model)
                if is_program
                else [spec.shape[0] if spec.shape else None for spec in output_specs]
            )
            for k, first in enumerate(firsts):
                if first is not None and first != "batch":
                    warns.append(
                        f"output_{k} has first dimension {first!r}, not the batch: "
                        "the model may work only at the example's batch size"
                    )
        provenance = stamp_provenance(
            onnx_model,
            {
                "converter": self.name,
                "source": "torch",
                "source_version": torch.__version__,
                "opset": str(opset_of(onnx_model)),
            },
        )
        return Conversion(
            source="torch",
            target="onnx",
            converter=self.name,
            model=onnx_model,
            input_specs=input_specs,
            output_specs=output_specs,
            input_map={o: i.name for o, i in zip(original_names, onnx_inputs, strict=True)},
            output_map={
                f"output_{k}": out.name for k, out in enumerate(onnx_outputs)
            },
            saver=save_onnx,
            suffix=".onnx",
            warnings=warns,
            provenance=provenance,
            default_tolerance=self.default_tolerance,
            example_feed={
                i.name: a.detach().cpu().numpy() for i, a in zip(onnx_inputs, args, strict=True)
            },
            runtime="onnx",
        )

    @staticmethod
    def _export_args(
        model: Any, args: tuple[Any, ...], is_program: bool, options: dict[str, Any],
        warns: list[str],
    ) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:
        """The positional args and dynamic_shapes to hand the exporter."""
        if not is_program:
            return _batch_dynamic(args) if options["dynamic_batch"] else (args, None)
        if _program_has_dynamic_batch(model):
            # The program already carries its symbols; this only names its batch "batch".
            return (), _batch_dynamic(args)[1]
        if options["dynamic_batch"]:
            warns.append(
                "the ExportedProgram has a fixed batch size; export it with "
                "dynamic_shapes={...: {0: torch.export.Dim('batch')}} for a dynamic batch"
            )
        return (), None

    def _export(
        self,
        model: Any,
        args: tuple[Any, ...],
        dynamic_shapes: tuple[Any, ...] | None,
        opset: int | None,
        input_names: list[str] | None,
        output_names: list[str],
        optimize: bool,
        warns: list[str],
    ) -> Any:
        import torch

        stream = _LogStream(log)
        # torch logs "torchvision is not installed" warnings on the first export: not ours.
        registration_log = logging.getLogger("torch.onnx._internal.exporter._registration")
        previous_level = registration_log.level
        registration_log.setLevel(logging.ERROR)
        try:
            # The exporter prints progress to stdout; a library must not, so it goes to logging.
            with contextlib.redirect_stdout(stream), warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                program = torch.onnx.export(
                    model,
                    args,
                    dynamo=True,
                    external_data=False,
                    dynamic_shapes=dynamic_shapes,
                    opset_version=opset,
                    input_names=input_names,
                    output_names=output_names,
                    optimize=optimize,
                )
        except Exception as exc:
            cause, hint = _export_cause(exc)
            raise ConversionError(
                f"torch.onnx could not export {type(model).__name__}: {cause}", hint
            ) from None
        finally:
            stream.flush()
            registration_log.setLevel(previous_level)
        reported: set[str] = set()
        for w in seen:
            text = str(w.message).strip().splitlines()[0] if str(w.message).strip() else ""
            if not text or text in reported:
                continue
            reported.add(text)
            # Deprecations inside torch and known exporter chatter are torch's business.
            internal = issubclass(w.category, (DeprecationWarning, FutureWarning)) or any(
                q in text for q in _QUIET_WARNINGS
            )
            if internal:
                log.debug("torch.onnx: %s", text)
                continue
            log.warning("torch.onnx: %s", text)
            if text not in warns:
                warns.append(text)
        if program is None:
            raise ConversionError(
                "torch.onnx returned no program", "report this with your torch version"
            )
        return program


def _max_opset() -> int:
    try:
        import onnx
        from torch.onnx import _constants

        return min(int(_constants.ONNX_MAX_OPSET), int(onnx.defs.onnx_opset_version()))
    except Exception:
        return FALLBACK_MAX_OPSET


def _check_opset(opset: Any) -> int | None:
    if opset is None:
        return None
    top = _max_opset()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= top:
        raise InvalidInput(
            f"opset {opset!r} is not supported by torch.onnx",
            f"choose an opset between {MIN_OPSET} and {top}, or leave it out for the "
            "exporter's default",
        )
    return opset


def _as_tensor(value: Any, position: int) -> Any:
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


def _example_tensors(model: Any, example_inputs: Any, is_program: bool) -> tuple[Any, ...]:
    if example_inputs is None:
        if is_program and model.example_inputs is not None:
            args, kwargs = model.example_inputs
            if kwargs:
                raise InvalidInput(
                    "the ExportedProgram was exported with keyword inputs",
                    "pass example_inputs= as a tuple of positional tensors",
                )
            example_inputs = tuple(args)
        else:
            raise InvalidInput(
                "torch.onnx needs example_inputs to trace the model",
                "pass example_inputs=(tensor, ...) with a realistic batch",
            )
    if isinstance(example_inputs, dict):
        raise InvalidInput(
            "torch.onnx takes positional example inputs, not a dict",
            "pass example_inputs as a tuple in forward()'s argument order",
        )
    if not isinstance(example_inputs, (tuple, list)):
        example_inputs = (example_inputs,)
    args = tuple(_as_tensor(v, i) for i, v in enumerate(example_inputs))
    if not args:
        raise InvalidInput("example_inputs is empty", "pass at least one tensor")
    return args


def _original_input_names(model: Any, count: int, is_program: bool) -> list[str]:
    """forward()'s argument names (the ExportedProgram's user inputs), else input_0..."""
    names: list[str] = []
    if is_program:
        names = [str(n) for n in model.graph_signature.user_inputs]
    elif _is_script(model):
        # a ScriptMethod has no Python signature; its schema lists self and the arguments
        names = [a.name for a in model.forward.schema.arguments][1:]
    else:
        try:
            params = inspect.signature(model.forward).parameters.values()
            names = [
                p.name
                for p in params
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
        except (TypeError, ValueError):
            names = []
    names = names[:count]
    if len(names) != count or len(set(names)) != count:
        names = [f"input_{i}" for i in range(count)]
    return names


def _names_option(value: Any, option: str, count: int) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidInput(f"{option} must be a list of names", f"pass {option}=['a', 'b', ...]")
    names = [str(v) for v in value]
    if len(names) != count or len(set(names)) != count:
        raise InvalidInput(
            f"{option} has {len(names)} names ({len(set(names))} distinct) but the model has "
            f"{count}",
            f"give exactly {count} distinct names",
        )
    return names


def _count_outputs(model: Any, args: tuple[Any, ...], is_program: bool) -> int:
    """How many tensors the model returns, flattened as the exporter flattens them."""
    import torch
    from torch.utils._pytree import tree_leaves

    if is_program:
        return len(model.graph_signature.user_outputs)
    try:
        with torch.inference_mode():
            result = model(*args)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise InvalidInput(
            f"the model failed on the example inputs: {type(exc).__name__}: {first}",
            "pass example_inputs that forward() accepts, in its argument order",
        ) from None
    leaves = tree_leaves(result)
    if not leaves or not all(isinstance(leaf, torch.Tensor) for leaf in leaves):
        raise InvalidInput(
            "the model's forward() must return tensors (a tensor or a tuple of tensors)",
            "return only tensors from forward(); compute other values outside the model",
        )
    return len(leaves)


def _batch_dynamic(args: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """dynamic_shapes marking dim 0 of every batched input as one shared ``batch`` Dim.

    torch.export specialises a size-1 dimension to a constant, so a batch of one is doubled
    for tracing only; the example feed keeps the caller's tensors.
    """
    import torch

    batch = torch.export.Dim("batch")
    shapes = tuple({0: batch} if a.dim() >= 1 else None for a in args)
    batched = [a for a in args if a.dim() >= 1]
    if batched and all(a.shape[0] == 1 for a in batched):
        args = tuple(torch.cat([a, a]) if a.dim() >= 1 else a for a in args)
    return args, shapes


def _is_script(model: Any) -> bool:
    import torch

    return isinstance(model, torch.jit.ScriptModule)


def _script_to_program(
    module: Any, args: tuple[Any, ...], dynamic_batch: bool, warns: list[str]
) -> Any:
    """A TorchScript module as a torch.export program, with our own batch dimension.

    TS2EPConverter (private: torch.onnx points at it for ScriptModules) re-exports with
    Dim.AUTO on every dimension, which leaves sizes it then pins as symbols the exporter
    writes out as names ("4"); exporting its module again with one ``batch`` Dim gives a
    clean program, as for an nn.Module.
    """
    import torch

    try:
        from torch._export.converter import TS2EPConverter
    except ImportError as exc:
        raise ConversionError(
            f"this torch cannot translate TorchScript for torch.onnx ({exc})",
            "export the original nn.Module with torch.export.save (.pt2) instead",
        ) from None
    traced_args: tuple[Any, ...] = args
    shapes: tuple[Any, ...] | None = None
    if dynamic_batch:
        traced_args, shapes = _batch_dynamic(args)
    stream = _LogStream(log)
    try:
        # TorchScript and export chatter goes to the debug log, as the exporter's does
        with contextlib.redirect_stdout(stream), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            translated = TS2EPConverter(module, traced_args).convert()
            program = torch.export.export(
                translated.module(), traced_args, dynamic_shapes=shapes, strict=False
            )
    except Exception as exc:
        cause, hint = _export_cause(exc)
        raise ConversionError(
            f"torch.onnx could not translate the TorchScript {type(module).__name__} to a "
            f"torch.export program: {cause}",
            hint if "batch" in hint else "convert the original nn.Module, or save it with "
            "torch.export.save (.pt2) and convert that",
        ) from None
    finally:
        stream.flush()
    warns.append(
        "TorchScript was translated to a torch.export program with "
        "torch._export.converter.TS2EPConverter, a private torch API; parity is checked "
        "against the ScriptModule"
    )
    return program


def _batch_symbols(program: Any) -> set[Any]:
    """The symbols that size dim 0 of the program's user inputs (empty when fixed)."""
    import torch

    symbols: set[Any] = set()
    for node in program.graph.nodes:
        if node.op != "placeholder" or node.name not in program.graph_signature.user_inputs:
            continue
        value = node.meta.get("val")
        if isinstance(value, torch.Tensor) and value.dim() >= 1:
            first = value.shape[0]
            if isinstance(first, torch.SymInt):
                symbols |= set(first.node.expr.free_symbols)
    return symbols


def _program_has_dynamic_batch(program: Any) -> bool:
    """True when dim 0 of every batched user input is a symbol the program keeps free."""
    import torch

    ranged = {str(s) for s in program.range_constraints}
    for node in program.graph.nodes:
        if node.op != "placeholder" or node.name not in program.graph_signature.user_inputs:
            continue
        value = node.meta.get("val")
        if not isinstance(value, torch.Tensor) or value.dim() < 1:
            continue
        first = value.shape[0]
        # a SymInt a guard has since pinned (int() on it) has a number, not a symbol
        free = isinstance(first, torch.SymInt) and {
            str(s) for s in first.node.expr.free_symbols
        } & ranged
        if not free:
            return False
    return True


def _program_output_batch_dims(program: Any) -> list[Any]:
    """Per user output: "batch" when dim 0 is the inputs' batch symbol, else that dim.

    Read from the program's symbolic output shapes; None for a 0-d or non-tensor output.
    """
    import torch
    from torch.export.graph_signature import OutputKind

    batch = _batch_symbols(program)
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


def _export_cause(exc: BaseException) -> tuple[str, str]:
    """The first meaningful line of an exporter error, and what to do about it."""
    text = _ANSI.sub("", str(exc))
    op = re.search(r"No ONNX function found for <OpOverload\(op='([^']+)'", text)
    if op:
        return (
            f"no ONNX translation for the op {op.group(1)}",
            "replace that op in the model with supported ones, or pass a model without it",
        )
    summary = text.split("## Exception summary", 1)
    body = summary[1] if len(summary) > 1 else text
    lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
    first = lines[0] if lines else type(exc).__name__
    first = re.sub(r"^<class '[^']*'>:\s*", "", first)
    where = re.search(r'File "([^"]+)", line (\d+), in \w+\n\s*(.+)', text)
    location = ""
    if where:
        location = f" at {where.group(1).rsplit('/', 1)[-1]}:{where.group(2)} " \
            f"(`{where.group(3).strip()}`)"
    if "data-dependent" in first or "GuardOnDataDependent" in text:
        return (
            f"data-dependent control flow{location}: {first}",
            "replace Python branches on tensor values with torch.where or torch.cond",
        )
    if "Constraints violated" in text or "specializ" in first:
        return (
            f"the model fixes the batch size{location}: {first}",
            "pass dynamic_batch=False, or remove the hard-coded batch size from the model",
        )
    return first + location, "simplify the failing part of the model, or try another opset"
