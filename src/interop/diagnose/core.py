"""diagnose(): run both sides on one input, compare layer by layer, find the first divergence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from interop import registry
from interop.diagnose.probes import Probe
from interop.diagnose.result import Diagnosis, LayerDiff
from interop.diagnose.shrink import OutputJudge, shrink
from interop.errors import InvalidInput
from interop.harness.compare import required_atol
from interop.harness.inputs import InputCache, from_user
from interop.types import Conversion, Tolerance

Collector = Callable[
    [Any, Conversion, dict[str, Any], dict[str, Any], list[str]], list[Probe]
]


def _builtin(source: str, target: str) -> Collector | None:
    if source == "torch" and target == "onnx":
        from interop.diagnose.collect_torch import torch_onnx

        return torch_onnx
    if source == "torch" and target == "coreml":
        from interop.diagnose.collect_torch import torch_coreml

        return torch_coreml
    if source == "tensorflow" and target in ("onnx", "coreml"):
        import interop.diagnose.collect_keras as collect_keras

        return collect_keras.keras_onnx if target == "onnx" else collect_keras.keras_coreml
    if source == "sklearn" and target == "onnx":
        from interop.diagnose.collect_sklearn import sklearn_onnx

        return sklearn_onnx
    return None


def _hooked(conversion: Conversion) -> Collector | None:
    """A converter's own ``intermediates(model, conversion, feed)`` (the optional plugin
    capability): a mapping of layer -> {"nodes": [...], "original": array,
    "converted": array}, in execution order."""
    try:
        converter = registry.get_converter(conversion.converter)
    except Exception:
        return None
    hook = getattr(converter, "intermediates", None)
    if not callable(hook):
        return None

    def collect(model: Any, conv: Conversion, feed: dict[str, Any],
                original_feed: dict[str, Any], notes: list[str]) -> list[Probe]:
        found = hook(model, conv, feed)
        notes.append(f"layer values from the {conv.converter} converter's intermediates()")
        return [
            Probe(
                str(layer),
                [str(n) for n in entry.get("nodes", [])],
                np.asarray(entry["original"], dtype=np.float64),
                None if entry.get("converted") is None
                else np.asarray(entry["converted"], dtype=np.float64),
            )
            for layer, entry in found.items()
        ]

    return collect


def conversion_of(converted: Any, model: Any) -> Conversion:
    if isinstance(converted, Conversion):
        return converted
    if isinstance(converted, (str, Path)):
        from interop.harness.saved import conversion_from_path

        return conversion_from_path(converted, model)[0]
    raise InvalidInput(
        f"diagnose() needs a Conversion or a saved model path, not {type(converted).__name__}",
        "pass the result of interop.convert(...) or the path it was saved to",
    )


def layer_diff(probe: Probe, tol: Tolerance) -> LayerDiff | None:
    if probe.converted is None:
        return None
    ref, got = probe.original, probe.converted
    finite = np.isfinite(ref) & np.isfinite(got)
    same_nonfinite = bool(np.all(finite | (ref == got) | (np.isnan(ref) & np.isnan(got))))
    diff = np.abs(got - ref)[finite]
    worst = float(diff.max()) if diff.size else 0.0
    need = required_atol(ref[finite], got[finite], tol.rtol) if diff.size else 0.0
    if not same_nonfinite:
        worst = need = float("inf")
    return LayerDiff(
        layer=probe.layer,
        nodes=tuple(probe.nodes),
        max_abs_error=worst,
        required_atol=need,
        passed=need <= tol.atol,
        value=probe.value,
        shape=tuple(int(d) for d in ref.shape),
        atol=tol.atol,
        rtol=tol.rtol,
    )


def first_divergence(layers: list[LayerDiff]) -> LayerDiff | None:
    """The first layer beyond tolerance whose inputs were within it: in execution order,
    every layer that finished before it (its inputs' producers among them) matched."""
    for diff in layers:
        if not diff.passed:
            return diff
    return None


def diagnose(
    model: Any,
    converted: Any,
    *,
    inputs: Any = None,
    tolerance: Any = None,
    batch_size: int = 1,
    seed: int = 0,
    minimize: bool = True,
) -> Diagnosis:
    """Compare ``model``'s layer outputs with ``converted``'s intermediate values.

    ``converted`` is a Conversion or a saved model path. ``inputs`` (the user's data) or a
    seeded draw of ``batch_size`` rows feeds both sides. ``tolerance`` is what ``check``
    takes (a profile name, a Tolerance or ``{"atol": .., "rtol": ..}``); one tolerance,
    that of the first output, applies to every layer.
    """
    conversion = conversion_of(converted, model)
    if inputs is not None:
        feed = from_user(inputs, conversion.input_specs, conversion.input_map)
    else:
        feed = InputCache(
            conversion.input_specs,
            seed=seed,
            example_feed=conversion.example_feed,
            resample=conversion.source == "sklearn",
        ).feed(batch_size)
    judge = OutputJudge(model, conversion, tolerance)
    try:
        outputs_passed = judge.passes(feed)
        tol = judge.layer_tolerance
        collect = _hooked(conversion) or _builtin(conversion.source, conversion.target)
        notes: list[str] = []
        probes: list[Probe] = []
        if collect is None:
            notes.append(
                f"no layer-by-layer comparison for {conversion.source} -> "
                f"{conversion.target}: give the converter an intermediates() hook"
            )
        else:
            probes = collect(model, conversion, dict(feed), judge.original_feed(feed), notes)
        unmatched = [p.layer for p in probes if p.converted is None]
        if unmatched:
            shown = ", ".join(unmatched[:8]) + (" ..." if len(unmatched) > 8 else "")
            notes.append(
                f"{len(unmatched)} layer(s) with no converted value to compare "
                f"(fused or folded away): {shown}"
            )
        layers = [d for d in (layer_diff(p, tol) for p in probes) if d is not None]
        first = first_divergence(layers)
        minimal: Any = None
        info: dict[str, Any] = {}
        if minimize and (not outputs_passed or first is not None):
            minimal, info = shrink(judge, feed)
    finally:
        judge.close()
    return Diagnosis(
        source=conversion.source,
        target=conversion.target,
        converter=conversion.converter,
        layers=layers,
        first_divergence=first,
        outputs_passed=outputs_passed,
        minimal_input=minimal,
        minimal_input_info=info,
        batch_size=int(next(iter(feed.values())).shape[0]) if feed else batch_size,
        method=collect.__name__ if collect is not None else "",
        notes=notes,
    )


__all__ = ["conversion_of", "diagnose", "first_divergence", "layer_diff"]
