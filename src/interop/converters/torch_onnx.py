"""PyTorch -> ONNX through the dynamo exporter (torch.export), with a dynamic batch by default.

TorchScript modules (scripted, traced, or read with torch.jit.load) are accepted too: the dynamo
exporter refuses them, so they are first translated to a torch.export program with
``torch._export.converter.TS2EPConverter`` (a private torch API; the conversion says so in its
warnings). The check still runs the ScriptModule itself as the original.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from interop.converters.base import Converter
from interop.errors import ConversionError, InvalidInput
from interop.frameworks import locks
from interop.frameworks import torch as torch_fw
from interop.frameworks.onnx import (
    check_onnx,
    from_program,
    graph_inputs,
    opset_of,
    save_onnx,
    stamp_provenance,
    value_specs,
)
from interop.frameworks.torch_site import failure_site
from interop.types import FP32_TOLERANCE, Conversion, Tolerance

log = logging.getLogger(__name__)

# The dynamo exporter translates with torchlib, written for opset 18; below that it falls back
# to a version conversion that may silently keep 18, so we refuse it instead.
MIN_OPSET = 18
FALLBACK_MAX_OPSET = 23
# The TorchScript exporter (the last route) writes opset 18 by default here and tops out at 20.
_TORCHSCRIPT_OPSET = 18
_TORCHSCRIPT_MAX_OPSET = 20

# Exporter warnings that say nothing actionable to our users.
_QUIET_WARNINGS = (
    # One Dim shared by every input triggers this rename notice; sharing it is the point.
    "shares the same shape constraints",
    # nn.RNN keeps its weights in _flat_weights; export reports them, harmlessly.
    "_flat_weights",
)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


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
        call = torch_fw.example_call(model, example_inputs, self.name)
        original_names = list(call.names)
        input_names = _names_option(options["input_names"], "input_names", len(call.names))
        if input_names is None and (is_script or call.keywords):
            # keep forward()'s names (the translated TorchScript program renames x -> x_1);
            # keyword inputs keep their keywords
            input_names = list(original_names)
        warns: list[str] = []
        # Inference graphs need eval mode; each submodule's own mode is put back afterwards.
        # torch.export/dynamo keep process-wide state: one export at a time (frameworks.locks)
        with locks.hold("torch", self.name), torch_fw.eval_mode(model) as was_training, \
                torch_fw.quiet(log):
            if was_training:
                warns.append("the model was in training mode; it was exported in eval mode")
            original_outputs = torch_fw.output_names(model, call)
            if is_script:
                model = _script_to_program(
                    model, call.tensors, bool(options["dynamic_batch"]), warns
                )
                is_program = True
            output_names = _names_option(
                options["output_names"], "output_names", len(original_outputs)
            ) or list(original_outputs)
            program, route = self._export_routes(
                model, call, is_program, options, opset, input_names, output_names, warns
            )
        # past the external-data threshold the program is saved straight to a data file
        # (frameworks.onnx.from_program): no serialized proto holds the weights
        onnx_model = program if route == "torchscript" else from_program(program)
        del program
        if opset is not None and opset_of(onnx_model) != opset:
            raise ConversionError(
                f"torch.onnx produced opset {opset_of(onnx_model)}, not the requested {opset}",
                f"choose an opset between {MIN_OPSET} and {_max_opset()}",
            )
        check_onnx(onnx_model, self.name)

        onnx_inputs = graph_inputs(onnx_model)
        if len(onnx_inputs) != len(call.tensors):
            raise ConversionError(
                f"the exported graph has {len(onnx_inputs)} inputs but the model takes "
                f"{len(call.tensors)}",
                "make every forward() argument a tensor the model uses",
            )
        onnx_outputs = list(onnx_model.graph.output)
        if len(onnx_outputs) != len(original_outputs):
            raise ConversionError(
                f"the exported graph has {len(onnx_outputs)} outputs but the model returns "
                f"{len(original_outputs)} tensors",
                "return a tensor, a flat tuple of tensors or a dict of tensors from forward()",
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
            for name, first in zip(original_outputs, firsts, strict=False):
                if first is not None and first != "batch":
                    warns.append(
                        f"{name} has first dimension {first!r}, not the batch: "
                        "the model may work only at the example's batch size"
                    )
        provenance = stamp_provenance(
            onnx_model,
            {
                "converter": self.name,
                "source": "torch",
                "source_version": torch.__version__,
                "opset": str(opset_of(onnx_model)),
                "route": route,
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
                name: out.name for name, out in zip(original_outputs, onnx_outputs, strict=True)
            },
            input_layout=call.layout,
            saver=save_onnx,
            suffix=".onnx",
            warnings=warns,
            provenance=provenance,
            default_tolerance=self.default_tolerance,
            example_feed={
                i.name: a.detach().cpu().numpy()
                for i, a in zip(onnx_inputs, call.tensors, strict=True)
            },
            runtime="onnx",
        )

    def _export_routes(
        self,
        model: Any,
        call: torch_fw.ExampleCall,
        is_program: bool,
        options: dict[str, Any],
        opset: int | None,
        input_names: list[str] | None,
        output_names: list[str],
        warns: list[str],
    ) -> tuple[Any, str]:
        """Try the routes in order; return (program or ModelProto, route name).

        1. ``dynamo``: torch.export with a dynamic batch (or as asked); 2. ``dynamo-static``:
        torch.export at the example's batch; 3. ``torchscript``: the TorchScript exporter
        (``dynamo=False``). Each fallback says in ``warns`` why the route before it failed.
        """
        optimize = bool(options["optimize"])
        failures: list[tuple[str, ConversionError]] = []
        dynamic = bool(options["dynamic_batch"]) and not is_program
        routes = [("dynamo", dynamic)]
        if dynamic:
            routes.append(("dynamo-static", False))
        if not is_program and (opset is None or opset <= _TORCHSCRIPT_MAX_OPSET):
            routes.append(("torchscript", dynamic))
        for route, route_dynamic in routes:
            try:
                if route == "torchscript":
                    result = _torchscript_export(
                        model, call, opset, input_names, output_names, route_dynamic, warns
                    )
                else:
                    local: list[str] = []
                    if is_program:
                        args, kwargs, shapes = (), None, self._program_shapes(
                            model, call.tensors, options, local
                        )
                    else:
                        args, kwargs, shapes = _dynamo_args(call, route_dynamic)
                    result = self._export(
                        model, args, kwargs, shapes, opset, input_names, output_names,
                        optimize, local,
                    )
                    warns.extend(w for w in local if w not in warns)
            except ConversionError as exc:
                failures.append((route, exc))
                if "data-dependent" in exc.message:
                    # a trace would bake in the branch torch.export refused: no fallback
                    break
                continue
            notes = [f"route {failed} failed ({exc.message}); fell back to {route}"
                     for failed, exc in failures]
            if route == "dynamo-static" or (route == "torchscript" and not route_dynamic):
                batch = call.tensors[0].shape[0] if call.tensors[0].dim() else 1
                notes.append(f"the batch dimension is fixed at {batch} (route {route})")
            elif route_dynamic and (fixed := _specialized_batch(result)) is not None:
                notes.append(
                    f"the batch dimension is fixed at {fixed}: torch.export specialized it "
                    f"(route {route}); the model's code ties its batch to that size"
                )
            for note in notes:
                log.info("torch.onnx: %s", note)
            warns.extend(notes)
            return result, route
        first = failures[0][1]
        others = "; ".join(f"{route} failed: {exc.message}" for route, exc in failures[1:])
        hint = first.hint + (f" (the fallback routes failed too: {others})" if others else "")
        site = {k: getattr(first, k, None) for k in ("op", "layer", "source_location")}
        raise ConversionError(first.message, hint, **site) from None

    @staticmethod
    def _program_shapes(
        model: Any, args: tuple[Any, ...], options: dict[str, Any], warns: list[str]
    ) -> tuple[Any, ...] | None:
        """dynamic_shapes for an ExportedProgram: its own batch symbol, named "batch"."""
        if torch_fw.program_has_dynamic_batch(model):
            return torch_fw.batch_shapes(args)
        if options["dynamic_batch"]:
            warns.append(
                "the ExportedProgram has a fixed batch size; export it with "
                "dynamic_shapes={...: {0: torch.export.Dim('batch')}} for a dynamic batch"
            )
        return None

    def _export(
        self,
        model: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any] | None,
        dynamic_shapes: Any,
        opset: int | None,
        input_names: list[str] | None,
        output_names: list[str],
        optimize: bool,
        warns: list[str],
    ) -> Any:
        import torch

        try:
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                program = torch.onnx.export(
                    model,
                    args,
                    kwargs=kwargs,
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
                **failure_site(exc, model, args, kwargs),
            ) from None
        _report_warnings(seen, warns)
        if program is None:
            raise ConversionError(
                "torch.onnx returned no program", "report this with your torch version"
            )
        return program


def _dynamo_args(
    call: torch_fw.ExampleCall, dynamic: bool
) -> tuple[tuple[Any, ...], dict[str, Any] | None, Any]:
    """(args, kwargs, dynamic_shapes) for torch.onnx.export(dynamo=True)."""
    shapes = None
    if dynamic:
        call, shapes = torch_fw.batch_dynamic_call(call)
    if call.keywords:
        return (), call.kwargs(), shapes
    return call.tensors, None, shapes


def _report_warnings(seen: list[warnings.WarningMessage], warns: list[str]) -> None:
    """Exporter warnings: torch's internal chatter to debug, the rest to the user, once."""
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


def _torchscript_export(
    model: Any,
    call: torch_fw.ExampleCall,
    opset: int | None,
    input_names: list[str] | None,
    output_names: list[str],
    dynamic: bool,
    warns: list[str],
) -> Any:
    """The TorchScript exporter (``dynamo=False``) on a positional, flat-output wrapper.

    Deprecated in torch but it traces what torch.export cannot (T5's relative position
    buckets); the batch stays free through ``dynamic_axes`` on every input and output.
    """
    import onnx
    import torch

    names = input_names or list(call.names)
    flat = torch_fw.flat_module(model, call)
    axes = {n: {0: "batch"} for n, t in zip(names, call.tensors, strict=True) if t.dim()}
    if dynamic:
        axes.update({n: {0: "batch"} for n in output_names})
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(record=True) as seen, torch.no_grad():
            warnings.simplefilter("always")
            torch.onnx.export(
                flat,
                call.tensors,
                buffer,  # type: ignore[arg-type]  # the TorchScript exporter takes a file object
                dynamo=False,
                opset_version=opset or _TORCHSCRIPT_OPSET,
                input_names=names,
                output_names=output_names,
                dynamic_axes=axes if dynamic else None,
                do_constant_folding=True,
            )
    except Exception as exc:
        cause, hint = _export_cause(exc)
        raise ConversionError(
            f"the TorchScript exporter could not export {type(model).__name__}: {cause}", hint
        ) from None
    traced = [w for w in seen if w.category.__name__ == "TracerWarning"]
    _report_warnings([w for w in seen if w not in traced], warns)
    if traced:
        places = sorted({f"{Path(w.filename).parent.name}/{Path(w.filename).name}:{w.lineno}"
                         for w in traced})
        warns.append(
            f"the TorchScript trace turned tensors into Python values {len(traced)} time(s) "
            f"({', '.join(places[:4])}): the graph holds only the branches the example took"
        )
    return onnx.load_from_string(buffer.getvalue())


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
    try:
        # TorchScript and export chatter goes to the debug log (the caller holds quiet())
        with warnings.catch_warnings():
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


def _specialized_batch(result: Any) -> int | None:
    """The batch size the exported graph fixed although a free batch was asked, else None."""
    proto = getattr(result, "model_proto", result)
    graph = getattr(proto, "graph", None)
    for value in getattr(graph, "input", ()):
        dims = value.type.tensor_type.shape.dim
        if len(dims):
            first = dims[0]
            return int(first.dim_value) if first.HasField("dim_value") else None
    return None
