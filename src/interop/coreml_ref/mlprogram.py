"""Executes a Core ML ML program (spec.mlProgram) op by op in numpy.

fp16 emulation: every tensor an op produces is stored in the dtype the program declares for
it, so a FLOAT16 program keeps fp16 values between ops exactly as Core ML's GPU and Neural
Engine store them. Inside one op, fp16 operands are widened to fp32 and the result is rounded
to fp16 once (fp32 accumulation, as those units accumulate dot products at higher
precision). The result therefore carries Core ML's storage rounding, op by op, but cannot
reproduce a particular chip's accumulation order; see docs/tolerances.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from interop.coreml_ref.base import (
    ARRAY_DTYPES,
    MIL_DTYPES,
    SCALAR_FEATURE_DTYPES,
    Args,
    OpFn,
    UnsupportedOp,
    array_dtype,
    widen,
)
from interop.coreml_ref.optable import all_ops
from interop.coreml_ref.spec_io import BlobStore, decode_value, input_specs_of, load_spec
from interop.errors import ConversionError, InvalidInput
from interop.types import TensorSpec


class _Step:
    __slots__ = ("op_type", "fn", "bindings", "outputs", "dtypes", "blocks", "frees")

    def __init__(
        self,
        op_type: str,
        fn: OpFn | None,
        bindings: dict[str, list[tuple[str, Any]]],
        outputs: list[str],
        dtypes: list[Any],
        blocks: list[_Block] | None = None,
    ) -> None:
        self.op_type = op_type
        self.fn = fn
        self.bindings = bindings
        self.outputs = outputs
        self.dtypes = dtypes
        self.blocks = blocks or []
        # names whose last reader is this step: dropped from the environment after it runs
        self.frees: tuple[str, ...] = ()


class _Block:
    """A compiled block: its input names, steps in order and output names."""

    __slots__ = ("inputs", "steps", "outputs")

    def __init__(self, inputs: list[str], steps: list[_Step], outputs: list[str]) -> None:
        self.inputs = inputs
        self.steps = steps
        self.outputs = outputs


CONTROL_FLOW = ("while_loop", "cond")
MAX_LOOP_ITERATIONS = 1_000_000


class MLProgramExecutor:
    """Runs the ``main`` function of an ML program. Feeds carry the batch dimension."""

    def __init__(self, spec: Any, base_dir: str | Path | None = None, function: str = "main"):
        if spec.WhichOneof("Type") != "mlProgram":
            raise InvalidInput(
                f"the model is a {spec.WhichOneof('Type')} spec, not an ML program",
                "use interop.coreml_ref.load_executor, which picks the right executor",
            )
        self.spec = spec
        self.blobs = BlobStore(Path(base_dir) if base_dir is not None else None)
        program = spec.mlProgram
        if function not in program.functions:
            raise InvalidInput(
                f"the ML program has no function {function!r}",
                "functions: " + ", ".join(program.functions),
            )
        fn = program.functions[function]
        block = fn.block_specializations[fn.opset]
        self.input_dtypes = {i.name: _tensor_dtype(i, "input") for i in fn.inputs}
        self.output_names = list(block.outputs)
        self.constants: dict[str, Any] = {}
        self.steps = self._compile(block)
        _widen_constants(self.constants, self.steps)
        _plan_frees(self.steps, set(self.output_names) | set(self.constants))

    def _compile(self, block: Any) -> list[_Step]:
        table = all_ops()
        unknown = sorted(_op_types(block) - set(table) - {"const", *CONTROL_FLOW})
        if unknown:
            raise UnsupportedOp(
                "the Core ML reference executor does not implement the ML program op(s): "
                + ", ".join(unknown),
                "run the model on macOS (Apple's runtime), or add the op to interop.coreml_ref",
            )
        return self._compile_block(block, table).steps

    def _compile_block(self, block: Any, table: dict[str, OpFn]) -> _Block:
        steps: list[_Step] = []
        for op in block.operations:
            if op.type == "const":
                self.constants[op.outputs[0].name] = decode_value(op.attributes["val"], self.blobs)
                continue
            bindings: dict[str, list[tuple[str, Any]]] = {}
            for arg_name, argument in op.inputs.items():
                items: list[tuple[str, Any]] = []
                for binding in argument.arguments:
                    if binding.WhichOneof("binding") == "name":
                        items.append(("name", binding.name))
                    else:
                        items.append(("value", decode_value(binding.value, self.blobs)))
                bindings[arg_name] = items
            outputs = [o.name for o in op.outputs]
            # an output's declared dtype is what fp16 emulation rounds to: never guessed
            dtypes = [
                _tensor_dtype(o, f"output of op {op.type!r}")
                if o.type.WhichOneof("type") == "tensorType"
                else None
                for o in op.outputs
            ]
            blocks = [self._compile_block(b, table) for b in op.blocks]
            fn = None if op.type in CONTROL_FLOW else table[op.type]
            steps.append(_Step(op.type, fn, bindings, outputs, dtypes, blocks))
        return _Block([i.name for i in block.inputs], steps, list(block.outputs))

    def input_specs(self) -> tuple[TensorSpec, ...]:
        return input_specs_of(self.spec)

    def run(
        self, feed: Mapping[str, Any], keep: str | Iterable[str] | None = None
    ) -> dict[str, np.ndarray]:
        """The program's outputs; with ``keep`` (names, or "all") also those intermediate
        values of the main block, by name (opt-in, for interop.diagnose)."""
        env: dict[str, Any] = dict(self.constants)
        for name, dtype in self.input_dtypes.items():
            if name not in feed:
                raise InvalidInput(
                    f"the feed lacks the Core ML input {name!r}",
                    "inputs: " + ", ".join(self.input_dtypes),
                )
            env[name] = np.asarray(feed[name]).astype(dtype)
        self._run_steps(self.steps, env, free=keep is None)  # kept values must survive
        names = list(self.output_names)
        if keep is not None:
            wanted = [o for s in self.steps for o in s.outputs] if keep == "all" else keep
            names += [n for n in wanted if n in env and n not in names]
        return {name: np.asarray(env[name]) for name in names}

    def _run_steps(self, steps: list[_Step], env: dict[str, Any], free: bool = True) -> None:
        for step in steps:
            values = {
                arg: [env[ref] if kind == "name" else ref for kind, ref in items]
                for arg, items in step.bindings.items()
            }
            try:
                if step.op_type == "while_loop":
                    result: Any = self._while_loop(step, values, env)
                elif step.op_type == "cond":
                    result = self._cond(step, values, env)
                else:
                    assert step.fn is not None
                    result = step.fn(Args(step.op_type, values))
            except (ConversionError, InvalidInput):
                raise
            except Exception as exc:
                raise ConversionError(
                    f"the reference executor failed in op {step.op_type!r} "
                    f"(output {step.outputs[0]!r}): {type(exc).__name__}: {exc}",
                    "report this with the model",
                ) from exc
            results = list(result) if isinstance(result, tuple) else [result]
            if len(results) != len(step.outputs):
                raise ConversionError(
                    f"op {step.op_type!r} produced {len(results)} values for "
                    f"{len(step.outputs)} outputs",
                    "report this with the model",
                )
            for name, value, dtype in zip(step.outputs, results, step.dtypes, strict=True):
                env[name] = _store(value, dtype)
            for name in step.frees if free else ():
                env.pop(name, None)

    def _run_block(self, block: _Block, env: dict[str, Any], inputs: list[Any]) -> list[Any]:
        scope = dict(env)  # a nested block sees the enclosing values
        scope.update(zip(block.inputs, inputs, strict=True))
        self._run_steps(block.steps, scope)
        return [scope[name] for name in block.outputs]

    def _while_loop(self, step: _Step, values: dict[str, list[Any]], env: dict[str, Any]) -> tuple:
        cond_block, body_block = step.blocks
        loop_vars = list(values.get("loop_vars", []))
        for _ in range(MAX_LOOP_ITERATIONS):
            (keep_going,) = self._run_block(cond_block, env, loop_vars)
            if not bool(np.asarray(keep_going)):
                return tuple(loop_vars)
            loop_vars = self._run_block(body_block, env, loop_vars)
        raise ConversionError(
            f"while_loop ran {MAX_LOOP_ITERATIONS} iterations without ending",
            "check the model's loop condition",
        )

    def _cond(self, step: _Step, values: dict[str, list[Any]], env: dict[str, Any]) -> tuple:
        pred = bool(np.asarray(values["pred"][0]))
        return tuple(self._run_block(step.blocks[0 if pred else 1], env, []))

    def op_types(self) -> list[str]:
        return [s.op_type for s in self.steps]


def _tensor_dtype(named_value: Any, what: str) -> Any:
    """The numpy dtype of a MIL NamedValueType holding a tensor; anything else is an error."""
    kind = named_value.type.WhichOneof("type")
    code = named_value.type.tensorType.dataType if kind == "tensorType" else None
    if code not in MIL_DTYPES:
        described = f"data type {code}" if kind == "tensorType" else f"a {kind} value"
        raise UnsupportedOp(
            f"the Core ML reference executor cannot hold {described} ({what} {named_value.name!r})",
            "run the model on macOS (Apple's runtime)",
        )
    return MIL_DTYPES[code]


def _store(value: Any, dtype: Any) -> Any:
    """Round an op's result to the dtype the program declares (fp16 storage emulation)."""
    if dtype is None or dtype is object or isinstance(value, (str, list)):
        return value
    return np.asarray(value).astype(dtype, copy=False)


def _widen_constants(constants: dict[str, Any], steps: list[_Step]) -> None:
    """fp16 weights widened to fp32 once, instead of at every read of every run.

    Exact: every fp16 value is an fp32 value, and each op's result is still rounded to the
    dtype the program declares for it, so the emulated fp16 storage is unchanged.
    """
    for name, value in constants.items():
        if isinstance(value, np.ndarray) and value.dtype == np.float16:
            constants[name] = value.astype(np.float32)
    for step in steps:
        for items in step.bindings.values():
            for i, (kind, ref) in enumerate(items):
                if kind == "value" and isinstance(ref, np.ndarray) and ref.dtype == np.float16:
                    items[i] = (kind, ref.astype(np.float32))
        for block in step.blocks:
            _widen_constants({}, block.steps)


def _names_read(step: _Step) -> set[str]:
    """Every name a step reads, including those read inside its nested blocks."""
    names = {ref for items in step.bindings.values() for kind, ref in items if kind == "name"}
    for block in step.blocks:
        for inner in block.steps:
            names |= _names_read(inner)
        names |= set(block.outputs)
    return names


def _plan_frees(steps: list[_Step], keep: set[str]) -> None:
    """Give each top-level step the names it reads last, so intermediates die early.

    A large model's activations otherwise all stay alive until the run ends (peak memory is
    then the sum of every intermediate tensor).
    """
    last: dict[str, int] = {}
    for index, step in enumerate(steps):
        for name in _names_read(step):
            last[name] = index
    frees: dict[int, list[str]] = {}
    for name, index in last.items():
        if name not in keep:
            frees.setdefault(index, []).append(name)
    for index, step in enumerate(steps):
        step.frees = tuple(frees.get(index, ()))


def _op_types(block: Any) -> set[str]:
    found: set[str] = set()
    for op in block.operations:
        found.add(op.type)
        for inner in op.blocks:
            found |= _op_types(inner)
    return found


# Re-exported for callers that import them from here (converters/_coreml.py, runtimes/coreml.py,
# tests); they live in base.py, spec_io.py and optable.py.
__all__ = [
    "ARRAY_DTYPES",
    "MIL_DTYPES",
    "SCALAR_FEATURE_DTYPES",
    "Args",
    "BlobStore",
    "MLProgramExecutor",
    "OpFn",
    "UnsupportedOp",
    "all_ops",
    "array_dtype",
    "decode_value",
    "input_specs_of",
    "load_spec",
    "widen",
]
