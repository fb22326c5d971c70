"""scikit-learn -> Core ML classic specs, built from fitted estimators' learned attributes.

coremltools 9 switches its own scikit-learn frontend off for scikit-learn newer than 1.5.1, so
this converter writes the Core ML protobuf messages itself (pipeline, scaler, imputer, one-hot,
GLM, tree ensemble, SVM and neural-network specs). The result has one multiarray input ``X``
of float64 features, and outputs ``classLabel`` + ``classProbability`` (classifiers),
``predictions`` (regressors) or ``transform`` (transformers).
"""

from __future__ import annotations

import datetime as _dt
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from interop._lazy import LazyModule
from interop.converters.base import Converter
from interop.errors import ConversionError, InvalidInput
from interop.types import Conversion, TensorSpec, Tolerance

if TYPE_CHECKING:
    import numpy as np
else:  # numpy loads when a conversion or run first needs it
    np = LazyModule("numpy")

SPECIFICATION_VERSION = 4  # iOS 13 / macOS 10.15: every spec type emitted here is defined there
DOUBLE = 65600  # ArrayFeatureType.DOUBLE

TRANSFORMERS = (
    "StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler", "Normalizer", "PCA",
    "SimpleImputer", "OneHotEncoder", "ColumnTransformer", "Pipeline", "FunctionTransformer",
)
CLASSIFIERS = (
    "LogisticRegression", "LinearSVC", "DecisionTreeClassifier", "RandomForestClassifier",
    "ExtraTreesClassifier", "GradientBoostingClassifier", "HistGradientBoostingClassifier",
    "SVC", "NuSVC", "MLPClassifier", "CalibratedClassifierCV",
)
REGRESSORS = (
    "LinearRegression", "Ridge", "Lasso", "ElasticNet", "LinearSVR", "DecisionTreeRegressor",
    "RandomForestRegressor", "ExtraTreesRegressor", "GradientBoostingRegressor",
    "HistGradientBoostingRegressor", "SVR", "NuSVR", "MLPRegressor",
)
SUPPORTED = TRANSFORMERS + CLASSIFIERS + REGRESSORS

# Parity the reference executor reaches: double-precision spec types agree with scikit-learn to
# rounding; neural networks (MLPs, multinomial logistic regression) compute in float32.
DOUBLE_TOLERANCE = Tolerance(atol=1e-9, rtol=1e-9)
FLOAT32_TOLERANCE = Tolerance(atol=1e-5, rtol=1e-4)


class SklearnToCoreml(Converter):
    """Fitted scikit-learn estimators and pipelines to classic Core ML specs (``.mlmodel``)."""

    name = "sklearn.coreml"
    source = "sklearn"
    target = "coreml"
    # Classic specs run one example at a time, so every batch size works: dynamic_batch is
    # accepted for a uniform API and has nothing to switch.
    options: ClassVar[dict[str, Any]] = {"precision": None, "dynamic_batch": True}
    default_tolerance = FLOAT32_TOLERANCE
    requires = ("coremltools", "sklearn")
    install_hint = "pip install 'interop[coreml,sklearn]'"

    def _convert(self, model: Any, example_inputs: Any, options: dict[str, Any]) -> Conversion:
        if options.get("precision") not in (None, "fp32"):
            raise InvalidInput(
                f"precision={options['precision']!r} is not available for scikit-learn models",
                "classic Core ML specs compute in double (neural networks in float32); "
                "leave precision unset or pass 'fp32'",
            )
        from interop.converters import _coreml

        captured = _coreml.Captured()
        ct = _coreml.import_coremltools(captured)
        builder = _Builder()
        if isinstance(example_inputs, (tuple, list)) and len(example_inputs) == 1 and (
            _is_dataframe(example_inputs[0]) or isinstance(example_inputs[0], np.ndarray)
        ):
            example_inputs = example_inputs[0]  # (X,) as the other converters take it
        if _is_dataframe(example_inputs):
            frame = _frame_plan(model, example_inputs)
            source: _Feature | _Frame = frame
            feed = {c.name: c.values[:8] for c in frame.columns}
            input_specs = tuple(TensorSpec(c.name, ("batch", 1), c.dtype) for c in frame.columns)
            dtypes = {c.name: c.original_dtype for c in frame.columns}
        else:
            x = _example_matrix(model, example_inputs)
            source = _Feature("X", x.shape[1])
            feed = {"X": x[:8]}
            input_specs = (TensorSpec("X", ("batch", x.shape[1]), "float64"),)
            dtypes = {"X": "float64"}
        builder.declare_inputs(source)
        head = builder.build(model, source)
        spec = builder.assemble(head)
        provenance = _stamp(spec, model)
        # the scikit-learn runtime feeds the original the dtypes the example had
        provenance["interop.input_dtypes"] = json.dumps(dtypes)
        spec.description.metadata.userDefined["interop.input_dtypes"] = json.dumps(dtypes)

        with _coreml.quiet_coremltools() as during:
            mlmodel = ct.models.MLModel(spec, skip_model_load=True)
        for message in during.messages:
            captured.add(message)
        # coremltools switches off its own scikit-learn frontend for scikit-learn > 1.5.1 and
        # says so on import; this converter builds the spec itself, so that note is not news
        warnings_out = [
            w
            for w in _coreml.relevant_warnings(captured, "sklearn")
            if "Disabling scikit-learn conversion API" not in w
        ]
        if head.kind == "classifier":
            label_dtype = "int64" if head.int_labels else "object"
            outputs: tuple[TensorSpec, ...] = (TensorSpec("classLabel", ("batch",), label_dtype),)
            output_map = {"label": "classLabel"}
            kinds = {"label": "label"}
            if head.probabilities:
                outputs += (TensorSpec("classProbability", ("batch", head.size), "float64"),)
                output_map["probabilities"] = "classProbability"
                kinds["probabilities"] = "probabilities"
        else:
            name = "predictions" if head.kind == "regressor" else "transform"
            outputs = (TensorSpec(name, ("batch", head.size), "float64"),)
            output_map = {name: name}
            kinds = {name: "values"}
        return Conversion(
            source=self.source,
            target=self.target,
            converter=self.name,
            model=mlmodel,
            input_specs=input_specs,
            output_specs=outputs,
            input_map={s.name: s.name for s in input_specs},
            input_layout="dataframe" if isinstance(source, _Frame) else "positional",
            output_map=output_map,
            output_kinds=kinds,
            saver=_save,
            suffix=".mlmodel",
            warnings=warnings_out,
            provenance=provenance,
            default_tolerance=FLOAT32_TOLERANCE if builder.float32 else DOUBLE_TOLERANCE,
            example_feed=feed,
            runtime="coreml",
        )


def _save(model: Any, path: Path) -> None:
    model.save(str(path))


def _example_matrix(model: Any, example_inputs: Any) -> np.ndarray:
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


def _is_dataframe(sample: Any) -> bool:
    return type(sample).__name__ == "DataFrame" and hasattr(sample, "columns")


@dataclass(frozen=True)
class _Column:
    """One DataFrame column as a Core ML input: kind is float, int or string."""

    name: str
    kind: str
    original_dtype: str
    values: np.ndarray

    @property
    def dtype(self) -> str:
        return {"float": "float64", "int": "int64", "string": "object"}[self.kind]


@dataclass(frozen=True)
class _Frame:
    """The columns of a DataFrame input, one Core ML input each."""

    columns: tuple[_Column, ...]

    def column(self, key: Any) -> _Column:
        if isinstance(key, (int, np.integer)):
            return self.columns[int(key)]
        for column in self.columns:
            if column.name == key:
                return column
        raise InvalidInput(f"the model selects column {key!r}, which the example lacks",
                           "pass a sample with every column the model was fitted on")


def _frame_plan(model: Any, sample: Any) -> _Frame:
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
        columns.append(_Column(str(name), kind, str(series.dtype), values.reshape(-1, 1)))
    return _Frame(tuple(columns))


def _stamp(spec: Any, model: Any) -> dict[str, str]:
    import coremltools
    import sklearn

    from interop import __version__

    prov = {
        "interop.version": __version__,
        "interop.converter": "sklearn.coreml",
        "interop.converted_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "interop.source_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "interop.sklearn_version": sklearn.__version__,
        "interop.coremltools_version": coremltools.__version__,
    }
    for key, value in prov.items():
        spec.description.metadata.userDefined[key] = value
    spec.description.metadata.shortDescription = f"{type(model).__name__} converted by interop"
    return prov


@dataclass(frozen=True)
class _Feature:
    """A multiarray feature flowing between pipeline steps: its name and width."""

    name: str
    size: int


@dataclass(frozen=True)
class _Head:
    """What the last step produces: kind is classifier, regressor or transformer."""

    kind: str
    size: int
    int_labels: bool = True
    probabilities: bool = True
    feature: str = ""


def _unsupported(model: Any, why: str = "") -> ConversionError:
    name = type(model).__name__
    reason = f" ({why})" if why else ""
    return ConversionError(
        f"sklearn.coreml cannot convert {name}{reason}",
        "supported: " + ", ".join(SUPPORTED),
    )


class _Builder:
    """Collects the Core ML sub-models of a (possibly nested) scikit-learn pipeline."""

    def __init__(self) -> None:
        from coremltools.proto import Model_pb2

        self.pb = Model_pb2
        self.models: list[Any] = []
        self.float32 = False
        self._count = 0
        self.inputs: list[tuple[str, Any]] = []

    def declare_inputs(self, source: _Feature | _Frame) -> None:
        """The top-level inputs: ``X`` as one multiarray, or one input per DataFrame column."""
        if isinstance(source, _Feature):
            self.inputs = [(source.name, self.array(source.size))]
            return
        fills = {"float": self.array(1), "int": self.int64, "string": self.string}
        self.inputs = [(c.name, fills[c.kind]) for c in source.columns]

    def input_fill(self, name: str) -> Any:
        return dict(self.inputs)[name]

    def frame_vector(self, frame: _Frame, columns: list[_Column], model: Any) -> _Feature:
        """Numeric DataFrame columns joined into one multiarray."""
        strings = [c.name for c in columns if c.kind == "string"]
        if strings:
            raise _unsupported(model, f"text columns {strings} outside a OneHotEncoder")
        parts = [(_Feature(c.name, 1), self.input_fill(c.name)) for c in columns]
        return self.vectorize(parts, self.fresh("columns"))

    # ---------------------------------------------------------------- assembly

    def fresh(self, stem: str) -> str:
        self._count += 1
        return f"__{stem}_{self._count}"

    def new_model(self, inputs: list[tuple[str, Any]], outputs: list[tuple[str, Any]]) -> Any:
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

    def assemble(self, head: _Head) -> Any:
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

    # ---------------------------------------------------------------- dispatch

    def build(self, model: Any, feature: _Feature | _Frame) -> _Head:
        """Add the models for ``model`` reading ``feature``; the last one gives the outputs."""
        name = type(model).__name__
        if isinstance(feature, _Frame) and name not in ("Pipeline", "ColumnTransformer"):
            feature = self.frame_vector(feature, list(feature.columns), model)
        if name == "Pipeline":
            steps = [est for _, est in model.steps if est not in (None, "passthrough")]
            if not steps:
                raise _unsupported(model, "a pipeline without steps")
            for step in steps[:-1]:
                feature = self.transform(step, feature)
            return self.build(steps[-1], feature)
        _check_fitted(model)
        if name in CLASSIFIERS + REGRESSORS:
            assert isinstance(feature, _Feature)  # frames became a vector above
            if name in CLASSIFIERS:
                return self.classifier(model, feature)
            return self.regressor(model, feature)
        if name in TRANSFORMERS:
            out = self.transform(model, feature, final_name="transform")
            return _Head("transformer", out.size, feature=out.name)
        raise _unsupported(model)

    def transform(self, model: Any, feature: _Feature | _Frame, final_name: str = "") -> _Feature:
        name = type(model).__name__
        out = final_name or self.fresh(name.lower())
        if isinstance(feature, _Frame) and name not in ("Pipeline", "ColumnTransformer"):
            feature = self.frame_vector(feature, list(feature.columns), model)
        if name == "Pipeline":
            steps = [est for _, est in model.steps if est not in (None, "passthrough")]
            for i, step in enumerate(steps):
                last = i == len(steps) - 1
                feature = self.transform(step, feature, final_name if last else "")
            assert isinstance(feature, _Feature)
            return feature
        _check_fitted(model)
        method = getattr(self, f"_t_{name}", None)
        if method is None:
            raise _unsupported(model, "not a supported transformer in a pipeline")
        return method(model, feature, out)

    # ---------------------------------------------------------------- feature types

    def array(self, size: int) -> Any:
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

    def linear_map(self, feature: _Feature, out: str, weights: np.ndarray,
                   offset: np.ndarray) -> _Feature:
        """A glmRegressor computing ``weights @ x + offset`` in double."""
        spec = self.new_model([(feature.name, self.array(feature.size))],
                              [(out, self.array(len(weights)))])
        for row in np.asarray(weights, dtype=np.float64):
            spec.glmRegressor.weights.add().value.extend(row.tolist())
        spec.glmRegressor.offset.extend(np.asarray(offset, dtype=np.float64).tolist())
        return _Feature(out, len(weights))

    def scaler(self, feature: _Feature, out: str, shift: np.ndarray,
               scale: np.ndarray) -> _Feature:
        spec = self.new_model([(feature.name, self.array(feature.size))],
                              [(out, self.array(feature.size))])
        spec.scaler.shiftValue.extend(np.asarray(shift, dtype=np.float64).tolist())
        spec.scaler.scaleValue.extend(np.asarray(scale, dtype=np.float64).tolist())
        return _Feature(out, feature.size)

    def extract(self, feature: _Feature, out: str, indices: list[int],
                scalar_int: bool = False) -> _Feature:
        fill = self.int64 if scalar_int else self.array(len(indices))
        spec = self.new_model([(feature.name, self.array(feature.size))], [(out, fill)])
        spec.arrayFeatureExtractor.extractIndex.extend(int(i) for i in indices)
        return _Feature(out, len(indices))

    def vectorize(self, parts: list[tuple[_Feature, Any]], out: str) -> _Feature:
        size = sum(part.size for part, _ in parts)
        spec = self.new_model([(p.name, fill) for p, fill in parts], [(out, self.array(size))])
        for part, _ in parts:
            column = spec.featureVectorizer.inputList.add()
            column.inputColumn = part.name
            column.inputDimensions = part.size
        return _Feature(out, size)

    # ---------------------------------------------------------------- transformers

    def _t_StandardScaler(self, m: Any, f: _Feature, out: str) -> _Feature:
        shift = -m.mean_ if m.with_mean else np.zeros(f.size)
        scale = 1.0 / m.scale_ if m.with_std else np.ones(f.size)
        return self.scaler(f, out, shift, scale)

    def _t_MinMaxScaler(self, m: Any, f: _Feature, out: str) -> _Feature:
        if m.clip:
            raise _unsupported(m, "clip=True has no Core ML scaler equivalent")
        # scikit-learn computes x * scale_ + min_, which is (x + min_ / scale_) * scale_.
        return self.scaler(f, out, m.min_ / m.scale_, m.scale_)

    def _t_MaxAbsScaler(self, m: Any, f: _Feature, out: str) -> _Feature:
        return self.scaler(f, out, np.zeros(f.size), 1.0 / m.scale_)

    def _t_RobustScaler(self, m: Any, f: _Feature, out: str) -> _Feature:
        shift = -m.center_ if m.with_centering else np.zeros(f.size)
        scale = 1.0 / m.scale_ if m.with_scaling else np.ones(f.size)
        return self.scaler(f, out, shift, scale)

    def _t_Normalizer(self, m: Any, f: _Feature, out: str) -> _Feature:
        norms = {"max": 0, "l1": 1, "l2": 2}
        spec = self.new_model([(f.name, self.array(f.size))], [(out, self.array(f.size))])
        spec.normalizer.normType = norms[m.norm]
        return _Feature(out, f.size)

    def _t_PCA(self, m: Any, f: _Feature, out: str) -> _Feature:
        weights = np.asarray(m.components_, dtype=np.float64)
        if m.whiten:
            weights = weights / np.sqrt(m.explained_variance_)[:, None]
        return self.linear_map(f, out, weights, -(weights @ m.mean_))

    def _t_SimpleImputer(self, m: Any, f: _Feature, out: str) -> _Feature:
        if m.add_indicator:
            raise _unsupported(m, "add_indicator=True")
        stats = np.asarray(m.statistics_, dtype=np.float64)
        if np.isnan(stats).any():
            raise _unsupported(m, "a column with no observed values; fit with "
                                  "keep_empty_features=True")
        marker = m.missing_values
        if not isinstance(marker, (int, float)) or isinstance(marker, bool):
            raise _unsupported(m, f"missing_values={marker!r}; only numbers and NaN")
        spec = self.new_model([(f.name, self.array(f.size))], [(out, self.array(f.size))])
        spec.imputer.imputedDoubleArray.vector.extend(stats.tolist())
        spec.imputer.replaceDoubleValue = float(marker)
        return _Feature(out, f.size)

    def _t_OneHotEncoder(self, m: Any, f: _Feature, out: str) -> _Feature:
        return self.one_hot(m, [(f, j) for j in range(f.size)], out)

    def one_hot(self, m: Any, sources: list[tuple[_Feature, int] | _Column], out: str) -> _Feature:
        """Per column: its integer code or text -> sparse one-hot; then one dense vector.

        A source is an element of a multiarray feature, or a DataFrame column input.
        """
        infrequent = getattr(m, "infrequent_categories_", None) or []
        if any(c is not None for c in infrequent):
            raise _unsupported(m, "infrequent categories (min_frequency / max_categories)")
        from coremltools.proto import OneHotEncoder_pb2

        handle = (OneHotEncoder_pb2.OneHotEncoder.ErrorOnUnknown if m.handle_unknown == "error"
                  else OneHotEncoder_pb2.OneHotEncoder.IgnoreUnknown)
        parts: list[tuple[_Feature, Any]] = []
        for column, (categories, source) in enumerate(zip(m.categories_, sources, strict=True)):
            cats = np.asarray(categories)
            encoded = self.fresh(f"ohe_out_{column}")
            if isinstance(source, _Column) and source.kind == "string":
                if cats.dtype.kind not in "OU":
                    raise _unsupported(m, f"text column {source.name!r} with numeric categories")
                spec = self.new_model([(source.name, self.string)], [(encoded, self.dict_int64)])
                spec.oneHotEncoder.stringCategories.vector.extend(str(c) for c in cats)
            else:
                if cats.dtype.kind not in "iuf" or not np.all(np.isfinite(cats)) or np.any(
                    cats != np.round(cats)
                ):
                    raise _unsupported(m, f"column {column} has non-integer categories "
                                          f"{cats[:4].tolist()}; encode them as integer codes")
                if isinstance(source, _Column) and source.kind == "int":
                    code_name = source.name
                else:
                    array, index = ((_Feature(source.name, 1), 0) if isinstance(source, _Column)
                                    else source)
                    code_name = self.extract(array, self.fresh(f"ohe_in_{column}"), [index],
                                             scalar_int=True).name
                spec = self.new_model([(code_name, self.int64)], [(encoded, self.dict_int64)])
                spec.oneHotEncoder.int64Categories.vector.extend(int(c) for c in cats)
            # Sparse output keyed by category position, densified by the feature vectorizer.
            spec.oneHotEncoder.outputSparse = True
            spec.oneHotEncoder.handleUnknown = handle
            parts.append((_Feature(encoded, len(cats)), self.dict_int64))
        drop = getattr(m, "drop_idx_", None)
        if drop is None:
            return self.vectorize(parts, out)
        dense = self.vectorize(parts, self.fresh("ohe_all"))
        keep, start = [], 0
        for (part, _), dropped in zip(parts, drop, strict=True):
            keep += [start + i for i in range(part.size) if dropped is None or i != dropped]
            start += part.size
        return self.extract(dense, out, keep)

    def _t_FunctionTransformer(self, m: Any, f: _Feature, out: str) -> _Feature:
        # ColumnTransformer stores remainder="passthrough" as an identity FunctionTransformer.
        if m.func is not None:
            raise _unsupported(m, "a FunctionTransformer with a function")
        return self.extract(f, out, list(range(f.size))) if out == "transform" else f

    def _t_ColumnTransformer(self, m: Any, f: _Feature | _Frame, out: str) -> _Feature:
        parts: list[tuple[_Feature, Any]] = []
        for name, trans, columns in m.transformers_:
            if isinstance(trans, str) and trans == "drop":
                continue
            if isinstance(f, _Frame):
                selected = [f.column(c) for c in _column_keys(m, columns, len(f.columns), f)]
                if not selected:
                    continue
                if type(trans).__name__ == "OneHotEncoder":
                    _check_fitted(trans)
                    result = self.one_hot(trans, list(selected), self.fresh(f"ct_{name}"))
                    parts.append((result, self.array(result.size)))
                    continue
                picked = self.frame_vector(f, selected, trans)
            else:
                indices = _column_indices(m, columns, f.size)
                if not indices:
                    continue
                picked = self.extract(f, self.fresh(f"ct_{name}"), indices)
            is_passthrough = isinstance(trans, str) and trans == "passthrough"
            result = picked if is_passthrough else self.transform(trans, picked)
            parts.append((result, self.array(result.size)))
        if not parts:
            raise _unsupported(m, "it outputs no columns")
        return self.vectorize(parts, out)

    # ---------------------------------------------------------------- estimators

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

    def classifier(self, m: Any, f: _Feature) -> _Head:
        name = type(m).__name__
        classes = np.asarray(m.classes_)
        if classes.ndim != 1:
            raise _unsupported(m, "multi-output classification")
        if name == "CalibratedClassifierCV":
            return self._calibrated(m, f, classes)
        spec = self.new_model([(f.name, self.array(f.size))], [])
        probabilities = True
        if name in ("LogisticRegression", "LinearSVC"):
            probabilities = name == "LogisticRegression"
            self._glm_classifier(m, spec, len(classes), probabilities)
        elif name in ("DecisionTreeClassifier", "RandomForestClassifier", "ExtraTreesClassifier"):
            self._forest_classifier(m, spec.treeEnsembleClassifier, len(classes))
        elif name == "GradientBoostingClassifier":
            self._gb_classifier(m, spec.treeEnsembleClassifier, len(classes))
        elif name == "HistGradientBoostingClassifier":
            self._hgb(m, spec.treeEnsembleClassifier, len(classes))
        elif name in ("SVC", "NuSVC"):
            with warnings.catch_warnings():
                # probA_ is deprecated with SVC(probability=True); the user was warned at fit.
                warnings.simplefilter("ignore", FutureWarning)
                prob_a = np.asarray(getattr(m, "probA_", ()), dtype=np.float64)
                prob_b = np.asarray(getattr(m, "probB_", ()), dtype=np.float64)
            probabilities = prob_a.size > 0
            self._svc(m, spec.supportVectorClassifier, len(classes), None)
            if probabilities:
                # libsvm labels a model with a probability model by the most probable class,
                # scikit-learn by one-vs-one votes: a second SVM gives the probabilities only.
                self.interface_classifier(spec, classes, False)
                spec = self.new_model([(f.name, self.array(f.size))], [])
                self._svc(m, spec.supportVectorClassifier, len(classes), (prob_a, prob_b))
                self.interface_classifier(spec, classes, True, self.fresh("svc_label"))
                return _Head("classifier", len(classes), classes.dtype.kind in "iu", True)
        elif name == "MLPClassifier":
            self._mlp(m, spec, classes=len(classes))
        else:  # pragma: no cover - CLASSIFIERS lists exactly the names above
            raise _unsupported(m)
        int_labels = self.interface_classifier(spec, classes, probabilities)
        return _Head("classifier", len(classes), int_labels, probabilities)

    def regressor(self, m: Any, f: _Feature) -> _Head:
        name = type(m).__name__
        n_out = _n_outputs(m)
        spec = self.new_model([(f.name, self.array(f.size))], [("predictions", self.array(n_out))])
        if name in ("LinearRegression", "Ridge", "Lasso", "ElasticNet", "LinearSVR"):
            coef = np.atleast_2d(np.asarray(m.coef_, dtype=np.float64))
            intercept = np.broadcast_to(np.asarray(m.intercept_, dtype=np.float64),
                                        (len(coef),))
            for row in coef:
                spec.glmRegressor.weights.add().value.extend(row.tolist())
            spec.glmRegressor.offset.extend(intercept.tolist())
        elif name in ("DecisionTreeRegressor", "RandomForestRegressor", "ExtraTreesRegressor"):
            self._forest_regressor(m, spec.treeEnsembleRegressor, n_out)
        elif name == "GradientBoostingRegressor":
            self._gb_regressor(m, spec.treeEnsembleRegressor)
        elif name == "HistGradientBoostingRegressor":
            self._hgb(m, spec.treeEnsembleRegressor, 0)
        elif name in ("SVR", "NuSVR"):
            self._svr(m, spec.supportVectorRegressor)
        elif name == "MLPRegressor":
            self._mlp(m, spec, classes=0)
        else:  # pragma: no cover
            raise _unsupported(m)
        return _Head("regressor", n_out)

    # ---------------------------------------------------------------- linear models

    def _glm_classifier(self, m: Any, spec: Any, n_classes: int, probabilities: bool) -> None:
        coef = np.asarray(m.coef_, dtype=np.float64)
        intercept = np.broadcast_to(np.asarray(m.intercept_, dtype=np.float64), (len(coef),))
        multinomial = (
            type(m).__name__ == "LogisticRegression"
            and n_classes > 2
            and getattr(m, "multi_class", "multinomial") in ("multinomial", "auto", "deprecated")
            and m.solver != "liblinear"
        )
        if multinomial:
            # GLMClassifier has no softmax: a softmax regression is a one-layer network.
            self._network(spec, [(coef.T, intercept, None)], "softmax", classifier=True)
            return
        from coremltools.proto import GLMClassifier_pb2

        glm = spec.glmClassifier
        for row in coef:
            glm.weights.add().value.extend(row.tolist())
        glm.offset.extend(intercept.tolist())
        glm.postEvaluationTransform = GLMClassifier_pb2.GLMClassifier.Logit
        glm.classEncoding = (GLMClassifier_pb2.GLMClassifier.ReferenceClass if n_classes == 2
                             else GLMClassifier_pb2.GLMClassifier.OneVsRest)

    def _calibrated(self, m: Any, f: _Feature, classes: np.ndarray) -> _Head:
        """Binary sigmoid calibration: the estimator's decision value into a logistic GLM."""
        if len(m.calibrated_classifiers_) != 1:
            raise _unsupported(m, "ensemble=True (several calibrated copies); use ensemble=False")
        if m.method != "sigmoid":
            raise _unsupported(m, f"method={m.method!r}; only 'sigmoid'")
        if len(classes) != 2:
            raise _unsupported(m, "more than two classes (the one-vs-rest decision values of "
                                  "an SVC have no Core ML spec)")
        calibrated = m.calibrated_classifiers_[0]
        (calibrator,) = calibrated.calibrators
        decision = self._decision_value(calibrated.estimator, f)
        spec = self.new_model([(decision.name, self.array(1))], [])
        glm = spec.glmClassifier
        # scikit-learn: P(second class) = 1 / (1 + exp(a * d + b)) = logistic(-a * d - b)
        glm.weights.add().value.append(-float(calibrator.a_))
        glm.offset.append(-float(calibrator.b_))
        int_labels = self.interface_classifier(spec, classes, True)
        return _Head("classifier", 2, int_labels, True)

    def _decision_value(self, est: Any, f: _Feature) -> _Feature:
        """A regressor computing a binary classifier's decision_function, in double."""
        name = type(est).__name__
        out = self.fresh("decision")
        if name in ("SVC", "NuSVC"):
            spec = self.new_model([(f.name, self.array(f.size))], [(out, self.array(1))])
            params = spec.supportVectorRegressor
            self._svm_common(est, params)
            params.coefficients.alpha.extend(np.asarray(est.dual_coef_[0], np.float64).tolist())
            params.rho = -float(np.asarray(est.intercept_).reshape(-1)[0])
            return _Feature(out, 1)
        if name in ("LogisticRegression", "LinearSVC"):
            return self.linear_map(f, out, np.asarray(est.coef_, np.float64),
                                   np.asarray(est.intercept_, np.float64).reshape(-1))
        raise _unsupported(est, "as the base estimator of CalibratedClassifierCV")

    # ---------------------------------------------------------------- trees

    def _forest_classifier(self, m: Any, params: Any, n_classes: int) -> None:
        trees = [m] if not hasattr(m, "estimators_") else list(m.estimators_)
        nodes = params.treeEnsemble
        nodes.numPredictionDimensions = n_classes
        for tree_id, est in enumerate(trees):
            tree = est.tree_
            if tree.n_outputs != 1:
                raise _unsupported(m, "multi-output trees")
            values = tree.value[:, 0, :]
            totals = values.sum(axis=1, keepdims=True)
            probs = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
            _add_sklearn_tree(nodes, tree_id, tree, probs / len(trees))

    def _forest_regressor(self, m: Any, params: Any, n_out: int) -> None:
        trees = [m] if not hasattr(m, "estimators_") else list(m.estimators_)
        nodes = params.treeEnsemble
        nodes.numPredictionDimensions = n_out
        for tree_id, est in enumerate(trees):
            _add_sklearn_tree(nodes, tree_id, est.tree_, est.tree_.value[:, :, 0] / len(trees))

    def _gb_base(self, m: Any) -> np.ndarray:
        init = m.init_
        if isinstance(init, str) and init == "zero":
            return np.zeros(m.estimators_.shape[1])
        if type(init).__name__ not in ("DummyClassifier", "DummyRegressor"):
            raise _unsupported(m, f"init={type(init).__name__}; only the default constant init")
        return np.asarray(m._raw_predict_init(np.zeros((1, m.n_features_in_))), np.float64)[0]

    def _gb_regressor(self, m: Any, params: Any) -> None:
        nodes = params.treeEnsemble
        nodes.numPredictionDimensions = 1
        nodes.basePredictionValue.extend(self._gb_base(m).tolist())
        for tree_id, est in enumerate(m.estimators_[:, 0]):
            _add_sklearn_tree(nodes, tree_id, est.tree_, m.learning_rate * est.tree_.value[:, :, 0])

    def _gb_classifier(self, m: Any, params: Any, n_classes: int) -> None:
        from coremltools.proto import TreeEnsemble_pb2

        factor = 1.0
        if m.loss == "exponential":
            factor = 2.0  # scikit-learn's probability is expit(2 * raw) for this loss
        elif m.loss != "log_loss":
            raise _unsupported(m, f"loss={m.loss!r}")
        nodes = params.treeEnsemble
        dims = m.estimators_.shape[1]
        nodes.numPredictionDimensions = dims
        nodes.basePredictionValue.extend((factor * self._gb_base(m)).tolist())
        tree_id = 0
        for stage in m.estimators_:
            for dim, est in enumerate(stage):
                leaf = np.zeros((est.tree_.node_count, dims))
                leaf[:, dim] = factor * m.learning_rate * est.tree_.value[:, 0, 0]
                _add_sklearn_tree(nodes, tree_id, est.tree_, leaf)
                tree_id += 1
        enum = TreeEnsemble_pb2.TreeEnsemblePostEvaluationTransform
        params.postEvaluationTransform = (enum.Value("Regression_Logistic") if dims == 1
                                          else enum.Value("Classification_SoftMax"))

    def _hgb(self, m: Any, params: Any, n_classes: int) -> None:
        from coremltools.proto import TreeEnsemble_pb2

        if getattr(m, "_preprocessor", None) is not None or getattr(
            m, "is_categorical_", None
        ) is not None and np.any(m.is_categorical_):
            raise _unsupported(m, "categorical features")
        loss = m.loss
        if n_classes == 0 and loss not in ("squared_error", "absolute_error", "quantile"):
            raise _unsupported(m, f"loss={loss!r} (its inverse link has no Core ML transform)")
        nodes = params.treeEnsemble
        base = np.asarray(m._baseline_prediction, dtype=np.float64).reshape(-1)
        dims = len(base)
        nodes.numPredictionDimensions = dims
        nodes.basePredictionValue.extend(base.tolist())
        tree_id = 0
        for iteration in m._predictors:
            for dim, predictor in enumerate(iteration):
                _add_hgb_tree(m, nodes, tree_id, predictor.nodes, dim)
                tree_id += 1
        if n_classes:
            enum = TreeEnsemble_pb2.TreeEnsemblePostEvaluationTransform
            params.postEvaluationTransform = (enum.Value("Regression_Logistic") if dims == 1
                                              else enum.Value("Classification_SoftMax"))

    # ---------------------------------------------------------------- SVMs

    def _svm_common(self, m: Any, params: Any) -> None:
        kernel = m.kernel
        if kernel == "linear":
            params.kernel.linearKernel.SetInParent()
        elif kernel == "rbf":
            params.kernel.rbfKernel.gamma = float(m._gamma)
        elif kernel == "poly":
            params.kernel.polyKernel.gamma = float(m._gamma)
            params.kernel.polyKernel.c = float(m.coef0)
            params.kernel.polyKernel.degree = int(m.degree)
        elif kernel == "sigmoid":
            params.kernel.sigmoidKernel.gamma = float(m._gamma)
            params.kernel.sigmoidKernel.c = float(m.coef0)
        else:
            raise _unsupported(m, f"kernel={kernel!r}")
        if hasattr(m.support_vectors_, "toarray"):
            raise _unsupported(m, "a model fitted on sparse input")
        for vector in np.asarray(m.support_vectors_, dtype=np.float64):
            params.denseSupportVectors.vectors.add().values.extend(vector.tolist())

    def _svc(self, m: Any, params: Any, n_classes: int,
             platt: tuple[np.ndarray, np.ndarray] | None) -> None:
        if getattr(m, "break_ties", False):
            raise _unsupported(m, "break_ties=True")
        self._svm_common(m, params)
        params.numberOfSupportVectorsPerClass.extend(int(n) for n in m.n_support_)
        dual = np.asarray(m.dual_coef_, dtype=np.float64)
        intercept = np.asarray(m.intercept_, dtype=np.float64)
        if n_classes == 2:
            # scikit-learn flips libsvm's signs for binary problems; Core ML keeps libsvm's.
            dual, rho = -dual, intercept
        else:
            rho = -intercept
        for row in dual:
            params.coefficients.add().alpha.extend(row.tolist())
        params.rho.extend(rho.tolist())
        if platt is not None:
            params.probA.extend(platt[0].tolist())
            params.probB.extend(platt[1].tolist())

    def _svr(self, m: Any, params: Any) -> None:
        self._svm_common(m, params)
        params.coefficients.alpha.extend(np.asarray(m.dual_coef_[0], np.float64).tolist())
        params.rho = float(-np.asarray(m.intercept_).reshape(-1)[0])

    # ---------------------------------------------------------------- neural networks

    def _mlp(self, m: Any, spec: Any, classes: int) -> None:
        activations = {"relu": "ReLU", "tanh": "tanh", "logistic": "sigmoid", "identity": None}
        if m.activation not in activations:
            raise _unsupported(m, f"activation={m.activation!r}")
        hidden = activations[m.activation]
        layers = []
        n = len(m.coefs_)
        for i, (w, b) in enumerate(zip(m.coefs_, m.intercepts_, strict=True)):
            layers.append((np.asarray(w, np.float64), np.asarray(b, np.float64),
                           hidden if i < n - 1 else None))
        out = m.out_activation_
        if classes:
            if out == "logistic" and classes == 2:
                # softmax([0, z]) equals [1 - sigmoid(z), sigmoid(z)] exactly.
                w, b, _ = layers[-1]
                layers[-1] = (np.concatenate([np.zeros_like(w), w], axis=1),
                              np.concatenate([np.zeros_like(b), b]), None)
            elif out != "softmax":
                raise _unsupported(m, f"output activation {out!r} (multi-label)")
            self._network(spec, layers, "softmax", classifier=True)
        else:
            if out != "identity":
                raise _unsupported(m, f"output activation {out!r}")
            self._network(spec, layers, None, classifier=False)

    def _network(self, spec: Any, layers: list[tuple[np.ndarray, np.ndarray, str | None]],
                 final: str | None, classifier: bool) -> None:
        """Dense layers (weights stored (in, out) as scikit-learn does) and activations."""
        self.float32 = True
        params = spec.neuralNetworkClassifier if classifier else spec.neuralNetworkRegressor
        blob = spec.description.input[0].name
        for i, (w, b, act) in enumerate(layers):
            last = i == len(layers) - 1
            out = ("predictions" if not classifier and last and act is None
                   else self.fresh(f"dense_{i}"))
            layer = params.layers.add()
            layer.name = f"dense_{i}"
            layer.input.append(blob)
            layer.output.append(out)
            ip = layer.innerProduct
            ip.inputChannels, ip.outputChannels = int(w.shape[0]), int(w.shape[1])
            ip.hasBias = True
            ip.weights.floatValue.extend(w.T.reshape(-1).astype(np.float32).tolist())
            ip.bias.floatValue.extend(b.astype(np.float32).tolist())
            blob = out
            if act is not None:
                layer = params.layers.add()
                layer.name = f"act_{i}"
                layer.input.append(blob)
                blob = "predictions" if not classifier and last else self.fresh(f"act_{i}")
                layer.output.append(blob)
                getattr(layer.activation, act).SetInParent()
        if final == "softmax":
            layer = params.layers.add()
            layer.name = "softmax"
            layer.input.append(blob)
            layer.output.append("probabilities")
            layer.softmax.SetInParent()
            params.labelProbabilityLayerName = "probabilities"


# -------------------------------------------------------------------- helpers


def _check_fitted(model: Any) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except NotFittedError as exc:
        raise InvalidInput(
            f"{type(model).__name__} is not fitted", "call fit() before converting"
        ) from exc
    except TypeError as exc:
        raise _unsupported(model, "not a scikit-learn estimator") from exc


def _n_outputs(m: Any) -> int:
    name = type(m).__name__
    if name.startswith("MLP"):
        return int(m.n_outputs_)
    if hasattr(m, "coef_"):
        coef = np.asarray(m.coef_)
        return 1 if coef.ndim == 1 else coef.shape[0]
    if hasattr(m, "n_outputs_"):
        return int(m.n_outputs_)
    return 1


def _column_keys(ct: Any, columns: Any, width: int, frame: _Frame) -> list[Any]:
    """Column names or positions a ColumnTransformer entry selects from a DataFrame."""
    if isinstance(columns, str):
        return [columns]
    cols = np.atleast_1d(np.asarray(columns, dtype=object))
    if cols.size and all(isinstance(c, str) for c in cols):
        return list(cols)
    if callable(columns):
        raise _unsupported(ct, "columns chosen by a callable")
    return [frame.columns[i].name for i in _column_indices(ct, columns, width)]


def _column_indices(ct: Any, columns: Any, width: int) -> list[int]:
    if isinstance(columns, slice):
        return list(range(width))[columns]
    cols = np.atleast_1d(np.asarray(columns))
    if cols.size == 0:
        return []
    if cols.dtype == bool:
        return [int(i) for i in np.flatnonzero(cols)]
    if cols.dtype.kind in "iu":
        return [int(i) % width for i in cols]
    raise _unsupported(ct, f"columns selected by name ({cols[:3].tolist()}); select by position")


def float32_split_thresholds(thresholds: np.ndarray) -> np.ndarray:
    """Thresholds ``u`` with ``x <= u`` exactly when ``float32(x) <= t``, for any double ``x``.

    scikit-learn's trees cast X to float32 before comparing it with a float64 threshold ``t``;
    the Core ML spec compares the double input itself. With ``T`` the largest float32 not above
    ``t``, ``float32(x) <= t`` holds exactly when x rounds to ``T`` or below: below the midpoint
    of ``T`` and the next float32, and at the midpoint itself when round-half-to-even picks ``T``.
    """
    t = np.asarray(thresholds, dtype=np.float64)
    with np.errstate(over="ignore"):
        t32 = t.astype(np.float32)
    below = np.where(t32.astype(np.float64) > t, np.nextafter(t32, np.float32(-np.inf)), t32)
    above = np.nextafter(below, np.float32(np.inf))
    midpoint = (below.astype(np.float64) + above.astype(np.float64)) / 2.0
    even = (below.view(np.int32) & 1) == 0
    exact = np.where(even, midpoint, np.nextafter(midpoint, -np.inf))
    return np.where(np.isfinite(t), exact, t)


def _add_sklearn_tree(params: Any, tree_id: int, tree: Any, leaf_values: np.ndarray) -> None:
    """Append one scikit-learn ``Tree``: ``x[feature] <= threshold`` goes left (true child)."""
    left, right = tree.children_left, tree.children_right
    thresholds = float32_split_thresholds(tree.threshold)
    missing_left = getattr(tree, "missing_go_to_left", np.zeros(tree.node_count, dtype=bool))
    for i in range(tree.node_count):
        node = params.nodes.add()
        node.treeId = tree_id
        node.nodeId = i
        if left[i] == -1:
            node.nodeBehavior = _LEAF
            for dim, value in enumerate(leaf_values[i]):
                info = node.evaluationInfo.add()
                info.evaluationIndex = dim
                info.evaluationValue = float(value)
        else:
            node.nodeBehavior = _LEQ
            node.branchFeatureIndex = int(tree.feature[i])
            node.branchFeatureValue = float(thresholds[i])
            node.trueChildNodeId = int(left[i])
            node.falseChildNodeId = int(right[i])
            node.missingValueTracksTrueChild = bool(missing_left[i])


def _add_hgb_tree(m: Any, params: Any, tree_id: int, nodes: np.ndarray, dim: int) -> None:
    """Append one HistGradientBoosting predictor tree; its leaf values carry the shrinkage."""
    for i, row in enumerate(nodes):
        node = params.nodes.add()
        node.treeId = tree_id
        node.nodeId = i
        if row["is_leaf"]:
            node.nodeBehavior = _LEAF
            info = node.evaluationInfo.add()
            info.evaluationIndex = dim
            info.evaluationValue = float(row["value"])
            continue
        if row["is_categorical"]:
            raise _unsupported(m, "categorical splits")
        node.nodeBehavior = _LEQ
        node.branchFeatureIndex = int(row["feature_idx"])
        # An infinite threshold (a split on missing values only) is kept as is: x <= inf.
        node.branchFeatureValue = float(row["num_threshold"])
        node.trueChildNodeId = int(row["left"])
        node.falseChildNodeId = int(row["right"])
        node.missingValueTracksTrueChild = bool(row["missing_go_to_left"])


_LEQ = 0  # TreeNodeBehavior.BranchOnValueLessThanEqual
_LEAF = 6  # TreeNodeBehavior.LeafNode
