"""KNeighborsClassifier as Core ML's kNearestNeighborsClassifier (a linear index).

The spec stores every training sample as float32 with its label, k, and uniform or inverse-
distance weighting over squared Euclidean distances; it outputs the label only (no
probabilities), so only labels are compared. Core ML has no k-NN regressor spec.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interop._lazy import LazyModule
from interop.converters.sklearn_coreml.spec import Builder, Feature, Head, unsupported

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")


def knn_classifier(b: Builder, m: Any, f: Feature, classes: np.ndarray) -> Head:
    if getattr(m, "effective_metric_", None) != "euclidean":
        raise unsupported(m, f"metric={m.metric!r}; Core ML's k-NN measures Euclidean distance")
    if m.weights not in ("uniform", "distance"):
        raise unsupported(m, "a callable weights=; only 'uniform' and 'distance'")
    samples = np.asarray(m._fit_X, dtype=np.float64)
    labels = classes[np.asarray(m._y).reshape(-1)]
    spec = b.model_reading(f)
    params = spec.kNearestNeighborsClassifier
    index = params.nearestNeighborsIndex
    index.numberOfDimensions = samples.shape[1]
    for row in samples:
        index.floatSamples.add().vector.extend(row.tolist())
    index.linearIndex.SetInParent()
    index.squaredEuclideanDistance.SetInParent()
    params.numberOfNeighbors.defaultValue = int(m.n_neighbors)
    params.numberOfNeighbors.range.minValue = 1
    params.numberOfNeighbors.range.maxValue = len(samples)
    if m.weights == "uniform":
        params.uniformWeighting.SetInParent()
    else:
        params.inverseDistanceWeighting.SetInParent()
    int_labels = classes.dtype.kind in "iu"
    if int_labels:
        params.int64ClassLabels.vector.extend(int(c) for c in labels)
        params.defaultInt64Label = int(classes[0])
    else:
        params.stringClassLabels.vector.extend(str(c) for c in labels)
        params.defaultStringLabel = str(classes[0])
    label = spec.description.output.add()
    label.name = "classLabel"
    (b.int64 if int_labels else b.string)(label.type)
    spec.description.predictedFeatureName = "classLabel"
    return Head("classifier", len(classes), int_labels, probabilities=False)
