"""Task accuracy on the caller's data=(X, y): the original's labels and each variant's, the
agreement between them and each one's accuracy against y."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from interop import registry
from interop.errors import first_line
from interop.harness.isolate import OK, SideJob, run_side, runtime_ref
from interop.optimize.profiles import judge_accuracy
from interop.types import Conversion


@dataclass(frozen=True)
class Labels:
    """Predicted labels on X, and from which output they were read."""

    values: np.ndarray
    output: str


def labels_of(outputs: dict[str, Any], conversion: Conversion, original_names: bool) -> Labels:
    """Labels from a side's outputs: a "label" output as is, else argmax over the last axis of
    the first output with one. ``original_names``: outputs are keyed by the original's names."""
    pairs = list(conversion.output_map.items())
    if not pairs:
        pairs = [(name, name) for name in outputs]
    ordered = sorted(pairs, key=lambda p: conversion.kind_of(p[0]) != "label")
    for original, converted in ordered:
        value = outputs.get(original if original_names else converted)
        if value is None:
            continue
        array = np.asarray(value)
        if conversion.kind_of(original) == "label":
            return Labels(array.reshape(-1) if array.ndim > 1 else array, original)
        if array.ndim >= 2 and array.shape[-1] > 1:
            return Labels(np.argmax(array, axis=-1), original)
        if array.ndim >= 1 and array.dtype.kind == "f":  # one score per row: threshold at 0.5
            scores = array.reshape(array.shape[0], -1)[:, 0]
            return Labels((scores > 0.5).astype(np.int64), original)
    raise ValueError("no output gives labels (a label output, or scores over the last axis)")


def run_outputs(
    runtime_ref: str, model: Any, conversion: Conversion, feed: dict[str, Any], threads: int
) -> dict[str, Any]:
    """One untimed run of ``feed`` through a runtime, in this process."""
    side = run_side(SideJob(runtime_ref, model, conversion, {0: feed}, threads, None))
    if side.status != OK or 0 in side.errors:
        raise RuntimeError(side.errors.get(0) or side.cause or side.status)
    return side.outputs[0]


def accuracy(labels: np.ndarray, y: Any) -> float:
    truth = np.asarray(y)
    if truth.shape != labels.shape:
        truth = truth.reshape(labels.shape)
    return float(np.mean(labels.astype(str) == truth.astype(str)))


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a.astype(str) == b.astype(str))) if a.size else 1.0


class TaskJudge:
    """Judges variants on data=(X, y): runs the original once on X, then each variant, and
    applies the profile's label-agreement and accuracy-drop rules (profiles.judge_accuracy)."""

    def __init__(self, y: Any, feed: dict[str, Any]) -> None:
        self.y, self.feed = y, feed
        self.original_labels: np.ndarray | None = None
        self.original_accuracy = 0.0

    def _original(self, model: Any, variant: Conversion, threads: int) -> np.ndarray:
        if self.original_labels is None:
            feed = {o: self.feed[c] for o, c in variant.input_map.items()} or self.feed
            ref = runtime_ref(registry.get_runtime(variant.source))
            outputs = run_outputs(ref, model, variant, feed, threads)
            self.original_labels = labels_of(outputs, variant, original_names=True).values
            self.original_accuracy = accuracy(self.original_labels, self.y)
        return self.original_labels

    def judge(self, model: Any, variant: Conversion, metrics: dict[str, Any], threads: int) -> str:
        """'' if the variant keeps task accuracy, else why not; fills ``metrics``."""
        try:
            original = self._original(model, variant, threads)
            ref = runtime_ref(registry.get_runtime(variant.runtime))
            outputs = run_outputs(ref, variant.model, variant, self.feed, threads)
            labels = labels_of(outputs, variant, original_names=False).values
        except Exception as exc:
            return f"task accuracy could not be measured: {first_line(exc)}"
        agreement_ = agreement(labels, original)
        score = accuracy(labels, self.y)
        metrics.update(
            label_agreement=agreement_,
            accuracy=score,
            original_accuracy=self.original_accuracy,
            accuracy_drop=self.original_accuracy - score,
        )
        return judge_accuracy(agreement_, score, self.original_accuracy)
