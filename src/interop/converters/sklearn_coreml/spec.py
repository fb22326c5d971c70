"""Core ML spec plumbing for scikit-learn conversions: feature types, sub-models, assembly.

Nothing here knows an estimator: the family modules fill sub-models that ``Builder`` creates,
and ``Builder.assemble`` chains them into one pipeline spec with the top-level interface.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from interop._lazy import LazyModule
from interop.errors import ConversionError, InvalidInput

if TYPE_CHECKING:
    import numpy as np
else:  # numpy loads when a conversion first needs it
    np = LazyModule("numpy")

SPECIFICATION_VERSION = 4  # iOS 13 / macOS 10.15: every spec type emitted here is defined there
DOUBLE = 65600  # ArrayFeatureType.DOUBLE

Fill = Callable[[Any], None]  # writes a feature type into a FeatureType message


@dataclass(frozen=True)
class Feature:
    """A multiarray feature flowing between pipeline steps: its name and width."""

    name: str
    size: int


@dataclass(frozen=True)
class Head:
    """What the last step produces: kind is classifier, regressor or transformer."""

    kind: str
    size: int
    int_labels: bool = True
    probabilities: bool = True
    feature: str = ""


@dataclass(frozen=True)
class Column:
    """One DataFrame column as a Core ML input: kind is float, int or string."""

    name: str
    kind: str
    original_dtype: str
    values: np.ndarray

    @property
    def dtype(self) -> str:
        return {"float": "float64", "int": "int64", "string": "object"}[self.kind]


@dataclass(frozen=True)
class Frame:
    """The columns of a DataFrame input, one Core ML input each."""

    columns: tuple[Column, ...]

    def column(self, key: Any) -> Column:
        if isinstance(key, (int, np.integer)):
            return self.columns[int(key)]
        for column in self.columns:
            if column.name == key:
                return column
        raise InvalidInput(f"the model selects column {key!r}, which the example lacks",
                           "pass a sample with every column the model was fitted on")


def unsupported(model: Any, why: str) -> ConversionError:
    """A supported estimator whose fitted state or settings have no Core ML equivalent."""
    return ConversionError(
        f"sklearn.coreml cannot convert {type(model).__name__} ({why})",
        "refit without that setting, or convert to ONNX instead (to='onnx')",
    )


def n_outputs(model: Any) -> int:
    """The number of regression targets a fitted regressor predicts."""
    if hasattr(model, "coef_"):
        coef = np.asarray(model.coef_)
        return 1 if coef.ndim == 1 else coef.shape[0]
    if hasattr(model, "n_outputs_"):
        return int(model.n_outputs_)
    return 1


class Builder:
    """Collects the Core ML sub-models of a (possibly nested) scikit-learn pipeline."""

    def __init__(self) -> None:
        from coremltools.proto import Model_pb2

        self.pb = Model_pb2
        self.models: list[Any] = []
        self.float32 = False  # set when a sub-model computes in float32 (neural networks)
        self._count = 0
        self.inputs: list[tuple[str, Fill]] = []

    def declare_inputs(self, source: Feature | Frame) -> None:
        """The top-level inputs: ``X`` as one multiarray, or one input per DataFrame column."""
        if isinstance(source, Feature):
            self.inputs = [(source.name, self.array(source.size))]
            return
        fills = {"float": self.array(1), "int": self.int64, "string": self.string}
        self.inputs = [(c.name, fills[c.kind]) for c in source.columns]

    def input_fill(self, name: str) -> Fill:
        return dict(self.inputs)[name]

    def frame_vector(self, frame: Frame, columns: list[Column], model: Any) -> Feature:
        """Numeric DataFrame columns joined into one multiarray."""
        strings = [c.name for c in columns if c.kind == "string"]
        if strings:
            raise unsupported(model, f"text columns {strings} outside a OneHotEncoder")
        parts = [(Feature(c.name, 1), self.input_fill(c.name)) for c in columns]
        return self.vectorize(parts, self.fresh("columns"))

    # ---------------------------------------------------------------- assembly

    def fresh(self, stem: str) -> str:
        self._count += 1
        return f"__{stem}_{self._count}"

    def new_model(self, inputs: list[tuple[str, Fill]], outputs: list[tuple[str, Fill]]) -> Any:
        spec = self.pb.Model()
        spec.specificationVersion = SPECIFICATION_VERSION
        for name, fill in inputs:
            feature = spec.description.input.add()
            feature.name = name
            fill(feature.type)
        for name, fill in outputs:
            feature = spec.description.output.add()
            feature.name = name
            fill(feature.type)
        self.models.append(spec)
        return spec

    def assemble(self, head: Head) -> Any:
        """One model as is, or a pipeline of the sub-models with the top-level interface."""
        if len(self.models) == 1:
            return self.models[0]
        spec = self.pb.Model()
        spec.specificationVersion = SPECIFICATION_VERSION
        for name, fill in self.inputs:
            feature = spec.description.input.add()
            feature.name = name
            fill(feature.type)
        produced = {o.name: o for sub in self.models for o in sub.description.output}
        if head.kind == "classifier":
            names = ["classLabel"] + (["classProbability"] if head.probabilities else [])
        else:
            names = [head.feature or "predictions"]
        for name in names:
            spec.description.output.add().CopyFrom(produced[name])
        if head.kind == "classifier":
            spec.description.predictedFeatureName = "classLabel"
            if head.probabilities:
                spec.description.predictedProbabilitiesName = "classProbability"
            container = spec.pipelineClassifier.pipeline
        elif head.kind == "regressor":
            container = spec.pipelineRegressor.pipeline
        else:
            container = spec.pipeline
        for sub in self.models:
            container.models.add().CopyFrom(sub)
        return spec

    # ---------------------------------------------------------------- feature types

    def array(self, size: int) -> Fill:
        def fill(ftype: Any) -> None:
            ftype.multiArrayType.dataType = DOUBLE
            ftype.multiArrayType.shape.append(int(size))

        return fill

    @staticmethod
    def int64(ftype: Any) -> None:
        ftype.int64Type.SetInParent()

    @staticmethod
    def string(ftype: Any) -> None:
        ftype.stringType.SetInParent()

    @staticmethod
    def dict_int64(ftype: Any) -> None:
        ftype.dictionaryType.int64KeyType.SetInParent()

    @staticmethod
    def dict_string(ftype: Any) -> None:
        ftype.dictionaryType.stringKeyType.SetInParent()

    # ---------------------------------------------------------------- building blocks

    def linear_map(self, feature: Feature, out: str, weights: np.ndarray,
                   offset: np.ndarray) -> Feature:
        """A glmRegressor computing ``weights @ x + offset`` in double."""
        spec = self.new_model([(feature.name, self.array(feature.size))],
                              [(out, self.array(len(weights)))])
        for row in np.asarray(weights, dtype=np.float64):
            spec.glmRegressor.weights.add().value.extend(row.tolist())
        spec.glmRegressor.offset.extend(np.asarray(offset, dtype=np.float64).tolist())
        return Feature(out, len(weights))

    def scaler(self, feature: Feature, out: str, shift: np.ndarray,
               scale: np.ndarray) -> Feature:
        spec = self.new_model([(feature.name, self.array(feature.size))],
                              [(out, self.array(feature.size))])
        spec.scaler.shiftValue.extend(np.asarray(shift, dtype=np.float64).tolist())
        spec.scaler.scaleValue.extend(np.asarray(scale, dtype=np.float64).tolist())
        return Feature(out, feature.size)

    def extract(self, feature: Feature, out: str, indices: list[int],
                scalar_int: bool = False) -> Feature:
        fill = self.int64 if scalar_int else self.array(len(indices))
        spec = self.new_model([(feature.name, self.array(feature.size))], [(out, fill)])
        spec.arrayFeatureExtractor.extractIndex.extend(int(i) for i in indices)
        return Feature(out, len(indices))

    def vectorize(self, parts: list[tuple[Feature, Fill]], out: str) -> Feature:
        size = sum(part.size for part, _ in parts)
        spec = self.new_model([(p.name, fill) for p, fill in parts], [(out, self.array(size))])
        for part, _ in parts:
            column = spec.featureVectorizer.inputList.add()
            column.inputColumn = part.name
            column.inputDimensions = part.size
        return Feature(out, size)

    # ---------------------------------------------------------------- estimator interfaces

    def model_reading(self, feature: Feature) -> Any:
        """A sub-model reading ``feature``, with its outputs still to declare."""
        return self.new_model([(feature.name, self.array(feature.size))], [])

    def regressor_model(self, model: Any, feature: Feature) -> tuple[Any, int]:
        """A sub-model reading ``feature`` and writing ``predictions``, and its width."""
        width = n_outputs(model)
        spec = self.new_model([(feature.name, self.array(feature.size))],
                              [("predictions", self.array(width))])
        return spec, width

    def interface_classifier(self, spec: Any, classes: np.ndarray, probabilities: bool = True,
                             label_name: str = "classLabel") -> bool:
        """Declare label (+ probabilities) outputs and class labels; True for int labels."""
        int_labels = classes.dtype.kind in "iu"
        if not int_labels and classes.dtype.kind not in "UO":
            raise ConversionError(
                f"class labels of dtype {classes.dtype} cannot be Core ML class labels",
                "fit the classifier with integer or string labels",
            )
        label = spec.description.output.add()
        label.name = label_name
        (self.int64 if int_labels else self.string)(label.type)
        spec.description.predictedFeatureName = label_name
        if probabilities:
            prob = spec.description.output.add()
            prob.name = "classProbability"
            (self.dict_int64 if int_labels else self.dict_string)(prob.type)
            spec.description.predictedProbabilitiesName = "classProbability"
        kind = spec.WhichOneof("Type")
        params = getattr(spec, kind)
        if int_labels:
            params.int64ClassLabels.vector.extend(int(c) for c in classes)
        else:
            params.stringClassLabels.vector.extend(str(c) for c in classes)
        return int_labels

    def classifier_head(self, spec: Any, classes: np.ndarray, probabilities: bool = True) -> Head:
        """Declare the classifier interface on ``spec``; the head it gives the conversion."""
        int_labels = self.interface_classifier(spec, classes, probabilities)
        return Head("classifier", len(classes), int_labels, probabilities)
