"""scikit-learn estimators and pipelines to ONNX through skl2onnx, with zipmap off by default.

Outputs, by the original's names: classifiers give ``label`` (predict) and ``probabilities``
(predict_proba; a classifier without predict_proba gives ``decision_function`` instead when
it has more than two classes), regressors ``predictions`` (always 2-D, ``(N, n_targets)``),
transformers ``transform``. An ndarray sample makes one input ``X``. A DataFrame sample makes
one ``(N, 1)`` input per column (strings as string tensors, integers as int64, floats as the
chosen ``dtype``) only for a model that picks its columns by name (a ColumnTransformer first):
every other estimator takes one matrix, and skl2onnx refuses it several inputs ("at most 1
input(s)"), so its DataFrame becomes one ``X`` of the frame's values (int64 when every column
is an integer, else floats, else strings). A frame that mixes text and numbers cannot be one
tensor and keeps one input per column.

Repairs for skl2onnx 1.20 on scikit-learn 1.9.1 / protobuf 7 (applied per call, no global
registration is changed):

- HistGradientBoosting*: skl2onnx writes Python ``False`` into the integer attribute
  ``nodes_missing_value_tracks_true`` for leaves; protobuf 7 rejects a bool in an int field
  ("Expected an int, got a boolean"). We pass skl2onnx's own converter a container whose
  ``add_node`` turns bools in list attributes into ints.
- ``dtype="float64"`` on tree ensembles: skl2onnx declares a double output for
  TreeEnsembleRegressor/Classifier, but the ai.onnx.ml op always returns float, so
  onnxruntime refuses the model. We rename the op's float output and add a Cast to double.
  scikit-learn's trees (DecisionTree, RandomForest, ExtraTrees, GradientBoosting) compare
  ``float32(x)`` with their thresholds, so we also pass the tree op's input through float32
  and back (without it, unseen rows went the other way at splits: 21.8 off). The op then
  sums leaf values in double: GradientBoostingRegressor on the raw diabetes targets (up to
  346) stays within ~1e-5, against ~3e-5..1.4e-4 for the float32 route.
- ``dtype="float64"`` with HistGradientBoosting is refused: it compares float64 x with
  float64 thresholds, and the tree op only holds float thresholds (1.7 off in our trials).
- LinearSVC in a Pipeline: the Pipeline parser sets zipmap=True on a classifier step that
  has no options, and LinearSVC's converter rejects the zipmap option (NameError). We give
  every step an options entry, so the parser leaves it alone.
- KNeighbors* with ``weights="distance"``: for opset >= 11 skl2onnx takes TopK(largest=0)
  distances and still multiplies them by -1 (left from the old negate-then-TopK route), so
  every weight becomes 1/max(-d, 1e-6) = 1e6 and the model averages uniformly (6.2 off on
  diabetes). We drop that Mul, which makes the weights 1/max(d, 1e-6) as in scikit-learn.
- HistGradientBoosting with float32 inputs: thresholds are rounded down to float32 on a copy
  of the model (see ``_with_float32_thresholds``); rounding to nearest flips splits.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from interop.converters._onnx import (
    check_onnx,
    graph_inputs,
    opset_of,
    save_onnx,
    stamp_provenance,
    value_specs,
)
from interop.converters.base import Converter
from interop.errors import ConversionError, InvalidInput
from interop.types import Conversion, Tolerance

if TYPE_CHECKING:  # numpy is imported where it is used: --list loads this module
    import numpy as np

DTYPES = ("float32", "float64")
TREE_OPS = {"TreeEnsembleRegressor": 0, "TreeEnsembleClassifier": 1}  # op -> its float output
HGB_CLASSES = ("HistGradientBoostingClassifier", "HistGradientBoostingRegressor")


class SklearnToOnnx(Converter):
    """Converts fitted scikit-learn estimators and pipelines with skl2onnx."""

    name: ClassVar[str] = "sklearn.onnx"
    source: ClassVar[str] = "sklearn"
    target: ClassVar[str] = "onnx"
    options: ClassVar[dict[str, Any]] = {
        "opset": None,  # ai.onnx opset; None = the newest skl2onnx is tested with
        "ml_opset": None,  # ai.onnx.ml opset; None = skl2onnx's choice
        "dynamic_batch": True,
        "zipmap": False,  # True gives skl2onnx's sequence-of-maps probabilities
        "dtype": "float32",  # or "float64" for float inputs and computation where supported
    }
    default_tolerance: ClassVar[Tolerance] = Tolerance(atol=1e-4, rtol=1e-4)
    requires: ClassVar[tuple[str, ...]] = ("sklearn", "skl2onnx", "onnx", "onnxruntime")
    install_hint: ClassVar[str] = "pip install 'interop[sklearn]'"

    def _convert(self, model: Any, example_inputs: Any, options: dict[str, Any]) -> Conversion:
        import numpy as np

        _check_options(options)
        _check_fitted(model)
        sample = _sample_of(example_inputs)
        if _is_dataframe(sample) and getattr(model, "feature_names_in_", None) is None:
            raise InvalidInput(
                f"the {_class_name(model)} was fitted on an array, but example_inputs is a "
                "DataFrame",
                "pass the sample as an array (sample.to_numpy()), or fit on the DataFrame",
            )
        float_type = np.dtype(options["dtype"])
        hgb = [e for e in _estimators(model) if _class_name(e) in HGB_CLASSES]
        if hgb and float_type == np.float64:
            raise InvalidInput(
                f"dtype='float64' cannot reproduce {_class_name(hgb[0])}: it compares float64 "
                "inputs with float64 thresholds, and ONNX tree ensembles hold float thresholds",
                "convert it with dtype='float32' (the default), which is exact for float32 data",
            )
        per_column = _is_dataframe(sample) and _per_column(model, sample)
        inputs = _input_plan(sample, float_type, per_column)
        to_convert = _with_float32_thresholds(model) if float_type == np.float32 else model
        onnx_model = _run_skl2onnx(to_convert, inputs, options)
        if options["dtype"] == "float64":
            _round_trip_tree_inputs(onnx_model)
            _cast_tree_outputs_to_double(onnx_model)
        if any(_is_distance_knn(e) for e in _estimators(model)):
            _unnegate_topk_distances(onnx_model)
        check_onnx(onnx_model, self.name)
        output_map, output_kinds, notes = _outputs(model, onnx_model, options)
        import sklearn

        provenance = stamp_provenance(
            onnx_model,
            {
                "converter": self.name,
                "source": "sklearn",
                "source_version": sklearn.__version__,
                "estimator": type(model).__name__,
                "opset": str(opset_of(onnx_model)),
                # the runtime feeds the original data of the dtypes the sample had
                "input_dtypes": json.dumps({p.name: p.original_dtype for p in inputs}),
            },
        )
        return Conversion(
            source="sklearn",
            target="onnx",
            converter=self.name,
            model=onnx_model,
            input_specs=value_specs(graph_inputs(onnx_model)),
            output_specs=value_specs(onnx_model.graph.output),
            input_map={p.name: p.name for p in inputs},
            output_map=output_map,
            output_kinds=output_kinds,
            # "dataframe": one input per column; the sklearn runtime rebuilds a DataFrame with
            # the fitted column names for one X too, so the original sees what it was fitted on
            input_layout="dataframe" if per_column else "positional",
            saver=save_onnx,
            suffix=".onnx",
            warnings=notes,
            provenance=provenance,
            default_tolerance=self.default_tolerance,
            example_feed={p.name: p.values for p in inputs},
            runtime="onnx",
        )


class _Input:
    """One ONNX input: its name, skl2onnx type, feed values and the original's dtype."""

    def __init__(self, name: str, onnx_type: Any, values: np.ndarray, original_dtype: str):
        self.name = name
        self.onnx_type = onnx_type
        self.values = values
        self.original_dtype = original_dtype


def _check_options(options: dict[str, Any]) -> None:
    import skl2onnx

    if options["dtype"] not in DTYPES:
        raise InvalidInput(
            f"dtype {options['dtype']!r} is not supported by sklearn.onnx",
            "use dtype='float32' or dtype='float64'",
        )
    if not isinstance(options["zipmap"], bool):
        raise InvalidInput(f"zipmap must be True or False, not {options['zipmap']!r}", "")
    newest = int(skl2onnx.__max_supported_opset__)
    opset = options["opset"]
    if opset is not None and (not isinstance(opset, int) or not 7 <= opset <= newest):
        raise InvalidInput(
            f"opset {opset!r} is outside what skl2onnx {skl2onnx.__version__} supports "
            f"(7..{newest})",
            f"pass an opset between 7 and {newest}, or leave it out",
        )
    ml_opset = options["ml_opset"]
    if ml_opset is not None and (not isinstance(ml_opset, int) or not 1 <= ml_opset <= 5):
        raise InvalidInput(
            f"ml_opset {ml_opset!r} is not an ai.onnx.ml opset (1..5)",
            "leave ml_opset out to let skl2onnx choose",
        )


def _check_fitted(model: Any) -> None:
    from sklearn.base import BaseEstimator
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if not isinstance(model, BaseEstimator):
        raise InvalidInput(
            f"a {type(model).__name__} is not a scikit-learn estimator",
            "pass a fitted estimator or Pipeline",
        )
    try:
        check_is_fitted(model)
    except NotFittedError:
        raise InvalidInput(
            f"the {type(model).__name__} is not fitted",
            "call .fit(X, y) on it before converting",
        ) from None


def _is_dataframe(sample: Any) -> bool:
    return type(sample).__name__ == "DataFrame" and hasattr(sample, "columns")


def selects_columns_by_name(model: Any) -> bool:
    """True when the model (or its first pipeline step) is a ColumnTransformer."""
    first = model
    while _class_name(first) == "Pipeline" and getattr(first, "steps", None):
        first = first.steps[0][1]
    return _class_name(first) == "ColumnTransformer"


def _per_column(model: Any, frame: Any) -> bool:
    """Whether a DataFrame sample becomes one input per column rather than one ``X``."""
    if selects_columns_by_name(model):
        return True
    numeric = {frame[c].to_numpy().dtype.kind in "biuf" for c in frame.columns}
    # text beside numbers has no single tensor type; skl2onnx decides what it makes of it
    return len(numeric) > 1


def _sample_of(example_inputs: Any) -> Any:
    import numpy as np

    if isinstance(example_inputs, (tuple, list)) and len(example_inputs) == 1:
        candidate = example_inputs[0]
        if _is_dataframe(candidate) or isinstance(candidate, np.ndarray):
            example_inputs = candidate  # (X,) as the other converters take it
    if example_inputs is None:
        raise InvalidInput(
            "sklearn.onnx needs example_inputs to know the input types",
            "pass a few rows of X (an ndarray or the DataFrame the model was fitted on)",
        )
    if _is_dataframe(example_inputs):
        if len(example_inputs) == 0:
            raise InvalidInput("example_inputs is an empty DataFrame", "pass a few rows of X")
        return example_inputs
    sample = np.asarray(example_inputs)
    if sample.ndim != 2 or sample.shape[0] == 0:
        raise InvalidInput(
            f"example_inputs has shape {list(sample.shape)}; scikit-learn takes 2-D X",
            "pass X[:8] (rows x features), not a single row or a flat vector",
        )
    return sample


def _array_input(
    name: str, values: np.ndarray, float_type: np.dtype, batch: Any, keep_int: bool = False
) -> _Input:
    import numpy as np
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )

    shape = [batch, values.shape[1]]
    kind = values.dtype.kind
    if kind in "OUS":
        return _Input(name, StringTensorType(shape), values.astype(str).astype(object), "object")
    if kind in "iub" and keep_int:
        # DataFrame integers stay integer inputs (OneHotEncoder categories stay exact)
        return _Input(name, Int64TensorType(shape), values.astype(np.int64), str(values.dtype))
    if kind not in "iubf":
        raise InvalidInput(
            f"input {name!r} has dtype {values.dtype}, which sklearn.onnx cannot map",
            "pass numeric or string data",
        )
    tensor = DoubleTensorType if float_type == np.float64 else FloatTensorType
    original = str(values.dtype) if kind == "f" else "float64"
    return _Input(name, tensor(shape), values.astype(float_type), original)


def _input_plan(sample: Any, float_type: np.dtype, per_column: bool) -> list[_Input]:
    batch = None  # the batch dimension is fixed later when dynamic_batch is off
    if not _is_dataframe(sample):
        return [_array_input("X", sample, float_type, batch)]
    if not per_column:
        values = sample.to_numpy()
        if values.dtype.kind not in "biuf":  # pandas string and category columns
            values = sample.astype(str).to_numpy().astype(object)
        return [_array_input("X", values, float_type, batch, values.dtype.kind in "iub")]
    inputs = []
    for column in sample.columns:
        if not isinstance(column, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", column):
            raise InvalidInput(
                f"DataFrame column {column!r} cannot be an ONNX input name",
                "rename the columns to identifiers (letters, digits, _ . -) before fitting",
            )
        series = sample[column]
        values = series.to_numpy()
        if values.dtype.kind not in "biuf":  # object, pandas string and category columns
            values = series.astype(str).to_numpy().astype(object)
        inputs.append(_array_input(column, values.reshape(-1, 1), float_type, batch, True))
    return inputs


def _estimators(model: Any) -> Iterator[Any]:
    """The model and every estimator nested in it (pipeline steps, column transformers)."""
    from sklearn.base import BaseEstimator

    yield model
    for value in model.get_params(deep=True).values():
        if isinstance(value, BaseEstimator):
            yield value


def _class_name(estimator: Any) -> str:
    return type(estimator).__name__


def _run_skl2onnx(model: Any, inputs: list[_Input], options: dict[str, Any]) -> Any:
    from skl2onnx import convert_sklearn
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common._registration import get_converter, get_shape_calculator

    if not options["dynamic_batch"]:
        for item in inputs:
            item.onnx_type = type(item.onnx_type)([item.values.shape[0], item.values.shape[1]])
    skl_options: dict[Any, dict[str, Any]] = {}
    custom_converters: dict[type, Any] = {}
    custom_shapes: dict[type, Any] = {}
    for estimator in _estimators(model):
        alias = sklearn_operator_name_map.get(type(estimator))
        if alias is None or _is_container(estimator):
            continue  # a composite passes its options down to every step, which may refuse
        allowed = get_converter(alias).get_allowed_options() or {}
        # An entry for every step, even empty: skl2onnx's Pipeline parser gives a classifier
        # step with no entry zipmap=True, which LinearSVC's converter then rejects.
        skl_options[id(estimator)] = {"zipmap": options["zipmap"]} if "zipmap" in allowed else {}
        if _class_name(estimator) in HGB_CLASSES:
            custom_converters[type(estimator)] = _bool_safe(get_converter(alias))
            custom_shapes[type(estimator)] = get_shape_calculator(alias)
    target_opset: dict[str, int] | None = None
    if options["opset"] is not None or options["ml_opset"] is not None:
        import skl2onnx

        target_opset = {"": options["opset"] or int(skl2onnx.__max_supported_opset__)}
        if options["ml_opset"] is not None:
            target_opset["ai.onnx.ml"] = options["ml_opset"]
    try:
        with warnings.catch_warnings():
            # skl2onnx reads SVC.probA_/probB_, deprecated in scikit-learn 1.9 even for
            # models fitted without probability=True; the user did nothing to cause it.
            warnings.filterwarnings(
                "ignore", message=r"Attribute `prob[AB]_`", category=FutureWarning
            )
            onnx_model = convert_sklearn(
                model,
                initial_types=[(item.name, item.onnx_type) for item in inputs],
                target_opset=target_opset,
                options=skl_options or None,
                custom_conversion_functions=custom_converters or None,
                custom_shape_calculators=custom_shapes or None,
            )
    except InvalidInput:
        raise
    except Exception as exc:
        raise _skl2onnx_error(model, exc) from exc
    _dedupe_opsets(onnx_model)
    if options["dynamic_batch"]:
        _name_batch_dims(onnx_model)
    return onnx_model


def _name_batch_dims(onnx_model: Any) -> None:
    # skl2onnx leaves the batch dimension anonymous; name it as the other converters do.
    graph = onnx_model.graph
    for value in [*graph_inputs(onnx_model), *graph.output]:
        tensor = value.type.tensor_type
        if tensor.HasField("shape") and len(tensor.shape.dim) > 0:
            first = tensor.shape.dim[0]
            if not first.HasField("dim_value") and not first.dim_param:
                first.dim_param = "batch"


def _skl2onnx_error(model: Any, exc: Exception) -> ConversionError:
    from skl2onnx._supported_operators import sklearn_operator_name_map

    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    unsupported = [
        _class_name(e)
        for e in _estimators(model)
        if type(e) not in sklearn_operator_name_map and not _is_container(e)
    ]
    if unsupported:
        return ConversionError(
            f"skl2onnx cannot convert {unsupported[0]} (in {_class_name(model)}): no converter "
            "is registered for it",
            "replace it with a supported estimator, or register a skl2onnx converter for it",
        )
    found = re.search(r"<class '[\w.]*?(\w+)'>", text)
    culprit = found.group(1) if found else _class_name(model)
    return ConversionError(
        f"skl2onnx failed on {culprit}: {type(exc).__name__}: {first[:300]}",
        "try another opset with opset=, dtype='float64', or report it with the model",
    )


def _is_container(estimator: Any) -> bool:
    # Composites skl2onnx's parser walks into rather than converting as one operator.
    return _class_name(estimator) in {"Pipeline", "ColumnTransformer", "FeatureUnion"}


class _BoolSafeContainer:
    """Delegates to skl2onnx's container; bools in list attributes become ints (protobuf 7)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def add_node(self, *args: Any, **attrs: Any) -> Any:
        import numpy as np

        for key, value in attrs.items():
            if isinstance(value, list) and any(isinstance(v, (bool, np.bool_)) for v in value):
                attrs[key] = [int(v) for v in value]
        return self._inner.add_node(*args, **attrs)


def _bool_safe(registered: Any) -> Any:
    def convert(scope: Any, operator: Any, container: Any) -> Any:
        return registered(scope, operator, _BoolSafeContainer(container))

    return convert


def _with_float32_thresholds(model: Any) -> Any:
    """A copy of ``model`` whose HistGradientBoosting thresholds are exact in float32.

    HistGradientBoosting compares float64 X with float64 thresholds, while the ONNX model
    compares float32 X with thresholds rounded to nearest float32, so a float32 value lying
    between the two roundings goes the other way (1.7 on diabetes targets). For float32 x,
    ``x <= t`` holds exactly when ``x <= floor32(t)``, the largest float32 not above t, so
    storing floor32(t) changes no prediction of the original on float32 data and makes
    skl2onnx's rounding exact. The caller's model is never modified.
    """
    if not any(_class_name(e) in HGB_CLASSES for e in _estimators(model)):
        return model
    import copy

    import numpy as np

    clone = copy.deepcopy(model)
    for estimator in _estimators(clone):
        if _class_name(estimator) not in HGB_CLASSES:
            continue
        for iteration in estimator._predictors:
            for predictor in iteration:
                nodes = predictor.nodes
                branch = nodes["is_leaf"] == 0
                thresholds = nodes["num_threshold"][branch]
                rounded = thresholds.astype(np.float32)
                above = rounded.astype(np.float64) > thresholds
                rounded[above] = np.nextafter(rounded[above], np.float32(-np.inf))
                nodes["num_threshold"][branch] = rounded.astype(np.float64)
    return clone


def _round_trip_tree_inputs(onnx_model: Any) -> None:
    """Feed tree-ensemble ops float32-rounded doubles, as scikit-learn's trees see X."""
    import onnx

    graph = onnx_model.graph
    for node in list(graph.node):
        if node.domain != "ai.onnx.ml" or node.op_type not in TREE_OPS:
            continue
        source = node.input[0]
        as_float, back = f"{source}_{node.name}_as_float", f"{source}_{node.name}_rounded"
        index = list(graph.node).index(node)
        graph.node.insert(
            index,
            onnx.helper.make_node("Cast", [as_float], [back], to=onnx.TensorProto.DOUBLE),
        )
        graph.node.insert(
            index,
            onnx.helper.make_node("Cast", [source], [as_float], to=onnx.TensorProto.FLOAT),
        )
        node.input[0] = back


def _cast_tree_outputs_to_double(onnx_model: Any) -> None:
    """Give double-declared tree-ensemble outputs a float output and a Cast to double."""
    import onnx

    graph = onnx_model.graph
    declared = {v.name: v.type.tensor_type.elem_type for v in [*graph.output, *graph.value_info]}
    nodes = list(graph.node)
    added = 0
    for index, node in enumerate(nodes):
        if node.domain != "ai.onnx.ml" or node.op_type not in TREE_OPS:
            continue
        position = TREE_OPS[node.op_type]
        if len(node.output) <= position:
            continue
        double_name = node.output[position]
        if declared.get(double_name) != onnx.TensorProto.DOUBLE:
            continue  # classifiers already declare float probabilities
        float_name = f"{double_name}_as_float"
        node.output[position] = float_name
        cast = onnx.helper.make_node(
            "Cast", [float_name], [double_name], to=onnx.TensorProto.DOUBLE,
            name=f"{node.name or node.op_type}_to_double",
        )
        graph.node.insert(index + 1 + added, cast)
        added += 1


def _is_distance_knn(estimator: Any) -> bool:
    return _class_name(estimator).startswith("KNeighbors") and (
        getattr(estimator, "weights", None) == "distance"
    )


def _unnegate_topk_distances(onnx_model: Any) -> None:
    """Remove skl2onnx's stray ``Mul(-1)`` after TopK(largest=0) on neighbour distances."""
    from onnx import numpy_helper

    graph = onnx_model.graph
    initializers = {i.name: i for i in graph.initializer}
    smallest = [
        node.output[0]
        for node in graph.node
        if node.op_type == "TopK" and any(a.name == "largest" and a.i == 0 for a in node.attribute)
    ]
    for node in graph.node:
        if node.op_type != "Mul" or not any(name in node.input for name in smallest):
            continue
        distances = next(name for name in node.input if name in smallest)
        others = [name for name in node.input if name != distances]
        if len(others) != 1 or others[0] not in initializers:
            continue
        if numpy_helper.to_array(initializers[others[0]]).ravel().tolist() != [-1.0]:
            continue
        node.op_type = "Identity"
        del node.input[:]
        node.input.append(distances)
    used = {name for node in graph.node for name in node.input}
    for name, initializer in initializers.items():
        if name not in used:
            graph.initializer.remove(initializer)


def _dedupe_opsets(onnx_model: Any) -> None:
    # skl2onnx can list the default domain twice; keep the highest version per domain.
    best: dict[str, int] = {}
    for entry in onnx_model.opset_import:
        best[entry.domain] = max(best.get(entry.domain, 0), int(entry.version))
    if len(best) == len(onnx_model.opset_import):
        return
    del onnx_model.opset_import[:]
    for domain, version in best.items():
        entry = onnx_model.opset_import.add()
        entry.domain, entry.version = domain, version


def _outputs(
    model: Any, onnx_model: Any, options: dict[str, Any]
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    from sklearn.base import is_classifier, is_regressor

    names = [o.name for o in onnx_model.graph.output]
    notes: list[str] = []
    if is_classifier(model) and len(names) >= 2:
        output_map = {"label": names[0]}
        kinds = {"label": "label"}
        if hasattr(model, "predict_proba"):
            if options["zipmap"]:
                notes.append(
                    "zipmap=True: probabilities are a sequence of maps and were not compared; "
                    "convert with zipmap=False to check them"
                )
            else:
                output_map["probabilities"] = names[1]
                kinds["probabilities"] = "probabilities"
        elif hasattr(model, "decision_function") and len(model.classes_) > 2:
            output_map["decision_function"] = names[1]
            kinds["decision_function"] = "values"
        else:
            notes.append(
                f"{_class_name(model)} has no predict_proba, and skl2onnx's score output does "
                "not match its decision_function layout; only labels are compared"
            )
        return output_map, kinds, notes
    if is_regressor(model):
        return {"predictions": names[0]}, {"predictions": "values"}, notes
    if hasattr(model, "transform"):
        return {"transform": names[0]}, {"transform": "values"}, notes
    return {"label": names[0]}, {"label": "label"}, notes
