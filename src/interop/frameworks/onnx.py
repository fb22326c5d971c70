"""ONNX models as converters, runtimes and plugins share them: interface specs, validity
checks, provenance stamps and saving."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from interop.errors import ConversionError, first_line
from interop.types import TensorSpec
from interop.util import provenance


def _elem_dtype(elem_type: int) -> str:
    import onnx

    if elem_type == onnx.TensorProto.STRING:
        return "object"
    try:
        return str(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:
        return f"onnx:{elem_type}"


def value_specs(values: Any) -> tuple[TensorSpec, ...]:
    """TensorSpecs from ONNX graph inputs or outputs (symbolic dims kept by name)."""
    specs = []
    for v in values:
        t = v.type.tensor_type
        shape: list[int | str | None] = []
        if t.HasField("shape"):
            for d in t.shape.dim:
                if d.HasField("dim_value"):
                    shape.append(int(d.dim_value))
                elif d.HasField("dim_param"):
                    shape.append(d.dim_param)
                else:
                    shape.append(None)
        specs.append(TensorSpec(v.name, tuple(shape), _elem_dtype(t.elem_type)))
    return tuple(specs)


def graph_inputs(model: Any) -> list[Any]:
    """The graph inputs a caller feeds: those that are not initializers."""
    initializers = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in initializers]


TWO_GB = 2**31 - 1


def unsupported_ops(model: Any) -> list[str]:
    """Op types in the graph (and subgraphs) that no registered ONNX schema defines."""
    import onnx

    imports = {o.domain: o.version for o in model.opset_import}
    local = {(f.domain, f.name) for f in model.functions}
    found: set[str] = set()

    def walk(graph: Any) -> None:
        for node in graph.node:
            if (node.domain, node.op_type) in local:
                pass
            else:
                version = imports.get(node.domain, imports.get("", 1))
                try:
                    onnx.defs.get_schema(node.op_type, version, node.domain)
                except Exception:
                    found.add(node.op_type if not node.domain else f"{node.domain}.{node.op_type}")
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)
                for g in attr.graphs:
                    walk(g)

    walk(model.graph)
    return sorted(found)


def check_onnx(model: Any, converter: str) -> None:
    """Fail with the cause when the model is not a valid ONNX model onnxruntime can load.

    An :class:`ExternalOnnx` is checked on its path (``onnx.checker`` reads the graph and
    verifies the data file's references without loading the weights); the op scan walks the
    graph only. A size problem is named as one, never blamed on the opset.
    """
    import onnx

    bad_ops = unsupported_ops(model)
    if bad_ops:
        raise ConversionError(
            f"{converter} produced a model with unsupported op(s): {', '.join(bad_ops)}",
            "these ops have no ONNX equivalent in this converter; replace the layer, "
            "or write a converter plugin that lowers it",
        )
    external = isinstance(model, ExternalOnnx)
    try:
        if external:
            onnx.checker.check_model(str(model.path))
        elif model.ByteSize() < TWO_GB:
            onnx.checker.check_model(model, full_check=True)
        else:
            onnx.checker.check_model(model)
    except Exception as exc:
        text = first_line(exc)
        if not external and ("serialize" in text.lower() or "2GB" in text or "2 GB" in text):
            raise ConversionError(
                f"{converter} produced an ONNX model over 2 GB held in one protobuf: {text}",
                "the weights must go to external data (interop does this above "
                f"{external_threshold()} bytes, {THRESHOLD_ENV}); report this with the model",
            ) from exc
        raise ConversionError(
            f"{converter} produced an invalid ONNX model: {text}",
            "report this with the model; try another opset with opset=",
        ) from exc


def stamp_provenance(model: Any, fields: dict[str, Any]) -> dict[str, str]:
    """Write :func:`provenance` into an ONNX model's metadata_props and return it."""
    prov = provenance(fields)
    existing = {p.key: p for p in model.metadata_props}
    for key, value in prov.items():
        if key in existing:
            existing[key].value = value
        else:
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
    return prov


def opset_of(model: Any) -> int:
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return int(o.version)
    return 0


def save_onnx(model: Any, path: Path) -> None:
    """One self-contained file below the threshold; above, tensors go to ``NAME.data``.

    An :class:`ExternalOnnx` writes its graph to ``path`` and its one data file beside it
    (copied by the kernel, never read whole into memory).
    """
    import onnx

    path = Path(path)
    if isinstance(model, ExternalOnnx):
        model.write(path)
    elif model.ByteSize() < min(TWO_GB, external_threshold()):
        onnx.save_model(model, str(path), save_as_external_data=False)
    else:
        onnx.save_model(
            model,
            str(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=path.name + ".data",
        )


# -- models whose weights stay on disk ---------------------------------------------------

THRESHOLD_ENV = "INTEROP_ONNX_EXTERNAL_DATA_BYTES"
DEFAULT_EXTERNAL_THRESHOLD = 2**30
"""Weights above this many bytes (1 GiB, half protobuf's 2 GB limit) stay in a data file."""


def external_threshold() -> int:
    """Bytes of weights above which an ONNX model keeps them as external data.

    1 GiB by default, leaving room under protobuf's 2 GB for the graph itself; the
    ``INTEROP_ONNX_EXTERNAL_DATA_BYTES`` environment variable lowers (or raises) it.
    """
    raw = os.environ.get(THRESHOLD_ENV, "").strip()
    if not raw:
        return DEFAULT_EXTERNAL_THRESHOLD
    try:
        value = int(float(raw))
    except ValueError:
        raise ConversionError(
            f"{THRESHOLD_ENV}={raw!r} is not a number of bytes", f"unset {THRESHOLD_ENV}"
        ) from None
    return max(0, min(value, DEFAULT_EXTERNAL_THRESHOLD * 2 - 2**26))


def _locations(proto: Any) -> set[str]:
    import onnx

    found: set[str] = set()
    for tensor in onnx.external_data_helper._get_all_tensors(proto):
        if onnx.external_data_helper.uses_external_data(tensor):
            for entry in tensor.external_data:
                if entry.key == "location":
                    found.add(entry.value)
    return found


class ExternalOnnx:
    """An ONNX model whose weights live in one data file beside its ``.onnx`` ``path``.

    ``proto`` is the graph loaded with ``load_external_data=False``: every attribute of a
    ModelProto (``graph``, ``metadata_props``, ``opset_import``...) reads through to it, so
    code that inspects a model works unchanged, while runtimes and checks use ``path``.
    ``owned_dir`` (a temporary directory) is removed when the object is collected.
    """

    def __init__(self, path: str | Path, proto: Any = None, owned_dir: str | None = None):
        import onnx

        self.path = Path(path)
        self.proto = proto if proto is not None else onnx.load(
            str(self.path), load_external_data=False
        )
        if owned_dir is not None:
            weakref.finalize(self, shutil.rmtree, owned_dir, True)

    def __getattr__(self, name: str) -> Any:
        if name == "proto":
            raise AttributeError(name)
        return getattr(self.proto, name)

    def data_files(self) -> list[Path]:
        return [self.path.parent / loc for loc in sorted(_locations(self.proto))]

    def data_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.data_files() if p.exists())

    def write(self, path: Path) -> None:
        """The graph (with the current metadata) to ``path``; the weights to ``NAME.data``."""
        import onnx

        files = self.data_files()
        if len(files) != 1:
            raise ConversionError(
                f"{self.path.name} keeps its weights in {len(files)} files, not one",
                "report this with the model",
            )
        target = path.with_name(path.name + ".data")
        # a copy, in the kernel (sendfile), never through Python memory; not a hard link:
        # onnx.checker refuses a data file with several links (a "hardlink attack")
        shutil.copyfile(files[0], target)
        proto = onnx.ModelProto()
        proto.CopyFrom(self.proto)  # the graph without tensor bytes: small
        for tensor in onnx.external_data_helper._get_all_tensors(proto):
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = target.name
        onnx.save_model(proto, str(path), save_as_external_data=False)


def ir_weight_bytes(ir_model: Any) -> int:
    """Bytes of an onnxscript IR model's initializers (read from their shapes, not copied)."""
    total = 0
    for value in ir_model.graph.initializers.values():
        tensor = value.const_value
        total += int(getattr(tensor, "nbytes", 0) or 0) if tensor is not None else 0
    return total


def from_program(program: Any) -> Any:
    """An exporter's ONNXProgram (onnxscript IR) as a model interop can check and save.

    Up to :func:`external_threshold` bytes of weights: ``program.model_proto`` as before.
    Above: saved straight from the IR into a temporary directory with its weights in one
    data file (tensor by tensor, never a whole serialized proto), then held as an
    :class:`ExternalOnnx`.
    """
    if ir_weight_bytes(program.model) <= external_threshold():
        return program.model_proto
    directory = tempfile.mkdtemp(prefix="interop-onnx-")
    path = Path(directory) / "model.onnx"
    try:
        program.save(str(path), external_data=True)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return ExternalOnnx(path, owned_dir=directory)


def load_saved(path: str | Path) -> Any:
    """A saved ``.onnx``: a ModelProto, or an ExternalOnnx when its external weights are over
    :func:`external_threshold`."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    if not _locations(proto):
        return proto
    model = ExternalOnnx(path, proto=proto)
    if model.data_bytes() <= external_threshold():  # small enough to hold whole, as before
        onnx.load_external_data_for_model(proto, str(Path(path).parent))
        return proto
    return model


def graph_def_weight_bytes(graph_def: Any) -> int:
    """Bytes of the constants in a frozen TensorFlow GraphDef (read from the proto, duck-typed:
    no TensorFlow import)."""
    total = 0
    for node in graph_def.node:
        if node.op == "Const":
            total += len(node.attr["value"].tensor.tensor_content)
    return total


def from_tensor_storage(proto: Any, storage: Any) -> Any:
    """tf2onnx's ``large_model`` result (a ModelProto whose big tensors name entries of an
    ExternalTensorStorage, which tf2onnx would write as a zip) as an :class:`ExternalOnnx`:
    the tensors go into one data file in a temporary directory, each entry dropped from the
    storage once written, and the model references them by offset."""
    import onnx

    directory = tempfile.mkdtemp(prefix="interop-onnx-")
    path = Path(directory) / "model.onnx"
    data = storage.name_to_tensor_data
    try:
        with open(str(path) + ".data", "wb") as out:
            for tensor in onnx.external_data_helper._get_all_tensors(proto):
                entries = {e.key: e for e in tensor.external_data}
                name = entries["location"].value if "location" in entries else None
                if name not in data:
                    continue
                blob = data.pop(name)
                offset = out.tell()
                out.write(blob)
                pad = (-out.tell()) % 4096
                out.write(b"\0" * pad)
                del tensor.external_data[:]
                for key, value in (("location", path.name + ".data"), ("offset", str(offset)),
                                   ("length", str(len(blob)))):
                    entry = tensor.external_data.add()
                    entry.key, entry.value = key, value
                del blob
        onnx.save_model(proto, str(path), save_as_external_data=False)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return ExternalOnnx(path, proto=proto, owned_dir=directory)


@contextlib.contextmanager
def numpy_product_alias() -> Iterator[None]:
    """``numpy.product`` for the length of a block, where numpy (2.x) no longer has it:
    tf2onnx 1.17's ``large_model`` path still calls it. Removed again afterwards."""
    import numpy as np

    if hasattr(np, "product"):
        yield
        return
    np.product = np.prod  # type: ignore[attr-defined]
    try:
        yield
    finally:
        del np.product  # type: ignore[attr-defined]


# -- sessions on an edited weightless graph ----------------------------------------------

EXTERNAL_FOLDER_KEY = "session.model_external_initializers_file_folder_path"
"""onnxruntime's session config entry: where a graph given as bytes finds its data files."""


def weightless_copy(model: Any) -> Any:
    """An editable ModelProto copy of ``model``'s graph; for an :class:`ExternalOnnx` the
    proto without tensor bytes (a few KB), its data locations relative to ``model.path``."""
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(model.proto if isinstance(model, ExternalOnnx) else model)
    return copy


def external_session(
    proto: Any, folder: str | Path, options: Any, providers: tuple[str, ...] = (
        "CPUExecutionProvider",)
) -> Any:
    """An onnxruntime session for ``proto``, a weightless graph whose external data
    ``location``s are relative to ``folder`` (an :class:`ExternalOnnx`'s, after an edit:
    outputs added, a rewrite). onnxruntime reads the weights from ``folder``; no proto with
    the weights is ever built.

    onnxruntime refuses a location that is absolute or leaves the model's directory (a
    symlink to elsewhere included), so the edited graph is handed over as bytes with
    :data:`EXTERNAL_FOLDER_KEY` naming ``folder``. An onnxruntime without that entry gets the
    graph written into a temporary directory inside ``folder`` beside a hard link to each
    data file (which onnxruntime accepts; only ``onnx.checker`` calls it an attack), or a
    copy where a link cannot be made; the directory is removed once the session has loaded.
    """
    import onnxruntime as ort

    folder = Path(folder)
    options.add_session_config_entry(EXTERNAL_FOLDER_KEY, str(folder))
    try:
        return ort.InferenceSession(proto.SerializeToString(), options, providers=list(providers))
    except Exception as exc:
        first = exc
    return _session_beside_links(proto, folder, options, providers, first)


def _session_beside_links(
    proto: Any, folder: Path, options: Any, providers: tuple[str, ...], first: Exception
) -> Any:
    import onnx
    import onnxruntime as ort

    try:
        directory = tempfile.mkdtemp(prefix=".interop-session-", dir=folder)
    except OSError:
        directory = tempfile.mkdtemp(prefix="interop-session-")
    try:
        for location in _locations(proto):
            source, target = folder / location, Path(directory) / location
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)
        path = Path(directory) / "model.onnx"
        onnx.save_model(proto, str(path), save_as_external_data=False)
        try:
            return ort.InferenceSession(str(path), options, providers=list(providers))
        except Exception:
            raise first from None
    finally:
        shutil.rmtree(directory, ignore_errors=True)
