"""Example inputs for convert(): ``--input`` specs, seeded arrays, and fitting user arrays
to what a loaded model expects."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from interop.errors import InvalidInput
from interop.loaders.base import LoadedModel
from interop.types import TensorSpec

DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")


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


def seeded_inputs(specs: Sequence[TensorSpec], seed: int = 0) -> list[Any]:
    """One seeded array per spec, drawn by the harness's generator (``harness.inputs``).

    Every named or unknown dimension, the batch included, gets the harness's symbolic size
    (8); a fixed first dimension is kept.
    """
    import numpy as np

    from interop.harness import inputs as harness_inputs

    rng = np.random.default_rng(seed)
    arrays = []
    for spec in specs:
        first = spec.shape[0] if spec.shape else None
        rows = first if isinstance(first, int) else harness_inputs.DEFAULT_SYMBOLIC_DIM
        arrays.append(harness_inputs.generate(spec, rows, rng))
    return arrays


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
