"""TensorFlow/Keras models reduced to one traced callable, shared by converters and runtimes.

A model is a Keras model (an object or a ``.keras`` path), a tf.Module with a tf.function
(or a bare tf.function or ConcreteFunction), or a SavedModel (a directory path or a loaded
object). ``describe`` reduces each to one callable from named inputs to named outputs; the
tensorflow runtime runs it and the converters from TensorFlow trace the same callable, so both
sides compute from the identical graph. Descriptions are cached per model object (weakly) or
per path and modification time. TensorFlow and numpy are imported inside the functions.
"""

from __future__ import annotations

import inspect
import os
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interop.errors import ConversionError, InteropError, InvalidInput, first_line
from interop.frameworks.tensorflow_import import import_tensorflow, quiet_native
from interop.types import TensorSpec

if TYPE_CHECKING:  # numpy is imported where it is used: --list loads this module
    import numpy as np

FEED_BATCH = 8
"""Batch size of a feed generated from a model's own signature."""

FEED_SEED = 0


@dataclass(frozen=True)
class InputSpec:
    """One named input: shape (None where free) and numpy dtype name."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str


@dataclass(frozen=True)
class Trace:
    """A tf.function of named outputs, its concrete function for one set of specs, the names."""

    function: Any
    concrete: Any
    output_names: tuple[str, ...]


@dataclass
class TfModel:
    """A TensorFlow model reduced to ``call(*tensors in input order) -> structure``.

    ``inputs`` is None when the model declares no signature (shapes then come from example
    inputs). ``input_names`` is always known. ``output_names`` is fixed for Keras models and
    SavedModel signatures, and learned from the first trace otherwise.
    """

    kind: str
    input_names: tuple[str, ...]
    inputs: tuple[InputSpec, ...] | None
    call: Callable[..., Any]
    output_names: tuple[str, ...] | None = None
    name: str = "model"
    holder: Any = None  # keeps a loaded SavedModel (and its variables) alive
    traces: dict[tuple[Any, ...], Trace] = field(default_factory=dict)

    def specs_for(
        self, arrays: Sequence[Any] | None = None, dynamic_batch: bool = True
    ) -> list[Any]:
        """tf.TensorSpecs named after the inputs: the model's own, or taken from ``arrays``."""
        import numpy as np

        tf = import_tensorflow()
        specs = []
        for i, name in enumerate(self.input_names):
            if self.inputs is not None:
                shape: list[int | None] = list(self.inputs[i].shape)
                dtype = self.inputs[i].dtype
                if arrays is not None and not dynamic_batch and shape:
                    shape[0] = int(np.shape(arrays[i])[0])
            elif arrays is not None:
                shape = list(np.shape(arrays[i]))
                dtype = str(np.asarray(arrays[i]).dtype)
                if dynamic_batch and shape:
                    shape[0] = None
            else:
                raise InvalidInput(
                    f"the {self.kind} declares no input signature, so its input shapes are unknown",
                    "pass example_inputs= (an array, a tuple or a dict of arrays)",
                )
            specs.append(tf.TensorSpec(shape, tf.as_dtype(dtype), name=name))
        return specs

    def _named_outputs(self, *args: Any) -> dict[str, Any]:
        """Call the model and key its outputs by name (learning the names on first trace)."""
        tf = import_tensorflow()
        result = self.call(*args)
        names = self.output_names
        if isinstance(result, Mapping):
            items = [(str(k), result[k]) for k in result]
        else:
            values = tf.nest.flatten(result)
            keys = (
                list(names)
                if names is not None and len(names) == len(values)
                else [f"output_{i}" for i in range(len(values))]
            )
            items = list(zip(keys, values, strict=True))
        if self.output_names is None:
            self.output_names = tuple(k for k, _ in items)
        # Identity gives each output its own graph node even when two names share a tensor.
        return {k: tf.identity(v) for k, v in items}

    def trace(self, specs: Sequence[Any]) -> Trace:
        """The tf.function and concrete function for exactly ``specs``, traced once.

        Each distinct set of specs gets its own tf.function: TensorFlow would otherwise answer
        a request for a fixed batch with an earlier trace for a free one.
        """
        tf = import_tensorflow()
        key = tuple((s.name, tuple(s.shape.as_list()), s.dtype.name) for s in specs)
        with _LOCK:
            if key not in self.traces:
                function = tf.function(self._named_outputs, autograph=False)
                concrete = function.get_concrete_function(*specs)
                self.traces[key] = Trace(function, concrete, tuple(concrete.structured_outputs))
            return self.traces[key]


_LOCK = threading.RLock()
_BY_OBJECT: weakref.WeakKeyDictionary[Any, TfModel] = weakref.WeakKeyDictionary()
_BY_PATH: dict[tuple[str, float], TfModel] = {}


def is_saved_model_dir(model: Any) -> bool:
    if not isinstance(model, (str, os.PathLike)):
        return False
    p = Path(model)
    return p.is_dir() and ((p / "saved_model.pb").exists() or (p / "saved_model.pbtxt").exists())


def describe(model: Any) -> TfModel:
    """The TfModel for a Keras model, tf.Module/tf.function, or SavedModel (path or object)."""
    if isinstance(model, (str, os.PathLike)):
        p = Path(model).resolve()
        if is_saved_model_dir(p):
            pb = p / "saved_model.pb"
            stamp = (pb if pb.exists() else p / "saved_model.pbtxt").stat().st_mtime
        elif p.is_file() and p.suffix.lower() == ".keras":
            stamp = p.stat().st_mtime
        else:
            raise InvalidInput(
                f"{model} is neither a SavedModel directory nor a .keras file",
                "pass a SavedModel directory, a .keras file, a Keras model or a tf.Module",
            )
        key = (str(p), stamp)
        with _LOCK:
            if key not in _BY_PATH:
                _BY_PATH[key] = _load_path(p)
            return _BY_PATH[key]
    with _LOCK:
        try:
            cached = _BY_OBJECT.get(model)
        except TypeError:  # not weak-referenceable: describe afresh each time
            return _describe_object(_strong(model))
        if cached is None:
            # The cache entry refers to its key weakly, or the model could never be collected.
            cached = _describe_object(_weak(model))
            _BY_OBJECT[model] = cached
        return cached


Getter = Callable[[], Any]


def _strong(obj: Any) -> Getter:
    return lambda: obj


def _weak(obj: Any) -> Getter:
    ref = weakref.ref(obj)

    def get() -> Any:
        target = ref()
        if target is None:
            raise RuntimeError("the model behind this cached TensorFlow function was deleted")
        return target

    return get


def _load_path(p: Path) -> TfModel:
    """Load a SavedModel directory or a .keras file (Keras safe mode: no arbitrary code)."""
    if p.is_dir():
        tf = import_tensorflow()
        loaded = tf.saved_model.load(str(p))
        kind = "SavedModel"
    else:
        import_tensorflow()
        with quiet_native("import keras"):  # keras loads TensorFlow's native code once more
            import keras

        loaded = keras.saving.load_model(str(p), safe_mode=True)
        kind = "Keras model"
    described = _describe_object(_strong(loaded), name=p.name, kind=kind)
    described.holder = loaded  # nothing else keeps the loaded object alive
    return described


def _is_keras(model: Any) -> bool:
    roots = {(k.__module__ or "").split(".")[0] for k in type(model).__mro__}
    return bool(roots & {"keras", "tf_keras"}) and hasattr(model, "layers")


def _describe_object(get: Getter, name: str = "", kind: str = "") -> TfModel:
    """Describe ``get()``; the callables built here reach the model only through ``get``."""
    tf = import_tensorflow()
    model = get()
    if _is_keras(model):
        return _describe_keras(model, get)
    signatures = getattr(model, "signatures", None)
    if signatures is not None and "serving_default" in signatures:
        signature = signatures["serving_default"]
        return _describe_concrete(
            signature,
            lambda: signature,
            name=name or "saved_model",
            kind=kind or "SavedModel",
        )
    if isinstance(model, tf.types.experimental.ConcreteFunction):
        return _describe_concrete(model, get, name=name or "function", kind="function")
    attribute = _pick_function(model)
    fn = getattr(model, attribute) if attribute else model

    def call(*args: Any) -> Any:
        return getattr(get(), attribute)(*args) if attribute else get()(*args)

    return _describe_function(fn, call, name=name or type(model).__name__)


def dtype_name(dtype: Any) -> str:
    import numpy as np

    return str(np.dtype(dtype.as_numpy_dtype))


def tensor_specs(specs: Sequence[Any]) -> tuple[TensorSpec, ...]:
    """interop TensorSpecs for tf.TensorSpecs: a free leading dimension is the ``batch``."""
    out = []
    for s in specs:
        dims = s.shape.as_list()
        shape = tuple("batch" if i == 0 and d is None else d for i, d in enumerate(dims))
        out.append(TensorSpec(s.name, shape, dtype_name(s.dtype)))
    return tuple(out)


def _describe_keras(model: Any, get: Getter) -> TfModel:
    import numpy as np

    try:
        flat_inputs = list(model.inputs)
    except (AttributeError, ValueError, TypeError):
        flat_inputs = []
    inputs_struct = getattr(model, "_inputs_struct", None)  # Functional keeps dict/list shape
    if inputs_struct is None and len(flat_inputs) == 1:  # Sequential: one input, no struct
        inputs_struct = flat_inputs[0]
    if not flat_inputs or inputs_struct is None:
        # A subclassed Keras model has no symbolic inputs: names and shapes come from examples.
        return TfModel(
            kind="Keras model",
            input_names=("input_0",),
            inputs=None,
            call=lambda *args: get()(args[0] if len(args) == 1 else list(args), training=False),
            name=model.name,
        )
    if isinstance(inputs_struct, Mapping):
        names = tuple(str(k) for k in inputs_struct)
        tensors = [inputs_struct[k] for k in inputs_struct]

        def call(*args: Any) -> Any:
            return get()(dict(zip(names, args, strict=True)), training=False)
    else:
        tensors = flat_inputs
        names = _unique([t.name for t in tensors])
        single = not isinstance(inputs_struct, (list, tuple))

        def call(*args: Any) -> Any:
            return get()(args[0] if single else list(args), training=False)

    specs = tuple(
        InputSpec(n, tuple(t.shape), str(np.dtype(t.dtype)))
        for n, t in zip(names, tensors, strict=True)
    )
    return TfModel(
        kind="Keras model",
        input_names=names,
        inputs=specs,
        call=call,
        output_names=_keras_output_names(model),
        name=model.name,
    )


def _keras_output_names(model: Any) -> tuple[str, ...]:
    """The names a Keras model gives its outputs: dict keys, output_names, or output layers."""
    struct = getattr(model, "_outputs_struct", None)
    if isinstance(struct, Mapping):
        return tuple(str(k) for k in struct)
    names = getattr(model, "output_names", None)
    if names:
        return _unique([str(n) for n in names])
    layers = []
    for t in model.outputs:
        history = getattr(t, "_keras_history", None)
        layers.append(history[0].name if history else t.name)
    return _unique(layers)


def _unique(names: Sequence[str]) -> tuple[str, ...]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            n = f"{n}_{seen[n]}"
        seen.setdefault(n, 0)
        out.append(n)
    return tuple(out)


def _pick_function(model: Any) -> str:
    """The attribute holding the tf.function to run ("" for the object itself)."""
    tf = import_tensorflow()
    function_type = tf.types.experimental.PolymorphicFunction
    if isinstance(model, function_type):
        return ""
    if isinstance(inspect.getattr_static(model, "__call__", None), function_type) or (
        isinstance(model, tf.Module) and callable(model)
    ):
        return "__call__"
    found = [
        n
        for n in dir(type(model))
        if not n.startswith("_") and isinstance(getattr(type(model), n, None), function_type)
    ]
    if len(found) == 1:
        return found[0]
    what = f"{type(model).__module__}.{type(model).__qualname__}"
    if found:
        raise InvalidInput(
            f"{what} has several tf.functions ({', '.join(found)}); cannot tell which to convert",
            f"pass the one you mean, e.g. model.{found[0]}",
        )
    raise InvalidInput(
        f"{what} is not a Keras model and has no tf.function to convert",
        "pass a Keras model, a tf.Module with a tf.function __call__, or a SavedModel directory",
    )


def _describe_function(fn: Any, call: Callable[..., Any], name: str) -> TfModel:
    signature = getattr(fn, "input_signature", None)
    python = getattr(fn, "python_function", fn)
    params = [
        p.name
        for p in inspect.signature(python).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if signature is not None:
        flat = list(signature)
        names = _unique(
            [s.name or (params[i] if i < len(params) else f"input_{i}") for i, s in enumerate(flat)]
        )
        specs: tuple[InputSpec, ...] | None = tuple(
            InputSpec(n, tuple(s.shape.as_list()), dtype_name(s.dtype))
            for n, s in zip(names, flat, strict=True)
        )
    else:
        names = tuple(params) or ("input_0",)
        specs = None
    return TfModel(kind="tf.function", input_names=names, inputs=specs, call=call, name=name)


def _describe_concrete(fn: Any, get: Getter, name: str, kind: str) -> TfModel:
    """A ConcreteFunction (a SavedModel signature takes keyword inputs); ``get`` returns it."""
    args, kwargs = fn.structured_input_signature
    if kwargs:
        names = tuple(kwargs)
        flat = [kwargs[k] for k in names]

        def call(*tensors: Any) -> Any:
            return get()(**dict(zip(names, tensors, strict=True)))
    else:
        flat = list(args)
        names = _unique([s.name or f"input_{i}" for i, s in enumerate(flat)])

        def call(*tensors: Any) -> Any:
            return get()(*tensors)

    specs = tuple(
        InputSpec(n, tuple(s.shape.as_list()), dtype_name(s.dtype))
        for n, s in zip(names, flat, strict=True)
    )
    outputs = fn.structured_outputs
    output_names = tuple(str(k) for k in outputs) if isinstance(outputs, Mapping) else None
    return TfModel(
        kind=kind,
        input_names=names,
        inputs=specs,
        call=call,
        output_names=output_names,
        name=name,
    )


def signature_feed(
    tf_model: TfModel, batch: int = FEED_BATCH, seed: int = FEED_SEED
) -> dict[str, np.ndarray]:
    """Seeded inputs built from the model's own signature: normal floats, small integers."""
    import numpy as np

    if tf_model.inputs is None:
        raise InvalidInput(
            f"the {tf_model.kind} declares no input signature, so inputs cannot be generated",
            "pass example_inputs=",
        )
    rng = np.random.default_rng(seed)
    feed = {}
    for spec in tf_model.inputs:
        dims = list(spec.shape)
        if dims and dims[0] is None:
            dims[0] = batch
        if any(d is None for d in dims):
            raise InvalidInput(
                f"input {spec.name!r} has a free non-batch dimension {list(spec.shape)}",
                "pass example_inputs= with the shapes you want",
            )
        shape = tuple(int(d) for d in dims)  # type: ignore[arg-type]
        kind = np.dtype(spec.dtype).kind
        if kind == "f":
            feed[spec.name] = rng.standard_normal(shape).astype(spec.dtype)
        elif kind in "iu":
            feed[spec.name] = rng.integers(0, 10, shape).astype(spec.dtype)
        elif kind == "b":
            feed[spec.name] = rng.integers(0, 2, shape).astype(bool)
        else:
            raise InvalidInput(
                f"cannot generate values for input {spec.name!r} of dtype {spec.dtype}",
                "pass example_inputs=",
            )
    return feed


def flatten_examples(example_inputs: Any, names: tuple[str, ...]) -> list[np.ndarray]:
    """Example inputs (array, tuple/list, or dict by input name) in the model's input order."""
    import numpy as np

    def as_array(value: Any) -> np.ndarray:
        return np.asarray(value.numpy() if hasattr(value, "numpy") else value)

    if isinstance(example_inputs, Mapping):
        unknown = sorted(set(map(str, example_inputs)) - set(names))
        missing = [n for n in names if n not in example_inputs]
        if unknown or missing:
            raise InvalidInput(
                "example_inputs keys do not match the model's inputs"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(unknown)}" if unknown else ""),
                "key example_inputs by the model's input names: " + ", ".join(names),
            )
        return [as_array(example_inputs[n]) for n in names]
    values = list(example_inputs) if isinstance(example_inputs, (tuple, list)) else [example_inputs]
    if len(values) != len(names):
        raise InvalidInput(
            f"the model takes {len(names)} input(s) ({', '.join(names)}) "
            f"but example_inputs has {len(values)}",
            "pass one array per input, as a tuple in that order or a dict by name",
        )
    return [as_array(v) for v in values]


def check_shape(array: np.ndarray, spec: Any) -> None:
    """An example input must fit the model's declared shape (free dimensions match anything)."""
    declared = spec.shape.as_list()
    fits = len(declared) == array.ndim and all(
        d is None or d == n for d, n in zip(declared, array.shape, strict=True)
    )
    if not fits:
        shown = ["None" if d is None else str(d) for d in declared]
        raise InvalidInput(
            f"example input {spec.name!r} has shape {list(array.shape)}, "
            f"the model expects [{', '.join(shown)}]",
            "pass example_inputs shaped like the model's inputs (None is any size)",
        )


def example_arrays(tf_model: TfModel, example_inputs: Any) -> list[np.ndarray]:
    """The example inputs in the model's input order, or a seeded feed from its signature."""
    if example_inputs is None:
        generated = signature_feed(tf_model)
        return [generated[n] for n in tf_model.input_names]
    return flatten_examples(example_inputs, tf_model.input_names)


def trace_examples(
    tf_model: TfModel, arrays: list[np.ndarray], dynamic_batch: bool
) -> tuple[list[np.ndarray], list[Any], Any]:
    """Specs for the examples, the examples cast and checked against them, and the trace.

    What every converter from TensorFlow starts from; a failed trace is a ConversionError.
    """
    specs = tf_model.specs_for(arrays, dynamic_batch=dynamic_batch)
    arrays = [
        a.astype(s.dtype.as_numpy_dtype, copy=False) for a, s in zip(arrays, specs, strict=True)
    ]
    for array, spec in zip(arrays, specs, strict=True):
        check_shape(array, spec)
    try:
        traced = tf_model.trace(specs)
    except InteropError:
        raise
    except Exception as exc:
        raise ConversionError(
            f"TensorFlow could not trace {tf_model.kind} {tf_model.name!r}: {first_line(exc)}",
            "check that the model runs on example_inputs as given",
        ) from exc
    return arrays, specs, traced
