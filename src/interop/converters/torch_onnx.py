"""PyTorch -> ONNX through the dynamo exporter (torch.export), with a dynamic batch by default.

TorchScript modules (scripted, traced, or read with torch.jit.load) are accepted too: the dynamo
exporter refuses them, so they are first translated to a torch.export program with
``torch._export.converter.TS2EPConverter`` (a private torch API; the conversion says so in its
warnings). The check still runs the ScriptModule itself as the original.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

from interop.converters.base import Converter
from interop.errors import ConversionError, InvalidInput
from interop.frameworks import torch as torch_fw
from interop.frameworks.torch_site import failure_site
from interop.frameworks.onnx import (
    check_onnx,
    graph_inputs,
    opset_of,
    save_onnx,
    stamp_provenance,
    value_specs,
)
from interop.types import FP32_TOLERANCE, Conversion, Tolerance

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
    default_tolerance: ClassVar[Tolerance] = FP32_TOLERANCE
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
        args = torch_fw.example_tensors(model, example_inputs, self.name)
        original_names = torch_fw.input_names(model, len(args))
        input_names = _names_option(options["input_names"], "input_names", len(args))
        if is_script and input_names is None:
            # the translated program renames inputs (x -> x_1); keep forward()'s names
            input_names = list(original_names)
        warns: list[str] = []
        # Inference graphs need eval mode; each submodule's own mode is put back afterwards.
        with torch_fw.eval_mode(model) as was_training:
            if was_training:
                warns.append("the model was in training mode; it was exported in eval mode")
            n_outputs = torch_fw.count_outputs(model, args)
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
                torch_fw.output_batch_dims(model)
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
            return torch_fw.batch_dynamic(args) if options["dynamic_batch"] else (args, None)
        if torch_fw.program_has_dynamic_batch(model):
            # The program already carries its symbols; this only names its batch "batch".
            return (), torch_fw.batch_shapes(args)
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
                f"torch.onnx could not export {type(model).__name__}: {cause}", hint,
                **failure_site(exc, model, args),
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
        traced_args, shapes = torch_fw.batch_dynamic(args)
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
