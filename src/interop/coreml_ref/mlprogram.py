"""Executes a Core ML ML program (spec.mlProgram) op by op in numpy.

fp16 emulation: every tensor an op produces is stored in the dtype the program declares for
it, so a FLOAT16 program keeps fp16 values between ops exactly as Core ML's GPU and Neural
Engine store them. Inside one op, fp16 operands are widened to fp32 and the result is rounded
to fp16 once (fp32 accumulation, as those units accumulate dot products at higher
precision). The result therefore carries Core ML's storage rounding, op by op, but cannot
reproduce a particular chip's accumulation order; see docs/tolerances.md.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from interop.errors import ConversionError, InvalidInput
from interop.types import TensorSpec

BLOB_SENTINEL = 0xDEADBEEF
BLOB_HEADER = struct.Struct("<IIQQ")  # sentinel, dtype code, size in bytes, data offset

# MIL DataType enum value -> numpy dtype (MIL.proto)
MIL_DTYPES: dict[int, Any] = {
    1: np.bool_,
    2: object,
    10: np.float16,
    11: np.float32,
    12: np.float64,
    21: np.int8,
    22: np.int16,
    23: np.int32,
    24: np.int64,
    31: np.uint8,
    32: np.uint16,
    33: np.uint32,
    34: np.uint64,
}

# FeatureTypes ArrayDataType -> numpy dtype name
ARRAY_DTYPES = {
    65552: "float16",
    65568: "float32",
    65600: "float64",
    131104: "int32",
    131080: "int8",
}
# Scalar feature types of a model description -> numpy dtype name
SCALAR_FEATURE_DTYPES = {
    "doubleType": "float64",
    "int64Type": "int64",
    "stringType": "object",
    "dictionaryType": "float64",  # class probabilities, returned as (N, n_classes)
}


def array_dtype(data_type: int, feature: str) -> str:
    """The numpy dtype name of a multiarray feature; an unknown code is an error, not fp32."""
    if data_type not in ARRAY_DTYPES:
        raise UnsupportedOp(
            f"the Core ML reference executor does not know multiarray data type {data_type} "
            f"(feature {feature!r})",
            "run the model on macOS (Apple's runtime)",
        )
    return ARRAY_DTYPES[data_type]

OpFn = Callable[["Args"], Any]


class UnsupportedOp(ConversionError):
    """The reference executor does not implement an op the program uses."""


def load_spec(model: Any) -> tuple[Any, Path | None]:
    """(spec, directory holding weights/) for an MLModel, a spec, or a saved model path."""
    from coremltools.proto import Model_pb2

    if isinstance(model, Model_pb2.Model):
        return model, None
    if isinstance(model, (str, Path)):
        path = Path(model)
        if path.is_dir():
            candidates = sorted(path.glob("Data/*/model.mlmodel")) or sorted(
                path.glob("**/*.mlmodel")
            )
            if not candidates:
                raise InvalidInput(
                    f"{path} holds no model.mlmodel", "point at a saved .mlpackage directory"
                )
            spec_path = candidates[0]
        elif path.is_file():
            spec_path = path
        else:
            raise InvalidInput(f"{path} does not exist", "check the path of the Core ML model")
        spec = Model_pb2.Model()
        spec.ParseFromString(spec_path.read_bytes())
        return spec, spec_path.parent
    get_spec = getattr(model, "get_spec", None)
    if get_spec is None:
        raise InvalidInput(
            f"cannot read a Core ML model from a {type(model).__name__}",
            "pass a coremltools MLModel, a Model_pb2.Model spec, or a .mlpackage/.mlmodel path",
        )
    weights_dir = getattr(model, "weights_dir", None)
    base = Path(weights_dir).parent if weights_dir else None
    return get_spec(), base


class BlobStore:
    """Reads tensors from weight.bin files (64-byte header per blob, see facts.md)."""

    def __init__(self, base_dir: Path | None) -> None:
        self.base_dir = base_dir
        self._files: dict[str, bytes] = {}

    def read(self, file_name: str, offset: int, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
        if self.base_dir is None:
            raise InvalidInput(
                "the ML program keeps weights in a blob file but no model directory is known",
                "pass the saved .mlpackage path or the MLModel object, not a bare spec",
            )
        rel = file_name.replace("@model_path/", "", 1)
        path = self.base_dir / rel
        if rel not in self._files:
            if not path.is_file():
                raise InvalidInput(f"weight file {path} is missing", "re-save the model")
            self._files[rel] = path.read_bytes()
        data = self._files[rel]
        sentinel, _code, size, data_offset = BLOB_HEADER.unpack_from(data, offset)
        if sentinel != BLOB_SENTINEL:
            raise InvalidInput(
                f"no blob header at offset {offset} of {path}", "the weight file is corrupt"
            )
        itemsize = np.dtype(dtype).itemsize
        count = size // itemsize
        values = np.frombuffer(data, dtype=dtype, count=count, offset=data_offset)
        return values.reshape(shape).copy()


def _shape_of(tensor_type: Any) -> tuple[int, ...]:
    dims = []
    for d in tensor_type.dimensions:
        if d.WhichOneof("dimension") != "constant":
            raise InvalidInput("a constant value has a dynamic shape", "the model is malformed")
        dims.append(int(d.constant.size))
    return tuple(dims)


def decode_value(value: Any, blobs: BlobStore) -> Any:
    """A MIL Value (immediate or in a blob file) as a numpy array, str or list."""
    kind = value.type.WhichOneof("type")
    if kind in ("listType", "tupleType"):
        return [_decode_immediate_item(v, blobs) for v in value.immediateValue.list.values]
    if kind != "tensorType":
        raise InvalidInput(
            f"cannot decode a MIL value of type {kind}", "report this with the model"
        )
    ttype = value.type.tensorType
    if ttype.dataType not in MIL_DTYPES:
        raise UnsupportedOp(
            f"the reference executor cannot read MIL data type {ttype.dataType} "
            "(compressed or sub-byte weights)",
            "convert without weight compression",
        )
    dtype = MIL_DTYPES[ttype.dataType]
    shape = _shape_of(ttype)
    if value.WhichOneof("value") == "blobFileValue":
        return blobs.read(value.blobFileValue.fileName, value.blobFileValue.offset, dtype, shape)
    tensor = value.immediateValue.tensor
    which = tensor.WhichOneof("value")
    if which == "strings":
        strings = [str(s) for s in tensor.strings.values]
        return strings[0] if not shape and len(strings) == 1 else strings
    if which == "bytes":
        array = np.frombuffer(tensor.bytes.values, dtype=dtype).copy()
    elif which is None:
        array = np.zeros(0, dtype=dtype)
    else:
        array = np.asarray(list(getattr(tensor, which).values)).astype(dtype)
    return array.reshape(shape)


def _decode_immediate_item(value: Any, blobs: BlobStore) -> Any:
    return decode_value(value, blobs)


class Args:
    """An op's bound inputs. Indexing widens fp16 tensors to fp32 for computation."""

    def __init__(self, op_type: str, values: dict[str, list[Any]]) -> None:
        self.op_type = op_type
        self.values = values

    def has(self, name: str) -> bool:
        return name in self.values

    def raw(self, name: str, default: Any = None) -> Any:
        if name not in self.values:
            return default
        items = self.values[name]
        return items[0] if len(items) == 1 else list(items)

    def __getitem__(self, name: str) -> Any:
        if name not in self.values:
            raise InvalidInput(
                f"MIL op {self.op_type!r} lacks its required input {name!r}",
                "the model is malformed; re-convert it",
            )
        return widen(self.raw(name))

    def get(self, name: str, default: Any = None) -> Any:
        return widen(self.raw(name)) if name in self.values else default

    def many(self, name: str) -> list[Any]:
        return [widen(v) for v in self.values.get(name, [])]

    def scalar(self, name: str, default: Any = None) -> Any:
        """A Python scalar (int/float/bool/str) for a parameter input."""
        value = self.raw(name, default)
        if isinstance(value, np.ndarray):
            return value.item() if value.size == 1 else value.tolist()
        return value

    def ints(self, name: str, default: Any = None) -> list[int] | None:
        value = self.raw(name, default)
        if value is None:
            return None
        return [int(v) for v in np.asarray(value).reshape(-1)]


def widen(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype == np.float16:
        return value.astype(np.float32)
    return value


def all_ops() -> dict[str, OpFn]:
    from interop.coreml_ref import ops_math, ops_nn, ops_tensor

    table: dict[str, OpFn] = {}
    for module in (ops_math, ops_nn, ops_tensor):
        table.update(module.OPS)
    return table


class _Step:
    __slots__ = ("op_type", "fn", "bindings", "outputs", "dtypes", "blocks")

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

    def run(self, feed: Mapping[str, Any]) -> dict[str, np.ndarray]:
        env: dict[str, Any] = dict(self.constants)
        for name, dtype in self.input_dtypes.items():
            if name not in feed:
                raise InvalidInput(
                    f"the feed lacks the Core ML input {name!r}",
                    "inputs: " + ", ".join(self.input_dtypes),
                )
            env[name] = np.asarray(feed[name]).astype(dtype)
        self._run_steps(self.steps, env)
        return {name: np.asarray(env[name]) for name in self.output_names}

    def _run_steps(self, steps: list[_Step], env: dict[str, Any]) -> None:
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
            f"the Core ML reference executor cannot hold {described} "
            f"({what} {named_value.name!r})",
            "run the model on macOS (Apple's runtime)",
        )
    return MIL_DTYPES[code]


def _store(value: Any, dtype: Any) -> Any:
    """Round an op's result to the dtype the program declares (fp16 storage emulation)."""
    if dtype is None or dtype is object or isinstance(value, (str, list)):
        return value
    return np.asarray(value).astype(dtype, copy=False)


def input_specs_of(spec: Any) -> tuple[TensorSpec, ...]:
    """TensorSpecs of a Core ML model's inputs; a ranged first dimension is ``"batch"``."""
    specs = []
    for feature in spec.description.input:
        kind = feature.type.WhichOneof("Type")
        if kind != "multiArrayType":
            if kind not in SCALAR_FEATURE_DTYPES:
                raise UnsupportedOp(
                    f"the Core ML reference executor does not take {kind} inputs "
                    f"(input {feature.name!r})",
                    "run the model on macOS (Apple's runtime)",
                )
            specs.append(TensorSpec(feature.name, ("batch",), SCALAR_FEATURE_DTYPES[kind]))
            continue
        arr = feature.type.multiArrayType
        shape: list[int | str | None] = [int(s) for s in arr.shape]
        ranges = list(arr.shapeRange.sizeRanges)
        for i, rng in enumerate(ranges):
            if i < len(shape) and rng.lowerBound != rng.upperBound:
                shape[i] = "batch" if i == 0 else None
        dtype = array_dtype(arr.dataType, feature.name)
        specs.append(TensorSpec(feature.name, tuple(shape), dtype))
    return tuple(specs)


def _op_types(block: Any) -> set[str]:
    found: set[str] = set()
    for op in block.operations:
        found.add(op.type)
        for inner in op.blocks:
            found |= _op_types(inner)
    return found
