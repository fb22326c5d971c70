"""The Core ML inputs a scikit-learn sample makes: one float64 X, or one per DataFrame column."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interop._lazy import LazyModule
from interop.converters.sklearn_coreml.spec import Column, Frame
from interop.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")


def example_matrix(model: Any, example_inputs: Any) -> np.ndarray:
    if example_inputs is None:
        raise InvalidInput(
            "scikit-learn models need example_inputs to be converted to Core ML",
            "pass example_inputs= a sample of X (a 2-D numeric array)",
        )
    try:
        x = np.asarray(example_inputs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"example_inputs cannot be read as a float array: {exc}",
            "encode categorical columns as integer codes before fitting",
        ) from exc
    if x.ndim != 2 or len(x) == 0:
        raise InvalidInput(
            f"example_inputs has shape {x.shape}; expected (rows, features)",
            "pass a 2-D sample of X with at least one row",
        )
    expected = getattr(model, "n_features_in_", None)
    if expected is not None and expected != x.shape[1]:
        raise InvalidInput(
            f"example_inputs has {x.shape[1]} features; the model was fitted on {expected}",
            "pass a sample of the data the model was fitted on",
        )
    return x


def frame_plan(model: Any, sample: Any) -> Frame:
    fitted = getattr(model, "feature_names_in_", None)
    if fitted is None:
        raise InvalidInput(
            f"the {type(model).__name__} was fitted on an array, but example_inputs is a "
            "DataFrame",
            "pass the sample as an array (sample.to_numpy()), or fit on the DataFrame",
        )
    if len(sample) == 0:
        raise InvalidInput("example_inputs is an empty DataFrame", "pass a few rows of X")
    columns = []
    for name in fitted:
        if name not in sample.columns:
            raise InvalidInput(f"example_inputs lacks the column {name!r}",
                               "pass a sample with every column the model was fitted on")
        series = sample[name]
        values = series.to_numpy()
        if values.dtype.kind == "f":
            kind, values = "float", values.astype(np.float64)
        elif values.dtype.kind in "iub":
            kind, values = "int", values.astype(np.int64)
        else:  # object, pandas string and category columns
            kind, values = "string", series.astype(str).to_numpy().astype(object)
        columns.append(Column(str(name), kind, str(series.dtype), values.reshape(-1, 1)))
    return Frame(tuple(columns))
