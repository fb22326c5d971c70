"""Plain data: tensor specs, tolerances, converter info and the Conversion result."""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from interop.errors import InvalidInput

Dim = int | str | None
"""A dimension: a fixed size, a symbolic name such as ``"batch"``, or unknown (None)."""


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape and numpy dtype name of one model input or output."""

    name: str
    shape: tuple[Dim, ...]
    dtype: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass(frozen=True)
class Tolerance:
    """When a converted output counts as equal to the original's.

    Elementwise: ``|converted - original| <= atol * S + rtol * |original|``, where the scale
    ``S`` is 1, or with ``scaled=True`` the output's own scale ``max(1, RMS(original))``, so
    that ``atol`` means the same for logits of magnitude 30 as for probabilities. With
    ``rel_rms`` set, the output as a whole must also satisfy
    ``||converted - original||_2 <= rel_rms * ||original||_2``: that catches a small error
    spread over every element (a weight off by 1 %) that the elementwise test lets through.
    The rule and the measurements behind the profiles are in docs/tolerances.md.
    """

    atol: float
    rtol: float
    rel_rms: float | None = None
    scaled: bool = False
    rounding_floor: bool = False
    """Whether the original's own rounding noise may widen the elementwise test
    (``harness.rounding``): set on the two profiles; an explicit atol or rtol turns it off,
    so numbers a user chose hold as written."""

    def with_overrides(
        self, atol: float | None = None, rtol: float | None = None, rel_rms: float | None = None
    ) -> Tolerance:
        return replace(
            self,
            atol=self.atol if atol is None else float(atol),
            rtol=self.rtol if rtol is None else float(rtol),
            rel_rms=self.rel_rms if rel_rms is None else float(rel_rms),
            rounding_floor=self.rounding_floor and atol is None and rtol is None,
        )

    def to_list(self) -> list[Any]:
        """``[atol, rtol, rel_rms, scaled, rounding_floor]``: how saved models and reports
        carry it."""
        return [self.atol, self.rtol, self.rel_rms, self.scaled, self.rounding_floor]

    @classmethod
    def from_list(cls, values: list[Any]) -> Tolerance:
        """The inverse of :meth:`to_list`; a two-item ``[atol, rtol]`` (older files) works."""
        atol, rtol, *rest = values
        rel_rms = rest[0] if rest else None
        scaled = bool(rest[1]) if len(rest) > 1 else False
        floor = bool(rest[2]) if len(rest) > 2 else False
        return cls(
            float(atol), float(rtol), None if rel_rms is None else float(rel_rms), scaled, floor
        )


# The two precision levels every converter and profile starts from (docs/tolerances.md has
# the measurements): atol counts in units of the output's scale max(1, RMS), so deep
# networks' logits of magnitude 10-30 get the same relative room as probabilities; rel_rms
# catches a whole output off by ~1 % (a weight tensor x1.01: relative RMS 7e-3 .. 1.4e-2),
# which fp16's elementwise room would let through. Honest drift measured: fp32 relative RMS
# at most 1.3e-5; fp16 at most 2.1e-3 (DenseNet121, 429 layers; ResNet50 logits 7.6e-4).
FP32_TOLERANCE = Tolerance(atol=1e-4, rtol=1e-4, rel_rms=1e-3, scaled=True, rounding_floor=True)
FP16_TOLERANCE = Tolerance(atol=1e-2, rtol=1e-2, rel_rms=5e-3, scaled=True, rounding_floor=True)


@dataclass(frozen=True)
class ConverterInfo:
    """What the registry knows about one converter, read without importing its framework."""

    name: str
    source: str
    target: str
    available: bool
    reason: str
    distribution: str
    priority: int = 0
    broken: bool = False
    value: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "target": self.target,
            "available": self.available,
            "reason": self.reason,
            "distribution": self.distribution,
            "priority": self.priority,
            "broken": self.broken,
        }


@dataclass(frozen=True)
class RuntimeInfo:
    """What the registry knows about one runtime (a way to run a model format)."""

    name: str
    available: bool
    reason: str
    distribution: str
    broken: bool = False
    value: str = ""


Saver = Callable[[Any, Path], None]
"""Writes a converted model to exactly the path it is given (the caller makes it atomic)."""


@dataclass
class Conversion:
    """A converted model, its interface, how its outputs map to the original's, and provenance.

    Feeds are keyed by the converted model's input names. ``input_map`` maps the original's
    input names (in the order the original takes them) to those names; ``output_map`` maps
    the original's output names to the converted model's output names. ``output_kinds`` tells
    the harness how to compare each output: ``"values"``, ``"label"`` or ``"probabilities"``.
    """

    source: str
    target: str
    converter: str
    model: Any
    input_specs: tuple[TensorSpec, ...]
    output_specs: tuple[TensorSpec, ...]
    input_map: dict[str, str]
    output_map: dict[str, str]
    saver: Saver
    suffix: str
    output_kinds: dict[str, str] = field(default_factory=dict)
    input_layout: str = "positional"
    warnings: list[str] = field(default_factory=list)
    provenance: dict[str, str] = field(default_factory=dict)
    default_tolerance: Tolerance = FP32_TOLERANCE
    example_feed: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] = field(default_factory=dict)
    runtime: str = ""

    def __post_init__(self) -> None:
        if not self.runtime:
            self.runtime = self.target
        stamp_io_metadata(self)

    def kind_of(self, original_output: str) -> str:
        return self.output_kinds.get(original_output, "values")

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
        """Write the model atomically to ``path`` and return it.

        The model is written to a temporary name in the destination directory and renamed
        into place, so a crash or an error leaves either no file or the previous one.
        """
        return atomic_write(
            Path(path), lambda tmp: self.saver(self.model, tmp), overwrite, model_bytes(self)
        )

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "converter": self.converter,
            "inputs": [s.to_dict() for s in self.input_specs],
            "outputs": [s.to_dict() for s in self.output_specs],
            "output_map": dict(self.output_map),
            "warnings": list(self.warnings),
            "provenance": dict(self.provenance),
            "validation": dict(self.validation),
        }


def atomic_write(
    path: Path, write: Callable[[Path], None], overwrite: bool = True, needed: int = 0
) -> Path:
    """Run ``write(tmp)`` for a temporary sibling of ``path``, then rename it into place.

    Works for files and for directory formats (``.mlpackage``, SavedModel), and for a model
    with sidecars (``model.onnx`` + ``model.onnx.data``): everything is written into one
    hidden temporary directory beside ``path``; the sidecars are renamed into place first
    and the model last, and on any error the ones already renamed are removed, so both
    appear or neither does. A process killed while writing leaves only the hidden
    directory (``.NAME.PID.*.tmp``), which the next save to the same name removes.
    ``needed`` (bytes) is checked against the free space first (:func:`require_space`).
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InvalidInput(
            f"cannot write {path}: the directory {parent} does not exist",
            "create the directory first or choose another output path",
        )
    if path.exists() and not overwrite:
        raise InvalidInput(
            f"{path} already exists", "pass --force (overwrite=True) to replace it"
        )
    require_space(parent, needed, path.name)
    _remove_stale(parent, path.name)
    tmp_dir = Path(
        tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=parent)
    )
    tmp = tmp_dir / path.name
    placed: list[Path] = []
    try:
        write(tmp)
        produced = sorted(tmp_dir.iterdir())
        if tmp not in produced:
            raise InvalidInput(f"the writer did not produce {path.name}", "report this as a bug")
        for extra in (p for p in produced if p != tmp):  # sidecars first, the model last
            os.replace(extra, parent / extra.name)
            placed.append(parent / extra.name)
        if tmp.is_dir() and path.exists():
            backup = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=parent))
            os.replace(path, backup / path.name)
            os.replace(tmp, path)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(tmp, path)
        placed = []
        stale = parent / f"{path.name}.data"
        if not any(p.name == stale.name for p in produced) and stale.is_file():
            stale.unlink()  # a self-contained model replaced one that had a data file
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InvalidInput(
                f"cannot write {path}: the disk is full ({exc.strerror})",
                f"free space in {parent} or choose another output directory",
            ) from exc
        raise
    finally:
        for p in placed:
            with contextlib.suppress(OSError):
                p.unlink()
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return path


def _remove_stale(parent: Path, name: str) -> None:
    """Temporary directories of earlier saves to ``name`` whose process no longer exists."""
    for old in parent.glob(f".{glob.escape(name)}.*.tmp"):
        pid = old.name[len(name) + 2 :].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(old, ignore_errors=True)
            orphan = parent / f"{name}.data"
            if not (parent / name).exists() and orphan.is_file():
                # killed between its two renames: the data file went first, the model never
                orphan.unlink()
        except OSError:
            pass


def require_space(directory: Path, needed: int, what: str = "the model") -> None:
    """Raise InvalidInput, before any work, when ``directory`` is not writable or has less
    than ``needed`` bytes free (plus 5 % and 16 MiB of headroom)."""
    directory = Path(directory)
    if directory.is_dir() and not os.access(directory, os.W_OK | os.X_OK):
        raise InvalidInput(
            f"cannot write {what}: the output directory {directory} is not writable",
            "choose a directory you can write to, or fix its permissions",
        )
    if needed <= 0 or not directory.is_dir():
        return
    stat = os.statvfs(directory)
    free = stat.f_bavail * stat.f_frsize
    want = int(needed * 1.05) + 2**24
    if free < want:
        raise InvalidInput(
            f"not enough disk space for {what} in {directory}: about {_size(want)} needed, "
            f"{_size(free)} free",
            "free space there or choose another output directory (-o)",
        )


def weight_bytes(model: Any) -> int:
    """Bytes of a model's weights, read from shapes without importing its framework: torch
    parameters and buffers, Keras weights; 0 when unknown (then no size is checked)."""
    total = 0
    with contextlib.suppress(Exception):
        if callable(getattr(model, "parameters", None)) and callable(
            getattr(model, "buffers", None)
        ):
            for t in list(model.parameters()) + list(model.buffers()):
                total += int(t.numel()) * int(t.element_size())
        elif isinstance(getattr(model, "weights", None), list):
            import numpy as np

            for w in model.weights:
                dtype = np.dtype(getattr(w.dtype, "name", str(w.dtype)))
                total += int(np.prod([int(d) for d in w.shape])) * dtype.itemsize
    return total


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


IO_METADATA_KEY = "interop.io"


def io_metadata(conversion: Conversion) -> str:
    """The interface mapping as JSON, so a saved model can be checked without the Conversion."""
    import json

    return json.dumps(
        {
            "source": conversion.source,
            "converter": conversion.converter,
            "input_map": conversion.input_map,
            "output_map": conversion.output_map,
            "output_kinds": conversion.output_kinds,
            "input_layout": conversion.input_layout,
            "default_tolerance": conversion.default_tolerance.to_list(),
        },
        sort_keys=True,
    )


def model_bytes(conversion: Conversion) -> int:
    """About how many bytes saving the model writes (0 when it cannot tell cheaply)."""
    model = conversion.model
    for attr in ("data_bytes", "ByteSize"):
        size = getattr(model, attr, None)
        if callable(size):
            with contextlib.suppress(Exception):
                return int(size()) + (int(model.proto.ByteSize()) if attr == "data_bytes" else 0)
    return 0


def stamp_io_metadata(conversion: Conversion) -> None:
    """Store io_metadata in an ONNX model's metadata_props (other formats are left alone)."""
    props = getattr(conversion.model, "metadata_props", None)
    if props is None or not hasattr(props, "add") or not conversion.output_map:
        return
    value = io_metadata(conversion)
    for entry in props:
        if entry.key == IO_METADATA_KEY:
            entry.value = value
            return
    entry = props.add()
    entry.key, entry.value = IO_METADATA_KEY, value

