"""Model files and example-input files -> objects, safe by default (no unpickling without opt-in).

Every file is first sniffed without importing a framework (missing, empty, not the archive
its suffix promises), so most bad inputs are refused in milliseconds. Pickle-based files run
code when loaded; they are refused unless the caller passes ``allow_pickle=True``.
"""

from __future__ import annotations

import importlib
import re
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interop.errors import InteropError, InvalidInput, MissingDependency
from interop.types import TensorSpec

FACTORY_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib"}
TORCH_SUFFIXES = {".pt", ".pth", ".ts"}
SAMPLE_SUFFIXES = (".npy", ".npz", ".csv", ".parquet")
DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")
GENERATED_DIM = 8
"""Size given to every named dimension (``batch``, ``seq``...) when inputs are generated."""

PICKLE_HINT = (
    "pass --allow-pickle only if you trust where the file came from; "
    "better, save it as {better}"
)

INSTALL = {
    "torch": "pip install 'interop[torch]'",
    "keras": "pip install 'interop[tensorflow]'",
    "tensorflow": "pip install 'interop[tensorflow]'",
    "skops": "pip install 'interop[sklearn]'",
    "joblib": "pip install joblib",
    "pandas": "pip install pandas",
}


@dataclass(frozen=True)
class LoadedModel:
    """A model read from a file or a factory, with what it says about its own inputs.

    ``model`` is the object to convert, or for a SavedModel the directory path (the
    tensorflow converter reads it itself). ``input_specs`` is empty where the model carries
    no signature (TorchScript, pickles).
    """

    model: Any
    kind: str
    source: str
    path: str
    example_inputs: Any = None
    input_specs: tuple[TensorSpec, ...] = ()
    needs_dataframe: bool = False
    notes: tuple[str, ...] = field(default=())


# -- sniffing (no framework imported) ---------------------------------------------------------


def is_factory(spec: str) -> bool:
    """True for ``package.module:function`` when no file of that name exists."""
    return bool(FACTORY_RE.match(spec)) and not Path(spec).exists()


def _zip_names(path: Path, expected: str) -> list[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InvalidInput(
            f"{path} is not a readable {expected} (a zip archive): {_first_line(exc)}",
            "the file is truncated or corrupt; save or export the model again",
        ) from None


def sniff(spec: str) -> str:
    """The kind of model ``spec`` names, checked cheaply; InvalidInput when it cannot be one.

    Kinds: factory, torch.export, torchscript, torch.pickle, keras, keras.h5, savedmodel,
    skops, pickle.
    """
    if is_factory(spec):
        return "factory"
    path = Path(spec)
    if not path.exists():
        looks_like_factory = ":" in spec and not spec.startswith((".", "/"))
        raise InvalidInput(
            f"model {spec} does not exist",
            "give a model file, a SavedModel directory, or a package.module:function factory"
            if looks_like_factory
            else "check the path",
        )
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            if path.joinpath("saved_model.pb").stat().st_size == 0:
                raise InvalidInput(
                    f"{path}/saved_model.pb is empty", "export the SavedModel again"
                )
            return "savedmodel"
        if path.suffix.lower() in {".mlpackage"}:
            raise InvalidInput(
                f"{path} is already a Core ML model", "give the original model to convert"
            )
        raise InvalidInput(
            f"{path} is a directory but not a SavedModel (no saved_model.pb inside)",
            "point at a SavedModel directory or at a model file",
        )
    if not path.is_file():
        raise InvalidInput(f"{path} is not a regular file", "give a model file")
    suffix = path.suffix.lower()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", "check permissions") from None
    if size == 0:
        raise InvalidInput(f"model file {path} is empty", "save or export the model again")
    if suffix in PICKLE_SUFFIXES:
        return "pickle"
    if suffix == ".pt2":
        names = _zip_names(path, "torch ExportedProgram (.pt2)")
        if not any(n.endswith("models/model.json") or "/models/" in n for n in names):
            raise InvalidInput(
                f"{path} is a zip archive but not a torch.export program (no models/ entry)",
                "save the program with torch.export.save(program, 'model.pt2')",
            )
        return "torch.export"
    if suffix in TORCH_SUFFIXES:
        head = _head(path, 8)
        if head.startswith(b"PK"):
            names = _zip_names(path, "TorchScript or torch archive (.pt)")
            if any("/code/" in n for n in names):
                return "torchscript"
            if any(n.endswith("data.pkl") for n in names):
                return "torch.pickle"
            raise InvalidInput(
                f"{path} is a zip archive but neither TorchScript nor a torch.save file",
                "save the model with torch.jit.save or torch.export.save (.pt2)",
            )
        if head[:1] == b"\x80":  # the pre-zip torch.save format is a bare pickle stream
            return "torch.pickle"
        raise InvalidInput(
            f"{path} is not a TorchScript archive (expected a zip file)",
            "the file is truncated or corrupt; save it again with torch.jit.save",
        )
    if suffix == ".keras":
        names = _zip_names(path, "Keras model (.keras)")
        if "config.json" not in names:
            raise InvalidInput(
                f"{path} is a zip archive but not a Keras model (no config.json inside)",
                "save the model with model.save('model.keras')",
            )
        return "keras"
    if suffix in {".h5", ".hdf5"}:
        if not any(_head(path, 8, offset) == HDF5_SIGNATURE for offset in (0, 512, 1024, 2048)):
            raise InvalidInput(
                f"{path} is not an HDF5 file (no HDF5 signature)",
                "the file is corrupt; save the Keras model again (model.save('model.h5'))",
            )
        return "keras.h5"
    if suffix == ".skops":
        names = _zip_names(path, "skops file (.skops)")
        if "schema.json" not in names:
            raise InvalidInput(
                f"{path} is a zip archive but not a skops file (no schema.json inside)",
                "save the estimator with skops.io.dump(model, 'model.skops')",
            )
        return "skops"
    if suffix in {".onnx", ".mlmodel", ".tflite"}:
        raise InvalidInput(
            f"{path} is already a converted model ({suffix})", "give the original model"
        )
    raise InvalidInput(
        f"unknown model file type {suffix or '(no suffix)'!r} for {path.name}",
        "use .pt2, .pt, .keras, .h5, a SavedModel directory, .skops, or a "
        "package.module:function factory",
    )


def _head(path: Path, count: int, offset: int = 0) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(count)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {line}"[:300] if line else type(exc).__name__


def _import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        root = module.split(".")[0]
        raise MissingDependency(
            f"{root} is needed to load this model but cannot be imported ({_first_line(exc)})",
            INSTALL.get(root, f"pip install {root}"),
            package=root,
        ) from None


# -- loading -------------------------------------------------------------------------------


def load_model(spec: str, *, allow_pickle: bool = False, trust: bool = False) -> LoadedModel:
    """Load the model that ``spec`` (a file, a SavedModel directory or a factory) names."""
    kind = sniff(spec)
    if kind == "factory":
        return load_factory(spec)
    if kind in {"pickle", "torch.pickle"} and not allow_pickle:
        what = "a whole-model torch pickle (torch.save)" if kind == "torch.pickle" else "a pickle"
        better = ".pt2 (torch.export.save) or TorchScript" if kind == "torch.pickle" else ".skops"
        raise InvalidInput(
            f"refusing to load {spec}: it is {what}, and unpickling runs arbitrary code",
            PICKLE_HINT.format(better=better),
        )
    loader = {
        "torch.export": _load_pt2,
        "torchscript": _load_torchscript,
        "torch.pickle": _load_torch_pickle,
        "keras": lambda p, t: _load_keras(p, t, "Keras model (.keras)"),
        "keras.h5": lambda p, t: _load_keras(p, t, "Keras HDF5 model (.h5)"),
        "savedmodel": _load_savedmodel,
        "skops": _load_skops,
        "pickle": _load_pickle,
    }[kind]
    return loader(Path(spec), trust)


def _unreadable(path: Path, what: str, exc: BaseException, hint: str = "") -> InvalidInput:
    return InvalidInput(
        f"cannot load {path} as a {what}: {_first_line(exc)}",
        hint or "the file is truncated, corrupt, or was written by an incompatible version; "
        "save it again",
    )


def _load_pt2(path: Path, trust: bool) -> LoadedModel:
    torch = _import("torch")
    try:
        program = torch.export.load(str(path))
    except Exception as exc:
        raise _unreadable(path, "torch ExportedProgram (.pt2)", exc) from None
    specs = _program_specs(program)
    example = None
    stored = getattr(program, "example_inputs", None)
    if stored and stored[0] and not stored[1]:
        example = tuple(stored[0])
    return LoadedModel(program, "torch.export", "torch", str(path), example, specs)


def _program_specs(program: Any) -> tuple[TensorSpec, ...]:
    try:
        names = list(program.graph_signature.user_inputs)
        nodes = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
        specs = []
        for name in names:
            value = nodes[name].meta.get("val")
            shape = tuple(
                int(d) if _is_static(d) else ("batch" if i == 0 else str(d))
                for i, d in enumerate(value.shape)
            )
            specs.append(TensorSpec(name, shape, str(value.dtype).replace("torch.", "")))
        return tuple(specs)
    except Exception:  # a program without tensor inputs or with exotic metadata
        return ()


def _is_static(dim: Any) -> bool:
    # Never int() a torch.SymInt: that adds a guard pinning the program's batch to the
    # example's size, and every later export of the program then has a fixed batch.
    return isinstance(dim, int) and not hasattr(dim, "node")


def _load_torchscript(path: Path, trust: bool) -> LoadedModel:
    torch = _import("torch")
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise _unreadable(path, "TorchScript module (.pt)", exc) from None
    module.eval()
    # The torch.onnx converter takes the ScriptModule as it is (see converters/torch_onnx.py).
    return LoadedModel(module, "torchscript", "torch", str(path))


def _load_torch_pickle(path: Path, trust: bool) -> LoadedModel:
    torch = _import("torch")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as exc:
        raise _unreadable(path, "torch.save file", exc) from None
    if isinstance(obj, dict):
        raise InvalidInput(
            f"{path} holds a state dict (weights only), not a model",
            "use a factory (package.module:function) that builds the model and loads the weights",
        )
    if hasattr(obj, "eval"):
        obj.eval()
    return LoadedModel(obj, "torch.pickle", "torch", str(path))


def _keras_specs(model: Any) -> tuple[TensorSpec, ...]:
    try:
        specs = []
        for index, tensor in enumerate(model.inputs):
            shape = tuple(
                int(d) if d is not None else ("batch" if i == 0 else f"dim{i}")
                for i, d in enumerate(tensor.shape)
            )
            name = str(getattr(tensor, "name", "") or f"input_{index}").split(":")[0]
            specs.append(TensorSpec(name, shape, str(getattr(tensor.dtype, "name", tensor.dtype))))
        return tuple(specs)
    except Exception:  # a subclassed model that was never built has no inputs
        return ()


def _load_keras(path: Path, trust: bool, what: str) -> LoadedModel:
    keras = _import("keras")
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
        raise _unreadable(path, what, exc) from None
    kind = "keras.h5" if path.suffix.lower() in {".h5", ".hdf5"} else "keras"
    return LoadedModel(model, kind, "tensorflow", str(path), None, _keras_specs(model))


TF_DTYPES = {1: "float32", 2: "float64", 3: "int32", 4: "uint8", 6: "int8", 9: "int64",
             10: "bool", 19: "float16", 5: "int16"}


def _load_savedmodel(path: Path, trust: bool) -> LoadedModel:
    # The converter reads the directory itself; here we only prove it parses and read the
    # serving signature, so bad directories fail as bad input before any conversion starts.
    _import("tensorflow")
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString((path / "saved_model.pb").read_bytes())
    except Exception as exc:
        raise _unreadable(path, "SavedModel", exc, "export the SavedModel again") from None
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


def _sklearn_specs(model: Any) -> tuple[tuple[TensorSpec, ...], bool]:
    columns = getattr(model, "feature_names_in_", None)
    count = getattr(model, "n_features_in_", None)
    if columns is not None:
        return (TensorSpec("X", ("batch", len(columns)), "float32"),), True
    if isinstance(count, int):
        return (TensorSpec("X", ("batch", count), "float32"),), False
    return (), False


def _load_skops(path: Path, trust: bool) -> LoadedModel:
    sio = _import("skops.io")
    try:
        untrusted = list(sio.get_untrusted_types(file=str(path)))
    except Exception as exc:
        raise _unreadable(path, "skops file (.skops)", exc) from None
    if untrusted and not trust:
        shown = ", ".join(untrusted[:8]) + (" ..." if len(untrusted) > 8 else "")
        raise InvalidInput(
            f"refusing to load {path}: it uses types skops does not trust: {shown}",
            "review those types; pass --trust to accept them",
        )
    try:
        model = sio.load(str(path), trusted=untrusted)
    except Exception as exc:
        raise _unreadable(path, "skops file (.skops)", exc) from None
    specs, frame = _sklearn_specs(model)
    return LoadedModel(model, "skops", "sklearn", str(path), None, specs, frame)


def _load_pickle(path: Path, trust: bool) -> LoadedModel:
    try:
        if path.suffix.lower() == ".joblib":
            model = _import("joblib").load(str(path))
        else:
            import pickle

            with open(path, "rb") as handle:
                model = pickle.load(handle)
    except InteropError:
        raise
    except Exception as exc:
        raise _unreadable(path, "pickle", exc) from None
    return _from_object(model, None, "pickle", str(path))


def _from_object(model: Any, example: Any, kind: str, origin: str) -> LoadedModel:
    from interop import registry
    from interop.detect import detect_source

    try:
        source = detect_source(model, registry.known_sources())
    except InvalidInput:
        source = ""
    specs: tuple[TensorSpec, ...] = ()
    frame = False
    if source == "sklearn":
        specs, frame = _sklearn_specs(model)
    elif source == "tensorflow" and example is None:
        specs = _keras_specs(model)
    elif source == "torch" and type(model).__name__ == "ExportedProgram":
        specs = _program_specs(model)
    if source == "torch" and hasattr(model, "eval"):
        model.eval()
    return LoadedModel(model, kind, source, origin, example, specs, frame)


def load_factory(spec: str) -> LoadedModel:
    """Call ``package.module:function`` (cwd importable) -> model or (model, example_inputs)."""
    module_name, _, attr = spec.partition(":")
    cwd = str(Path.cwd())
    if cwd not in sys.path:  # like `python -m`, a factory in the current directory is found
        sys.path.insert(0, cwd)
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise InvalidInput(
                f"cannot import {module_name!r} for the factory {spec}",
                "run from the directory that holds it or add it to PYTHONPATH",
            ) from None
        raise _factory_failed(spec, exc, "importing") from None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise _factory_failed(spec, exc, "importing") from None
    for part in attr.split("."):
        if not hasattr(target, part):
            raise InvalidInput(
                f"{module_name} has no attribute {attr!r} (factory {spec})",
                "name a function that returns the model, as package.module:function",
            )
        target = getattr(target, part)
    if not callable(target):
        raise InvalidInput(f"factory {spec} is not callable",
                           "name a function that returns the model")
    try:
        result = target()
    except InteropError:
        raise
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise _factory_failed(spec, exc, "calling") from None
    example = None
    if isinstance(result, tuple):
        if len(result) != 2:
            raise InvalidInput(
                f"factory {spec} returned a tuple of {len(result)} items",
                "return the model, or (model, example_inputs)",
            )
        result, example = result
    if result is None:
        raise InvalidInput(f"factory {spec} returned None", "return the model object")
    if isinstance(result, (str, Path)) and not Path(result).is_dir():
        raise InvalidInput(
            f"factory {spec} returned the string {str(result)[:80]!r}, not a model",
            "return the model object (or the path of a SavedModel directory)",
        )
    return _from_object(result, example, "factory", spec)


def _factory_failed(spec: str, exc: BaseException, doing: str) -> InteropError:
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return MissingDependency(
            f"{doing} the factory {spec} needs {exc.name}, which is not installed",
            INSTALL.get(exc.name.split(".")[0], f"pip install {exc.name.split('.')[0]}"),
            package=exc.name,
        )
    if isinstance(exc, SystemExit):
        return InvalidInput(f"{doing} the factory {spec} called sys.exit({exc.code!r})",
                            "a factory must return the model, not exit")
    return InvalidInput(
        f"{doing} the factory {spec} raised {_first_line(exc)}",
        "fix the factory; rerun with --debug to see its traceback",
    )


# -- example inputs ------------------------------------------------------------------------


def parse_input_spec(text: str) -> TensorSpec:
    """``NAME:SHAPE:DTYPE`` -> TensorSpec; SHAPE is comma-separated ints or names (``batch``)."""
    parts = text.rsplit(":", 2)
    if len(parts) != 3 or not parts[0]:
        raise InvalidInput(
            f"--input {text!r} is not NAME:SHAPE:DTYPE",
            "for example --input x:batch,3,32,32:float32",
        )
    name, shape_text, dtype = parts
    dims: list[int | str] = []
    for raw in shape_text.strip("[]() ").split(","):
        dim = raw.strip()
        if re.fullmatch(r"\d+", dim) and int(dim) > 0:
            dims.append(int(dim))
        elif re.fullmatch(r"[A-Za-z_]\w*", dim):
            dims.append(dim)
        else:
            raise InvalidInput(
                f"--input {text!r}: dimension {dim!r} is neither a positive integer nor a name",
                "write dimensions as 8 or batch, separated by commas: x:batch,4:float32",
            )
    if dtype not in DTYPES:
        raise InvalidInput(
            f"--input {text!r}: unknown dtype {dtype!r}", "use one of " + ", ".join(DTYPES)
        )
    return TensorSpec(name, tuple(dims), dtype)


def generate(specs: Sequence[TensorSpec], seed: int = 0) -> list[Any]:
    """Seeded arrays for ``specs``; every named or unknown dimension becomes 8."""
    import numpy as np

    rng = np.random.default_rng(seed)
    arrays = []
    for spec in specs:
        shape = tuple(d if isinstance(d, int) else GENERATED_DIM for d in spec.shape)
        if spec.dtype.startswith("float"):
            arrays.append(rng.standard_normal(shape).astype(spec.dtype))
        elif spec.dtype == "bool":
            arrays.append(rng.random(shape) < 0.5)
        else:
            arrays.append(rng.integers(0, 10, size=shape).astype(spec.dtype))
    return arrays


def load_sample(path_text: str, needs_dataframe: bool = False) -> list[Any]:
    """Arrays (or one DataFrame) read from a .npy, .npz, .csv or .parquet file, never pickles."""
    import numpy as np

    path = Path(path_text)
    suffix = path.suffix.lower()
    if suffix not in SAMPLE_SUFFIXES:
        raise InvalidInput(
            f"--sample {path}: unsupported file type {suffix or '(no suffix)'!r}",
            "use .npy, .npz, .csv or .parquet",
        )
    if not path.is_file():
        raise InvalidInput(f"--sample {path} does not exist", "check the path")
    if path.stat().st_size == 0:
        raise InvalidInput(f"--sample {path} is empty", "write the sample again")
    try:
        if suffix == ".npy":
            arrays = [np.load(path, allow_pickle=False)]
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                arrays = [archive[key] for key in archive.files]
            if not arrays:
                raise ValueError("the archive holds no arrays")
        else:
            frame = _read_table(path, suffix)
            if needs_dataframe:
                return [frame]
            non_numeric = [c for c in frame.columns if not _numeric(frame[c])]
            if non_numeric:
                raise InvalidInput(
                    f"--sample {path}: columns {', '.join(map(str, non_numeric[:5]))} are not "
                    "numeric",
                    "give numeric columns only, or a .npy/.npz file",
                )
            arrays = [frame.to_numpy()]
    except InteropError:
        raise
    except Exception as exc:
        raise InvalidInput(
            f"cannot read --sample {path}: {_first_line(exc)}",
            f"the file is not a valid {suffix} file; write it again",
        ) from None
    for array in arrays:
        if array.dtype == object or array.dtype.kind in "OUSV":
            raise InvalidInput(f"--sample {path} holds non-numeric data ({array.dtype})",
                               "give numeric arrays")
        if array.ndim == 0 or array.shape[0] == 0:
            raise InvalidInput(f"--sample {path} holds no rows (shape {array.shape})",
                               "give at least one example")
    return arrays


def _numeric(series: Any) -> bool:
    return series.dtype.kind in "biuf"


def _read_table(path: Path, suffix: str) -> Any:
    try:
        pandas = importlib.import_module("pandas")
    except ImportError:
        raise MissingDependency(
            f"reading {suffix} samples needs pandas", INSTALL["pandas"], package="pandas"
        ) from None
    if suffix == ".csv":
        frame = pandas.read_csv(path)
        if len(frame.columns) and all(_is_number(str(c)) for c in frame.columns):
            frame = pandas.read_csv(path, header=None)  # no header row: the first row is data
        return frame
    try:
        return pandas.read_parquet(path)
    except ImportError as exc:
        raise MissingDependency(
            f"reading .parquet samples needs pyarrow or fastparquet ({_first_line(exc)})",
            "pip install pyarrow",
            package="pyarrow",
        ) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def fit_inputs(arrays: list[Any], loaded: LoadedModel, names: Sequence[str] = ()) -> Any:
    """Check user arrays against the model's signature and package them for convert().

    Floating arrays take the dtype the model expects (float32 where it does not say), so a
    float64 .npy feeds a float32 network. Raises InvalidInput naming the expected shapes.
    """
    import numpy as np

    specs = loaded.input_specs
    if len(arrays) == 1 and not hasattr(arrays[0], "dtype"):  # a DataFrame for scikit-learn
        frame = arrays[0]
        wanted = [str(c) for c in getattr(loaded.model, "feature_names_in_", [])]
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise InvalidInput(
                f"the sample lacks the columns {', '.join(missing[:5])} the model was fitted on",
                "give a table with the columns: " + ", ".join(wanted[:10]),
            )
        return frame[wanted] if wanted else frame
    if specs and names and set(names) <= {s.name for s in specs} and len(names) == len(arrays):
        order = {name: i for i, name in enumerate(names)}
        arrays = [arrays[order[s.name]] for s in specs if s.name in order]
    if specs and len(arrays) != len(specs):
        raise InvalidInput(
            f"got {len(arrays)} input array(s) but the model takes {len(specs)}: "
            + ", ".join(_describe(s) for s in specs),
            "give one --input per model input, or an .npz sample with one array each",
        )
    fitted = []
    for index, array in enumerate(arrays):
        spec = specs[index] if specs else None
        array = np.asarray(array)
        if spec is not None:
            fixed_ok = len(array.shape) == len(spec.shape) and all(
                not isinstance(want, int) or want == got
                for want, got in zip(spec.shape, array.shape, strict=True)
            )
            if not fixed_ok:
                raise InvalidInput(
                    f"input {index} has shape {tuple(array.shape)} but the model expects "
                    f"{_describe(spec)}",
                    "give a sample or --input whose shape fits the model's input",
                )
        if array.dtype.kind == "f":
            target = spec.dtype if spec is not None and spec.dtype.startswith("float") else None
            array = array.astype(target or "float32", copy=False)
        fitted.append(array)
    return package(fitted, loaded)


def _describe(spec: TensorSpec) -> str:
    dims = ",".join("?" if d is None else str(d) for d in spec.shape)
    return f"{spec.name}[{dims}] {spec.dtype}"


def package(arrays: list[Any], loaded: LoadedModel) -> Any:
    """The example_inputs convert() wants: a tuple for torch, a dict for multi-input TF."""
    if loaded.source == "torch":
        return tuple(arrays)
    if len(arrays) == 1:
        return arrays[0]
    if loaded.source == "tensorflow" and loaded.input_specs:
        return {spec.name: array for spec, array in zip(loaded.input_specs, arrays, strict=True)}
    return tuple(arrays)


def dry_run(loaded: LoadedModel, example_inputs: Any) -> None:
    """Run a torch model without a signature once, so a wrong input shape is bad input (2).

    TorchScript modules and pickled modules do not declare their inputs; the only honest
    check is to call them.
    """
    if loaded.source != "torch" or loaded.input_specs:
        return
    torch = _import("torch")
    args = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    tensors = [torch.as_tensor(a) for a in args]
    try:
        with torch.no_grad():
            loaded.model(*tensors)
    except Exception as exc:
        shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
        # TorchScript wraps the cause in an interpreter trace whose last line names it.
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        cause = lines[-1] if lines else type(exc).__name__
        raise InvalidInput(
            f"the model does not accept inputs of shape {shapes}: {cause[:300]}",
            "give a sample or --input whose shape fits the model's input",
        ) from None
