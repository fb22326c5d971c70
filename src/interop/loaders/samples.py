"""Example inputs read from files (.npy, .npz, .csv, .parquet), never from pickles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from interop.errors import InteropError, InvalidInput, MissingDependency
from interop.loaders.base import install_hint, quote
from interop.util import import_ref

SAMPLE_SUFFIXES = (".npy", ".npz", ".csv", ".parquet")


def check_sample(path_text: str) -> Path:
    """The sample's path if it can be one (known type, exists, not empty); else InvalidInput.

    Cheap: the CLI calls it before loading the model, and ``load_sample`` calls it again.
    """
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
    return path


def load_sample(path_text: str, needs_dataframe: bool = False) -> list[Any]:
    """Arrays (or one DataFrame) read from a .npy, .npz, .csv or .parquet file, never pickles."""
    import numpy as np

    path = check_sample(path_text)
    suffix = path.suffix.lower()
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
            non_numeric = [c for c in frame.columns if frame[c].dtype.kind not in "biuf"]
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
            f"cannot read --sample {path}: {quote(exc)}",
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


def _read_table(path: Path, suffix: str) -> Any:
    try:
        pandas = import_ref("pandas")
    except ImportError:
        raise MissingDependency(
            f"reading {suffix} samples needs pandas", install_hint("pandas"), package="pandas"
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
            f"reading .parquet samples needs pyarrow or fastparquet ({quote(exc)})",
            "pip install pyarrow",
            package="pyarrow",
        ) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
