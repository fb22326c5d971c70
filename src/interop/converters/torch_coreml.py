"""PyTorch -> Core ML ML program through torch.export (tracing only where export fails)."""

from __future__ import annotations

import inspect
import logging
import warnings
from typing import TYPE_CHECKING, Any, ClassVar

from interop._lazy import LazyModule
from interop.converters import _coreml
from interop.errors import ConversionError, InvalidInput, first_line
from interop.types import Conversion

if TYPE_CHECKING:
    import numpy as np
else:  # numpy loads when a conversion or run first needs it
    np = LazyModule("numpy")

log = logging.getLogger("interop.torch_coreml")


class TorchToCoreml(_coreml.MLProgramConverter):
    """nn.Module / ExportedProgram -> ML program (.mlpackage), fp16 by default."""

    name: ClassVar[str] = "torch.coreml"
    source: ClassVar[str] = "torch"
    requires: ClassVar[tuple[str, ...]] = ("torch", "coremltools")
    install_hint: ClassVar[str] = "pip install 'interop[torch,coreml]'"

    def _convert(self, model: Any, example_inputs: Any, options: dict[str, Any]) -> Conversion:
        import torch

        precision, dynamic, max_batch, captured, ct, target = self._setup(options)

        is_program = isinstance(model, torch.export.ExportedProgram)
        if not is_program and not isinstance(model, torch.nn.Module):
            raise InvalidInput(
                f"torch.coreml converts an nn.Module or an ExportedProgram, not a "
                f"{type(model).__name__}",
                "pass a torch.nn.Module or the result of torch.export.export",
            )
        args = _as_tensors(example_inputs, torch)
        if not args:
            raise InvalidInput(
                "torch.coreml needs example_inputs", "pass example_inputs=(tensor, ...)"
            )
        names = _input_names(model, len(args), is_program)
        warnings_out: list[str] = []
        route = "torch.export"
        batch_range: tuple[int, int] | None = None
        if is_program:
            program, batch_range, note = _prepare_program(model, args, dynamic, max_batch, torch)
            if note:
                warnings_out.append(note)
        else:
            was_training = model.training
            model.eval()
            try:
                program, batch_range, note = _export(model, args, dynamic, max_batch, torch)
                if note:
                    warnings_out.append(note)
            except Exception as exc:
                note = (
                    f"torch.export failed ({first_line(exc)}); converted from torch.jit.trace "
                    "instead"
                )
                log.warning(note)
                warnings_out.append(note)
                route = "torch.jit.trace"
                batch_range = (1, max_batch) if dynamic else None
                try:
                    program = _trace(model, args, torch, captured)
                except Exception as trace_exc:
                    raise ConversionError(
                        f"torch.coreml could not capture the model: export failed with "
                        f"{first_line(exc)}; tracing failed with {first_line(trace_exc)}",
                        "make the model exportable with torch.export (no data-dependent "
                        "control flow), or convert an ExportedProgram",
                    ) from trace_exc
            finally:
                if was_training:
                    model.train()

        dynamic = batch_range is not None
        ct_inputs = []
        for name, arg in zip(names, args, strict=True):
            shape: list[Any] = list(arg.shape)
            if batch_range is not None and shape:
                low, high = batch_range
                default = min(max(int(shape[0]), low), high)
                shape[0] = ct.RangeDim(lower_bound=low, upper_bound=high, default=default)
            dtype = np.int32 if not arg.is_floating_point() else np.float32
            ct_inputs.append(ct.TensorType(name=name, shape=tuple(shape), dtype=dtype))

        def to_coreml(captured_program: Any) -> Any:
            with _coreml.quiet_coremltools() as during:
                converted = ct.convert(
                    captured_program,
                    inputs=ct_inputs,
                    convert_to="mlprogram",
                    compute_precision=_coreml.compute_precision(ct, precision),
                    minimum_deployment_target=target,
                )
            for message in during.messages:
                captured.add(message)
            return converted

        try:
            mlmodel = to_coreml(program)
        except Exception as exc:
            retry = None
            if route == "torch.export" and not is_program:
                # coremltools' TorchScript frontend lowers some modules (nn.LSTM, nn.GRU)
                # that its torch.export frontend rejects
                try:
                    retry = to_coreml(_trace(model.eval(), args, torch, captured))
                except Exception as trace_exc:
                    log.debug("tracing fallback failed: %s", first_line(trace_exc))
            if retry is None:
                raise ConversionError(
                    f"coremltools could not convert the torch model: {first_line(exc)}",
                    "the message names the op without a Core ML lowering; replace that layer, "
                    "or try precision='fp32' / another minimum_deployment_target",
                ) from exc
            note = (
                f"coremltools rejected the torch.export program ({first_line(exc)}); "
                "converted from torch.jit.trace instead"
            )
            log.warning(note)
            warnings_out.append(note)
            route = "torch.jit.trace"
            mlmodel = retry
        note = _coreml.untested_version_note("torch", torch.__version__)
        if note:
            warnings_out.append(note)
        warnings_out.extend(_coreml.relevant_warnings(captured, "torch"))
        if not dynamic and options["dynamic_batch"]:
            warnings_out.append(
                "the Core ML model has a fixed batch size "
                f"{int(args[0].shape[0]) if args[0].ndim else 1}: the batch dimension "
                "could not be made flexible"
            )

        spec = mlmodel.get_spec()
        input_specs = _coreml.feature_specs(spec.description.input)
        output_specs = _coreml.feature_specs(spec.description.output)
        provenance = _coreml.stamp_provenance(
            mlmodel,
            {
                "converter": self.name,
                "source": "torch",
                "source_version": torch.__version__,
                "coremltools_version": ct.__version__,
                "precision": precision,
                "capture": route,
            },
        )
        example_feed = {
            name: arg.detach().cpu().numpy() for name, arg in zip(names, args, strict=True)
        }
        return Conversion(
            source="torch",
            target="coreml",
            converter=self.name,
            model=mlmodel,
            input_specs=input_specs,
            output_specs=output_specs,
            input_map={name: name for name in names},
            output_map={f"output_{i}": s.name for i, s in enumerate(output_specs)},
            saver=_coreml.save_mlmodel,
            suffix=".mlpackage",
            warnings=warnings_out,
            provenance=provenance,
            default_tolerance=_coreml.TOLERANCES[precision],
            example_feed=example_feed,
            runtime="coreml",
        )


def _trace(model: Any, args: list[Any], torch: Any, captured: _coreml.Captured) -> Any:
    """torch.jit.trace, keeping what it warns (a TracerWarning can mean a wrong trace)."""
    with warnings.catch_warnings(record=True) as caught, torch.no_grad():
        warnings.simplefilter("always")
        traced = torch.jit.trace(model, tuple(args), check_trace=False)
    for warning in caught:
        captured.add(f"torch.jit.trace: {warning.message}")
    return traced


def _as_tensors(example_inputs: Any, torch: Any) -> list[Any]:
    if example_inputs is None:
        return []
    items = example_inputs if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    tensors = []
    for item in items:
        if isinstance(item, torch.Tensor):
            tensors.append(item)
        else:
            tensors.append(torch.from_numpy(np.ascontiguousarray(np.asarray(item))))
    return tensors


def _input_names(model: Any, count: int, is_program: bool) -> list[str]:
    """Input names from the forward signature (or the program's user inputs)."""
    names: list[str] = []
    try:
        if is_program:
            names = list(model.graph_signature.user_inputs)
        else:
            params = inspect.signature(model.forward).parameters.values()
            names = [
                p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
    except (TypeError, ValueError, AttributeError):
        names = []
    if len(names) < count or len(set(names[:count])) != count:
        return [f"input_{i}" for i in range(count)]
    return names[:count]


def _export(
    model: Any, args: list[Any], dynamic: bool, max_batch: int, torch: Any
) -> tuple[Any, tuple[int, int] | None, str]:
    """torch.export the model, with a symbolic batch when asked and possible."""
    if dynamic:
        try:
            program = _export_flexible(model, args, max_batch, torch)
            return program, _batch_range(program, max_batch), ""
        except Exception as exc:
            note = (
                f"torch.export with a flexible batch failed ({first_line(exc)}); "
                "exported with the example's fixed shapes"
            )
            program = torch.export.export(model, tuple(args))
            return program.run_decompositions({}), None, note
    program = torch.export.export(model, tuple(args))
    return program.run_decompositions({}), None, ""


def _export_flexible(model: Any, args: list[Any], max_batch: int, torch: Any) -> Any:
    batch = torch.export.Dim("batch", min=1, max=max_batch)
    shapes = tuple({0: batch} if a.ndim else None for a in args)
    program = torch.export.export(model, tuple(args), dynamic_shapes=shapes)
    return program.run_decompositions({})


def _prepare_program(
    program: Any, args: list[Any], dynamic: bool, max_batch: int, torch: Any
) -> tuple[Any, tuple[int, int] | None, str]:
    """Decompose a given ExportedProgram; its batch range is what its graph says.

    coremltools reads each input's batch from the placeholder's shape and the program's
    range_constraints, and refuses a flexible batch where that shape is a number. A program
    can carry a symbolic batch that a guard has since pinned to a number (``int()`` of a
    SymInt after export does that); it is re-exported from ``program.module()`` so the
    batch the user exported as dynamic stays dynamic.
    """
    decomposed = program.run_decompositions({})
    if not dynamic:
        return decomposed, None, ""
    batch_range = _batch_range(decomposed, max_batch)
    if batch_range is not None or not _batch_was_pinned(program):
        return decomposed, batch_range, ""
    try:
        again = _export_flexible(program.module(), args, max_batch, torch)
    except Exception as exc:
        return decomposed, None, (
            "the ExportedProgram's batch dimension was pinned to a fixed size after export "
            f"and re-exporting it with a flexible batch failed ({first_line(exc)})"
        )
    return again, _batch_range(again, max_batch), (
        "the ExportedProgram's symbolic batch had been pinned to a fixed size after export; "
        "re-exported from program.module() with a flexible batch"
    )


def _user_input_dims(program: Any) -> list[Any]:
    """The batch dimension of each user input's placeholder (SymInt or int)."""
    user_inputs = set(program.graph_signature.user_inputs)
    dims = []
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in user_inputs:
            shape = getattr(node.meta.get("val"), "shape", None)
            if shape:
                dims.append(shape[0])
    return dims


def _batch_range(program: Any, max_batch: int) -> tuple[int, int] | None:
    """The (lower, upper) batch bounds Core ML gets, or None for a fixed batch.

    Read as coremltools reads it: a dimension is flexible only where its printed symbol is
    a key of range_constraints (a SymInt whose guard made it a number prints as that
    number). Never ``int()`` a SymInt here: that adds a guard which pins it. The bounds are
    the program's own, clipped to [1, max_batch].
    """
    dims = _user_input_dims(program)
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


def _batch_was_pinned(program: Any) -> bool:
    """A SymInt batch whose expression a guard has since turned into a number."""
    dims = _user_input_dims(program)
    node = getattr(dims[0], "node", None) if dims else None
    expr = getattr(node, "expr", None)
    return expr is not None and not getattr(expr, "free_symbols", True)


__all__ = ["TorchToCoreml"]
