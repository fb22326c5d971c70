"""Reading a Core ML model: the spec and its weight directory from a model or a path, MIL
values (immediate or in weight.bin blobs), and the input TensorSpecs of a model description."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from interop.coreml_ref.base import MIL_DTYPES, SCALAR_FEATURE_DTYPES, UnsupportedOp, array_dtype
from interop.errors import InvalidInput
from interop.types import TensorSpec

BLOB_SENTINEL = 0xDEADBEEF
BLOB_HEADER = struct.Struct("<IIQQ")  # sentinel, dtype code, size in bytes, data offset


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
    """Reads tensors from weight.bin files (64-byte header per blob, see facts.md).

    Files are memory-mapped, read-only: a blob is a view of its pages, not a copy, so a
    model over 2 GB is held once (by the page cache), however many times it is read.
    """

    def __init__(self, base_dir: Path | None) -> None:
        self.base_dir = base_dir
        self._files: dict[str, np.ndarray] = {}

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
            self._files[rel] = np.memmap(path, dtype=np.uint8, mode="r")
        data = self._files[rel]
        sentinel, _code, size, data_offset = BLOB_HEADER.unpack_from(data, offset)  # type: ignore[arg-type]  # a memmap is a buffer
        if sentinel != BLOB_SENTINEL:
            raise InvalidInput(
                f"no blob header at offset {offset} of {path}", "the weight file is corrupt"
            )
        itemsize = np.dtype(dtype).itemsize
        count = size // itemsize
        values = np.frombuffer(data, dtype=dtype, count=count, offset=data_offset)
        return values.reshape(shape)  # read-only: ops make new arrays, never write weights


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
