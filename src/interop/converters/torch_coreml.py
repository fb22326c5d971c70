"""PyTorch -> Core ML ML program through torch.export (tracing only where export fails)."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, ClassVar

from interop._lazy import LazyModule
from interop.converters import _coreml, coreml_lowerings
from interop.errors import ConversionError, InvalidInput, first_line
from interop.frameworks import locks
from interop.frameworks import torch as torch_fw
from interop.types import Conversion

if TYPE_CHECKING:
    import numpy as np
else:  # numpy loads when a conversion or run first needs it
    np = LazyModule("numpy")

log = logging.getLogger("interop.torch_coreml")

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class TorchToCoreml(_coreml.MLProgramConverter):
    """nn.Module / ExportedProgram -> ML program (.mlpackage), fp16 by default."""

    name: ClassVar[str] = "torch.coreml"
    source: ClassVar[str] = "torch"
    requires: ClassVar[tuple[str, ...]] = ("torch", "coremltools")
    install_hint: ClassVar[str] = "pip install 'interop[torch,coreml]'"

    def _convert(self, model: Any, example_inputs: Any, options: dict[str, Any]) -> Conversion:
        import torch

        precision, dynamic, max_batch, captured, ct, target = self._setup(options)
        # ops coremltools' torch frontend lacks (new_ones, diff, ...); once per process
        coreml_lowerings.register()

        is_program = isinstance(model, torch.export.ExportedProgram)
        if not is_program and not isinstance(model, torch.nn.Module):
            raise InvalidInput(
                f"torch.coreml converts an nn.Module or an ExportedProgram, not a "
                f"{type(model).__name__}",
                "pass a torch.nn.Module or the result of torch.export.export",
            )
        # a dict of keyword tensors (Hugging Face style) or positional tensors
        call = torch_fw.example_call(model, example_inputs, self.name)
        args, names = tuple(call.tensors), list(call.names)
        warnings_out: list[str] = []
        # the module runs in eval mode for export, tracing and the tracing fallback below;
        # each submodule's own mode is put back afterwards. torch.export and coremltools'
        # reading of the program use torch's process-wide state: the torch lock (frameworks.locks)
        with locks.hold("torch", self.name), torch_fw.eval_mode(model):
            route = "torch.export"
            # a ModelOutput / dict result is named by its fields (logits, last_hidden_state)
            output_names = torch_fw.output_names(model, call)
            flat = not is_program and (
                call.keywords or output_names != [f"output_{i}" for i in range(len(output_names))]
            )
            if flat:
                # captured by position, returning a flat tuple in output_names' order
                model = torch_fw.flat_module(model, call)
            if is_program:
                program, batch_range, note = _prepare_program(model, args, dynamic, max_batch)
            else:
                try:
                    program, batch_range, note = _export(model, args, dynamic, max_batch, flat)
                except Exception as exc:
                    route = "torch.jit.trace"
                    batch_range = (1, max_batch) if dynamic else None
                    note = (
                        f"torch.export failed ({first_line(exc)}); converted from "
                        "torch.jit.trace instead"
                    )
                    log.warning(note)
                    try:
                        program = _trace(model, args, captured)
                    except Exception as trace_exc:
                        raise ConversionError(
                            f"torch.coreml could not capture the model: export failed with "
                            f"{first_line(exc)}; tracing failed with {first_line(trace_exc)}",
                            "make the model exportable with torch.export (no data-dependent "
                            "control flow), or convert an ExportedProgram",
                        ) from trace_exc
            if note:
                warnings_out.append(note)

            def coreml_inputs(batch: tuple[int, int] | None) -> list[Any]:
                found = []
                for name, arg in zip(names, args, strict=True):
                    shape: list[Any] = list(arg.shape)
                    if batch is not None and shape:
                        low, high = batch
                        default = min(max(int(shape[0]), low), high)
                        shape[0] = ct.RangeDim(lower_bound=low, upper_bound=high, default=default)
                    dtype = np.int32 if not arg.is_floating_point() else np.float32
                    found.append(ct.TensorType(name=name, shape=tuple(shape), dtype=dtype))
                return found

            # the model's own output names where Core ML can carry them
            ct_outputs = (
                [ct.TensorType(name=n) for n in output_names]
                if flat and all(_IDENTIFIER.fullmatch(n) for n in output_names)
                else None
            )

            def to_coreml(captured_program: Any, batch: tuple[int, int] | None) -> Any:
                with locks.hold("coremltools", "ct.convert"), \
                        _coreml.quiet_coremltools() as during:
                    converted = ct.convert(
                        captured_program,
                        inputs=coreml_inputs(batch),
                        outputs=ct_outputs,
                        convert_to="mlprogram",
                        compute_precision=_coreml.compute_precision(ct, precision),
                        minimum_deployment_target=target,
                        pass_pipeline=_coreml.pass_pipeline(ct),
                    )
                for message in during.messages:
                    captured.add(message)
                return converted

            try:
                mlmodel = to_coreml(program, batch_range)
            except Exception as exc:
                if route != "torch.export" or is_program:
                    raise _rejected(exc) from exc
                mlmodel = None
                if batch_range is not None:
                    # coremltools folds some shape arithmetic only with a fixed batch
                    # (Wav2Vec2: "Cannot add const [is0, 16, 1, 79]")
                    try:
                        fixed, _, _ = _export(model, args, False, max_batch, flat)
                        mlmodel = to_coreml(fixed, None)
                        batch_range = None
                        retry_note = (
                            f"coremltools rejected the flexible-batch program "
                            f"({first_line(exc)}); converted with the example's fixed batch"
                        )
                    except Exception as fixed_exc:
                        log.debug("fixed-batch retry failed: %s", first_line(fixed_exc))
                if mlmodel is None:
                    # coremltools' TorchScript frontend lowers some modules (nn.LSTM, nn.GRU)
                    # that its torch.export frontend rejects
                    try:
                        mlmodel = to_coreml(_trace(model, args, captured), batch_range)
                    except Exception as trace_exc:
                        log.debug("tracing fallback failed: %s", first_line(trace_exc))
                        raise _rejected(exc) from exc
                    route = "torch.jit.trace"
                    retry_note = (
                        f"coremltools rejected the torch.export program ({first_line(exc)}); "
                        "converted from torch.jit.trace instead"
                    )
                log.warning(retry_note)
                warnings_out.append(retry_note)
        note = _coreml.untested_version_note("torch", torch.__version__)
        if note:
            warnings_out.append(note)
        warnings_out.extend(_coreml.relevant_warnings(captured, "torch"))
        if batch_range is None and options["dynamic_batch"]:
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
            output_map={
                name: s.name for name, s in zip(output_names, output_specs, strict=True)
            },
            input_layout=call.layout,
            saver=_coreml.save_mlmodel,
            suffix=".mlpackage",
            warnings=warnings_out,
            provenance=provenance,
            default_tolerance=_coreml.TOLERANCES[precision],
            example_feed=example_feed,
            runtime="coreml",
        )


def _rejected(exc: BaseException) -> ConversionError:
    return ConversionError(
        f"coremltools could not convert the torch model: {first_line(exc)}",
        "the message names the op without a Core ML lowering; replace that layer, or try "
        "precision='fp32' / another minimum_deployment_target",
    )


def _trace(model: Any, args: tuple[Any, ...], captured: _coreml.Captured) -> Any:
    """torch.jit.trace, keeping what it warns for Conversion.warnings."""
    traced, messages = torch_fw.jit_trace(model, args)
    for message in messages:
        captured.add(message)
    return traced


def _export(
    model: Any, args: tuple[Any, ...], dynamic: bool, max_batch: int, varargs: bool = False
) -> tuple[Any, tuple[int, int] | None, str]:
    """torch.export the model, with a symbolic batch when asked and possible.

    ``varargs``: the model is ``forward(self, *tensors)`` (frameworks.torch.flat_module),
    whose dynamic shapes torch.export wants nested one level down.
    """
    import torch

    if dynamic:
        try:
            program = _export_flexible(model, args, max_batch, varargs)
            return program, torch_fw.batch_range(program, max_batch), ""
        except Exception as exc:
            note = (
                f"torch.export with a flexible batch failed ({first_line(exc)}); "
                "exported with the example's fixed shapes"
            )
            program = torch.export.export(model, args)
            return program.run_decompositions({}), None, note
    program = torch.export.export(model, args)
    return program.run_decompositions({}), None, ""


def _export_flexible(
    model: Any, args: tuple[Any, ...], max_batch: int, varargs: bool = False
) -> Any:
    import torch

    shapes: Any = torch_fw.batch_shapes(args, max_batch)
    if varargs:
        shapes = (shapes,)
    program = torch.export.export(model, args, dynamic_shapes=shapes)
    return program.run_decompositions({})


def _prepare_program(
    program: Any, args: tuple[Any, ...], dynamic: bool, max_batch: int
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
    batch_range = torch_fw.batch_range(decomposed, max_batch)
    if batch_range is not None or not torch_fw.batch_was_pinned(program):
        return decomposed, batch_range, ""
    try:
        again = _export_flexible(program.module(), args, max_batch)
    except Exception as exc:
        return decomposed, None, (
            "the ExportedProgram's batch dimension was pinned to a fixed size after export "
            f"and re-exporting it with a flexible batch failed ({first_line(exc)})"
        )
    return again, torch_fw.batch_range(again, max_batch), (
        "the ExportedProgram's symbolic batch had been pinned to a fixed size after export; "
        "re-exported from program.module() with a flexible batch"
    )


__all__ = ["TorchToCoreml"]
