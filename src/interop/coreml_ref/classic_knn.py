"""kNearestNeighborsClassifier, evaluated in float64 over its float32 samples.

Rules of the spec (NearestNeighbors.proto): the k samples nearest by squared Euclidean
distance vote for their labels, each with weight 1 (uniformWeighting) or 1/distance
(inverseDistanceWeighting); the label with the largest total wins. Two points the proto leaves
open are settled as scikit-learn settles them: samples at equal distance keep their stored
order, a sample at distance 0 takes all the weight (with any other at 0), and a tie between
labels goes to the smallest label.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from interop.coreml_ref.classic_common import (
    Features,
    input_matrix,
    name_classifier_outputs,
    unsupported,
)


def eval_knn_classifier(spec: Any, features: Features) -> Features:
    params = spec.kNearestNeighborsClassifier
    index = params.nearestNeighborsIndex
    if index.WhichOneof("DistanceFunction") not in (None, "squaredEuclideanDistance"):
        raise unsupported(f"k-NN distance {index.WhichOneof('DistanceFunction')!r}")
    samples = np.asarray([list(v.vector) for v in index.floatSamples], dtype=np.float32)
    which = params.WhichOneof("ClassLabels")
    if which == "int64ClassLabels":
        labels: np.ndarray = np.asarray(list(params.int64ClassLabels.vector), dtype=np.int64)
    elif which == "stringClassLabels":
        labels = np.asarray(list(params.stringClassLabels.vector), dtype=object)
    else:
        raise unsupported("a k-NN classifier without labels")
    if len(labels) != len(samples) or len(samples) == 0:
        raise unsupported(f"a k-NN classifier with {len(samples)} samples, {len(labels)} labels")
    k = int(params.numberOfNeighbors.defaultValue)
    if not 1 <= k <= len(samples):
        raise unsupported(f"numberOfNeighbors={k} for {len(samples)} samples")
    x = input_matrix(spec, features)
    points = samples.astype(np.float64)
    squared = ((x[:, None, :] - points[None, :, :]) ** 2).sum(axis=2)
    nearest = np.argsort(squared, axis=1, kind="stable")[:, :k]
    distance = np.sqrt(np.take_along_axis(squared, nearest, axis=1))
    if params.WhichOneof("WeightingScheme") == "inverseDistanceWeighting":
        with np.errstate(divide="ignore"):
            weights = 1.0 / distance
        exact = distance == 0
        weights = np.where(exact.any(axis=1, keepdims=True), exact.astype(np.float64), weights)
    else:
        weights = np.ones_like(distance)
    classes = np.asarray(sorted(set(labels.tolist())), dtype=labels.dtype)
    position = {c: i for i, c in enumerate(classes.tolist())}
    codes = np.asarray([position[c] for c in labels.tolist()])[nearest]
    votes = np.zeros((len(x), len(classes)))
    for column in range(k):
        np.add.at(votes, (np.arange(len(x)), codes[:, column]), weights[:, column])
    return name_classifier_outputs(spec, classes[np.argmax(votes, axis=1)], None)


__all__ = ["eval_knn_classifier"]
