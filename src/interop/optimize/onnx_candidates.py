"""The built-in ONNX variants: onnxruntime graph optimisation, transformer fusion, onnxslim,
fp16 with fp32 inputs and outputs, dynamic int8 and (with calibration data) static int8.

Every builder takes an onnx.ModelProto and returns a new one; the model it is given is never
changed. onnx, onnxruntime and onnxslim are imported inside the builders.

Past the external-data threshold the model is a ``frameworks.onnx.ExternalOnnx``: only the
onnxruntime levels build from it (onnxruntime reads the weights from the data file and writes
the optimised graph's to a new one, :func:`ort_external`); the others hold every weight in
one ModelProto and are skipped (``Candidate.external_data``).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from interop.optimize.result import (
    PRECISION,
    QUANTIZE,
    REWRITE,
    BuildContext,
    Candidate,
    NotApplicable,
)

ORT_LEVELS = ("basic", "extended", "all")
FUSION = "transformer-fusion"

# Class-name fragments of the original model -> onnxruntime.transformers model_type.
# Families without their own optimizer type (Llama, Mistral, Qwen) get the generic "bert"
# fusions (LayerNorm, SkipLayerNorm, Gelu, SimplifiedLayerNorm), which match any transformer.
MODEL_TYPES = (
    ("distilbert", "bert"),
    ("roberta", "bert"),
    ("bert", "bert"),
    ("gpt2", "gpt2"),
    ("gptneox", "gpt_neox"),
    ("bart", "bart"),
    ("t5", "t5"),
    ("vit", "vit"),
    ("swin", "swin"),
    ("clip", "clip"),
    ("phi", "phi"),
)
INT8_STATIC_OPS = ["MatMul", "Gemm", "Conv"]
CALIBRATION_ROWS = 64


def _ops(model: Any) -> Counter[str]:
    return Counter(node.op_type for node in model.graph.node)


def _unchanged(before: Any, after: Any) -> bool:
    return _ops(before) == _ops(after) and len(before.graph.initializer) == len(
        after.graph.initializer
    )


def ort_level(level: str) -> Candidate:
    """onnxruntime's own graph optimisation at ``level``, done once offline and saved."""

    def build(model: Any, ctx: BuildContext) -> Any:
        import onnx
        import onnxruntime as ort

        levels = {
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }
        from interop.frameworks.onnx import ExternalOnnx

        path = ctx.workdir / f"ort-{level}.onnx"
        opts = ort.SessionOptions()
        opts.graph_optimization_level = levels[level]
        opts.optimized_model_filepath = str(path)
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 3
        if isinstance(model, ExternalOnnx):
            optimized = ort_external(model, opts)
        else:
            ort.InferenceSession(
                model.SerializeToString(), opts, providers=["CPUExecutionProvider"]
            )
            optimized = onnx.load(str(path))
        if _unchanged(model, optimized):
            raise NotApplicable(f"onnxruntime level {level!r} changed nothing")
        return optimized

    note = " (the saved graph is specific to this CPU's instruction set)" if level == "all" else ""
    return Candidate(
        f"ort-{level}",
        REWRITE,
        "onnx",
        build,
        f"onnxruntime offline optimisation, {level}{note}",
        external_data=True,
    )


EXTERNAL_FILE_KEY = "session.optimized_model_external_initializers_file_name"
EXTERNAL_MIN_KEY = "session.optimized_model_external_initializers_min_size_in_bytes"
EXTERNAL_MIN_BYTES = 1024  # smaller initializers (scalars, shapes) stay in the graph


def ort_external(model: Any, opts: Any) -> Any:
    """onnxruntime's offline optimisation of an ExternalOnnx, as an ExternalOnnx: the session
    reads the weights from ``model``'s data file and writes the optimised graph to
    ``model.onnx`` with its initializers in one ``model.onnx.data``, in a temporary directory
    the result owns (it outlives the search's scratch folder, as the returned variant must)."""
    from interop.frameworks.onnx import ExternalOnnx, external_session

    directory = tempfile.mkdtemp(prefix="interop-onnx-")
    path = Path(directory) / "model.onnx"
    opts.optimized_model_filepath = str(path)
    opts.add_session_config_entry(EXTERNAL_FILE_KEY, path.name + ".data")
    opts.add_session_config_entry(EXTERNAL_MIN_KEY, str(EXTERNAL_MIN_BYTES))
    try:
        external_session(model.proto, model.path.parent, opts)
        optimized = ExternalOnnx(path, owned_dir=directory)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return optimized


def detect_model_type(original: Any) -> str | None:
    """The onnxruntime.transformers model_type for the original, from its class names."""
    modules = getattr(original, "modules", None)
    classes = [type(original).__name__]
    if callable(modules):
        with contextlib.suppress(TypeError):  # a Keras model's .modules is not torch's
            classes += [type(m).__name__ for m in modules()]
    for name in classes:
        key = name.lower()
        for fragment, model_type in MODEL_TYPES:
            if fragment in key:
                return model_type
    return None


def _fuse(model: Any, ctx: BuildContext) -> Any:
    from onnxruntime.transformers.optimizer import optimize_model

    detected = detect_model_type(ctx.original)
    source = ctx.workdir / "fusion-input.onnx"
    source.write_bytes(model.SerializeToString())
    tried: list[str] = []
    for model_type in dict.fromkeys([t for t in (detected, "bert") if t]):
        try:
            # from a file: given a ModelProto, the optimizer's own onnxruntime pass fails to
            # read back the initializers it wrote as external data
            fused = optimize_model(str(source), model_type=model_type, num_heads=0, hidden_size=0)
        except Exception as exc:  # a fusion that cannot parse this graph: try the next type
            tried.append(f"{model_type}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
            continue
        stats = {k: v for k, v in fused.get_fused_operator_statistics().items() if v}
        if stats:
            result = fused.model
            for entry in result.metadata_props:
                if entry.key == "interop.optimization":
                    break
            else:
                entry = result.metadata_props.add()
                entry.key = "interop.optimization"
            entry.value = f"{FUSION}:{model_type}:" + ",".join(
                f"{k}={v}" for k, v in sorted(stats.items())
            )
            return result
        tried.append(f"{model_type}: nothing fused")
    raise NotApplicable("no transformer pattern fused (" + "; ".join(tried) + ")")


def _copy(model: Any) -> Any:
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    return copy


def _slim(model: Any, ctx: BuildContext) -> Any:
    import onnxslim

    slimmed = onnxslim.slim(_copy(model))
    if slimmed is None or _unchanged(model, slimmed):
        raise NotApplicable("onnxslim changed nothing")
    return slimmed


def _fp16(model: Any, ctx: BuildContext) -> Any:
    from onnxruntime.transformers.float16 import convert_float_to_float16

    return convert_float_to_float16(_copy(model), keep_io_types=True)


def _int8_dynamic(model: Any, ctx: BuildContext) -> Any:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if not any(op in ("MatMul", "Gemm") for op in _ops(model)):
        raise NotApplicable("no MatMul or Gemm to quantise")
    path = ctx.workdir / "int8-dynamic.onnx"
    quantize_dynamic(
        _copy(model), path, op_types_to_quantize=["MatMul", "Gemm"], weight_type=QuantType.QInt8
    )
    return onnx.load(str(path))


def _int8_static(model: Any, ctx: BuildContext) -> Any:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    if ctx.calibration is None:
        raise NotApplicable("static int8 needs calibration data: pass data=(X, y)")
    if not any(op in INT8_STATIC_OPS for op in _ops(model)):
        raise NotApplicable("no MatMul, Gemm or Conv to quantise")
    feed = ctx.calibration

    class Rows(CalibrationDataReader):  # one row at a time, so fixed batch-1 graphs work too
        def __init__(self) -> None:
            self.rows = _rows(feed)

        def get_next(self) -> dict[str, Any] | None:
            return next(self.rows, None)

    path = ctx.workdir / "int8-static.onnx"
    quantize_static(
        _copy(model),
        path,
        Rows(),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=INT8_STATIC_OPS,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
    )
    return onnx.load(str(path))


def _rows(feed: dict[str, Any]) -> Iterator[dict[str, Any]]:
    count = min(len(next(iter(feed.values()))), CALIBRATION_ROWS)
    for i in range(count):
        yield {name: value[i : i + 1] for name, value in feed.items()}


def onnx_candidates() -> list[Candidate]:
    """Every built-in ONNX variant, in the order they are built (bases before dependents)."""
    return [
        *(ort_level(level) for level in ORT_LEVELS),
        Candidate(FUSION, REWRITE, "onnx", _fuse, "onnxruntime.transformers operator fusion"),
        Candidate("onnxslim", REWRITE, "onnx", _slim, "onnxslim graph slimming"),
        Candidate("fp16", PRECISION, "onnx", _fp16, "fp16 weights and compute, fp32 I/O"),
        Candidate(
            "int8-dynamic", QUANTIZE, "onnx", _int8_dynamic, "dynamic int8 MatMul/Gemm (QInt8)"
        ),
        Candidate(
            f"{FUSION}+int8-dynamic",
            QUANTIZE,
            "onnx",
            _int8_dynamic,
            "transformer fusion, then dynamic int8 MatMul/Gemm",
            base=FUSION,
        ),
        Candidate(
            "int8-static",
            QUANTIZE,
            "onnx",
            _int8_static,
            "static int8 QDQ (MatMul/Gemm/Conv), calibrated on data=",
            needs_data=True,
        ),
    ]
