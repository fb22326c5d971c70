"""Keras (.keras, .h5) files and SavedModel directories -> LoadedModel.

keras and tensorflow are imported inside each function, never at module level.
"""

from __future__ import annotations

from pathlib import Path

from interop.errors import InvalidInput
from interop.loaders.base import LoadedModel, require, unreadable
from interop.loaders.specs import keras_specs
from interop.types import TensorSpec

H5_SUFFIXES = (".h5", ".hdf5")
# tensorflow.core.framework.types_pb2 DataType numbers -> dtype names
TF_DTYPES = {1: "float32", 2: "float64", 3: "int32", 4: "uint8", 6: "int8", 9: "int64",
             10: "bool", 19: "float16", 5: "int16"}


def load_keras(path: Path, trust: bool = False) -> LoadedModel:
    """A Keras model file, in Keras safe mode unless ``trust`` (safe mode runs no code)."""
    h5 = path.suffix.lower() in H5_SUFFIXES
    what = "Keras HDF5 model (.h5)" if h5 else "Keras model (.keras)"
    keras = require("keras")
    try:
        model = keras.saving.load_model(str(path), compile=False, safe_mode=not trust)
    except Exception as exc:
        text = str(exc)
        if "safe_mode" in text or "arbitrary code" in text:
            raise InvalidInput(
                f"refusing to load {path}: it holds Python code (e.g. a Lambda layer) that "
                "Keras safe mode will not run",
                "pass --trust only if you trust where the file came from",
            ) from None
        raise unreadable(path, what, exc) from None
    kind = "keras.h5" if h5 else "keras"
    return LoadedModel(model, kind, "tensorflow", str(path), None, keras_specs(model))


def load_savedmodel(path: Path, trust: bool = False) -> LoadedModel:
    """A SavedModel directory, checked and its serving signature read; the model is its path.

    The converter reads the directory itself; here we only prove it parses, so bad
    directories fail as bad input before any conversion starts.
    """
    require("tensorflow")
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString((path / "saved_model.pb").read_bytes())
    except Exception as exc:
        raise unreadable(path, "SavedModel", exc, "export the SavedModel again") from None
    if not proto.meta_graphs:
        raise InvalidInput(f"{path} holds no graph (saved_model.pb has no meta graph)",
                           "export the SavedModel again")
    signatures = proto.meta_graphs[0].signature_def
    specs: tuple[TensorSpec, ...] = ()
    if "serving_default" in signatures:
        specs = tuple(
            TensorSpec(
                key,
                tuple(
                    int(d.size) if d.size >= 0 else ("batch" if i == 0 else None)
                    for i, d in enumerate(info.tensor_shape.dim)
                ),
                TF_DTYPES.get(info.dtype, "float32"),
            )
            for key, info in sorted(signatures["serving_default"].inputs.items())
        )
    return LoadedModel(str(path), "savedmodel", "tensorflow", str(path), None, specs)
