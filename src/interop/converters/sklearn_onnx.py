"""scikit-learn estimators and pipelines to ONNX through skl2onnx, with zipmap off by default.

Outputs, by the original's names: classifiers give ``label`` (predict) and ``probabilities``
(predict_proba; a classifier without predict_proba gives ``decision_function`` instead when it
has more than two classes), regressors ``predictions`` (always 2-D, ``(N, n_targets)``),
transformers ``transform``. A text vectorizer first (TF-IDF, counts, hashing) takes its
documents as scikit-learn does, a list or 1-D array of strings, which becomes one ``(N, 1)``
string input ``X`` (input_layout ``"text"``). An ndarray sample makes one input ``X``. A
DataFrame sample makes one ``(N, 1)`` input per column (strings as string tensors, integers as
int64, floats as the chosen ``dtype``) only for a model that picks its columns by name (a
ColumnTransformer first): every other estimator takes one matrix, and skl2onnx refuses it
several inputs ("at most 1 input(s)"), so its DataFrame becomes one ``X`` of the frame's values
(int64 when every column is an integer, else floats, else strings). A frame that mixes text and
numbers cannot be one tensor and keeps one input per column.

HistGradientBoosting with native categorical features goes through
``sklearn_onnx_categorical``: skl2onnx converts a copy whose bitset splits became ``<=``
splits on per-split features, behind a LabelEncoder preamble that computes them.

skl2onnx's output is repaired where the installed versions need it (HistGradientBoosting
attributes and thresholds, float64 tree ensembles, distance-weighted k-NN, LinearSVC in
pipelines): see ``interop.converters.skl2onnx_repairs``. ``dtype="float64"`` with
HistGradientBoosting is refused: it compares float64 x with float64 thresholds, and the tree op
only holds float thresholds (1.7 off in our trials).
"""

from __future__ import annotations

import json
import re
import warnings
from typing import TYPE_CHECKING, Any, ClassVar

from interop.converters.base import Converter
from interop.converters.skl2onnx_repairs import (
    Job,
    apply_repairs,
    is_container,
    is_hist_gradient_boosting,
    operators,
)
from interop.errors import ConversionError, InvalidInput, first_line
from interop.frameworks import locks
from interop.frameworks.onnx import (
    check_onnx,
    graph_inputs,
    opset_of,
    save_onnx,
    stamp_provenance,
    unsupported_ops,
    value_specs,
)
from interop.frameworks.sklearn import (
    categorical_plan,
    check_fitted,
    has_categorical_splits,
    is_dataframe,
    nested_estimators,
    selects_columns_by_name,
    takes_text,
    text_sample,
    with_unseen_text,
)
from interop.types import FP32_TOLERANCE, Conversion, Tolerance

if TYPE_CHECKING:  # numpy is imported where it is used: --list loads this module
    import numpy as np

DTYPES = ("float32", "float64")


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
    default_tolerance: ClassVar[Tolerance] = FP32_TOLERANCE
    requires: ClassVar[tuple[str, ...]] = ("sklearn", "skl2onnx", "onnx", "onnxruntime")
    install_hint: ClassVar[str] = "pip install 'interop[sklearn]'"

    def _convert(self, model: Any, example_inputs: Any, options: dict[str, Any]) -> Conversion:
        import numpy as np

        _check_options(options)
        check_fitted(model)
        text = takes_text(model)
        sample = text_sample(example_inputs) if text else _sample_of(example_inputs)
        if is_dataframe(sample) and getattr(model, "feature_names_in_", None) is None:
            raise InvalidInput(
                f"the {_class_name(model)} was fitted on an array, but example_inputs is a "
                "DataFrame",
                "pass the sample as an array (sample.to_numpy()), or fit on the DataFrame",
            )
        float_type = np.dtype(options["dtype"])
        hgb = [e for e in nested_estimators(model) if is_hist_gradient_boosting(e)]
        if hgb and float_type == np.float64:
            raise InvalidInput(
                f"dtype='float64' cannot reproduce {_class_name(hgb[0])}: it compares float64 "
                "inputs with float64 thresholds, and ONNX tree ensembles hold float thresholds",
                "convert it with dtype='float32' (the default), which is exact for float32 data",
            )
        per_column = is_dataframe(sample) and _per_column(model, sample)
        inputs = _input_plan(sample, float_type, per_column)
        if text:  # documents built from the vocabulary, one with an unseen word
            inputs[0].values = with_unseen_text(model, inputs[0].values)
        if has_categorical_splits(model):
            onnx_model, job = _convert_categorical(model, inputs, options)
        else:
            job = Job(model=model, float_type=options["dtype"])
            apply_repairs("model", job)
            onnx_model = _run_skl2onnx(job, inputs, options)
        job.onnx_model = onnx_model
        apply_repairs("graph", job)
        contrib = _check(onnx_model, self.name)
        output_map, output_kinds, notes = _outputs(model, onnx_model, options)
        if "label" in output_map:
            _flat_label(onnx_model, output_map["label"])
        notes += [
            f"the model uses onnxruntime's contrib op {op} (skl2onnx's text tokenizer, no "
            "standard ONNX op splits on a regular expression): it runs on onnxruntime only"
            for op in contrib
        ]
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
            input_layout="dataframe" if per_column else "text" if text else "positional",
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
        if is_dataframe(candidate) or isinstance(candidate, np.ndarray):
            example_inputs = candidate  # (X,) as the other converters take it
    if example_inputs is None:
        raise InvalidInput(
            "sklearn.onnx needs example_inputs to know the input types",
            "pass a few rows of X (an ndarray or the DataFrame the model was fitted on)",
        )
    if is_dataframe(example_inputs):
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
    if not is_dataframe(sample):
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


def _class_name(estimator: Any) -> str:
    return type(estimator).__name__


def _run_skl2onnx(job: Job, inputs: list[_Input], options: dict[str, Any]) -> Any:
    from skl2onnx import convert_sklearn
    from skl2onnx.common._registration import get_converter

    if not options["dynamic_batch"]:
        for item in inputs:
            item.onnx_type = type(item.onnx_type)([item.values.shape[0], item.values.shape[1]])
    # options go to single operators only: a composite passes its options down to every
    # step, which may refuse them
    for estimator, alias in operators(job.model):
        if "zipmap" in (get_converter(alias).get_allowed_options() or {}):
            job.options[id(estimator)] = {"zipmap": options["zipmap"]}
    apply_repairs("call", job)
    target_opset: dict[str, int] | None = None
    if options["opset"] is not None or options["ml_opset"] is not None:
        import skl2onnx

        target_opset = {"": options["opset"] or int(skl2onnx.__max_supported_opset__)}
        if options["ml_opset"] is not None:
            target_opset["ai.onnx.ml"] = options["ml_opset"]
    try:
        # the warning filters are the process's: the stdio lock while they are changed
        with locks.hold("stdio", "skl2onnx"), warnings.catch_warnings():
            # skl2onnx reads SVC.probA_/probB_, deprecated in scikit-learn 1.9 even for
            # models fitted without probability=True; the user did nothing to cause it.
            warnings.filterwarnings(
                "ignore", message=r"Attribute `prob[AB]_`", category=FutureWarning
            )
            onnx_model = convert_sklearn(
                job.model,
                initial_types=[(item.name, item.onnx_type) for item in inputs],
                target_opset=target_opset,
                options=job.options or None,
                custom_conversion_functions=job.converters or None,
                custom_shape_calculators=job.shape_calculators or None,
            )
    except InvalidInput:
        raise
    except Exception as exc:
        raise _skl2onnx_error(job.model, exc) from exc
    _dedupe_opsets(onnx_model)
    if options["dynamic_batch"]:
        _name_batch_dims(onnx_model)
    return onnx_model


def _convert_categorical(
    model: Any, inputs: list[_Input], options: dict[str, Any]
) -> tuple[Any, Job]:
    """HistGradientBoosting with categorical splits: the numeric rewrite plus a preamble."""
    import numpy as np
    from skl2onnx.common.data_types import FloatTensorType

    from interop.converters.sklearn_onnx_categorical import FEATURES, graft_preamble
    from interop.frameworks.sklearn import fitted_columns

    plan = categorical_plan(model)
    job = Job(model=plan.model, float_type=options["dtype"])
    apply_repairs("model", job)
    rows = len(inputs[0].values)
    features = _Input(FEATURES, FloatTensorType([None, plan.width]),
                      np.zeros((rows, plan.width), np.float32), "float32")
    onnx_model = _run_skl2onnx(job, [features], options)
    graft_preamble(onnx_model, plan, inputs, fitted_columns(model))
    return onnx_model, job


ONNXRUNTIME_CONTRIB = frozenset({"com.microsoft.Tokenizer"})  # ops skl2onnx relies on


def _check(onnx_model: Any, name: str) -> list[str]:
    """``check_onnx``, except for the onnxruntime contrib ops text vectorizers need: those
    are returned (to be stated) and the rest of the model is still checked."""
    import onnx

    contrib = unsupported_ops(onnx_model)
    if not contrib or not set(contrib) <= ONNXRUNTIME_CONTRIB:
        check_onnx(onnx_model, name)
        return []
    try:
        onnx.checker.check_model(onnx_model)
    except Exception as exc:
        raise ConversionError(
            f"{name} produced an invalid ONNX model: {first_line(exc)}",
            "report this with the model; try another opset with opset=",
        ) from exc
    return contrib


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

    unsupported = [
        _class_name(e)
        for e in nested_estimators(model)
        if type(e) not in sklearn_operator_name_map and not is_container(e)
    ]
    if unsupported:
        return ConversionError(
            f"skl2onnx cannot convert {unsupported[0]} (in {_class_name(model)}): no converter "
            "is registered for it",
            "replace it with a supported estimator, or register a skl2onnx converter for it",
        )
    found = re.search(r"<class '[\w.]*?(\w+)'>", str(exc))
    culprit = found.group(1) if found else _class_name(model)
    quoted = first_line(exc)
    return ConversionError(
        f"skl2onnx failed on {culprit}: {quoted[:len(type(exc).__name__) + 302]}",
        "try another opset with opset=, dtype='float64', or report it with the model",
    )


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
    if hasattr(model, "predict") and len(names) >= 2:
        # clusterers and outlier detectors: skl2onnx gives the label, then scores that are
        # predict_proba (mixtures) or transform's distances (k-means)
        output_map, kinds = {"label": names[0]}, {"label": "label"}
        if hasattr(model, "predict_proba"):
            output_map["probabilities"], kinds["probabilities"] = names[1], "probabilities"
        elif hasattr(model, "transform"):
            output_map["transform"], kinds["transform"] = names[1], "values"
        return output_map, kinds, notes
    if hasattr(model, "transform"):
        return {"transform": names[0]}, {"transform": "values"}, notes
    return {"label": names[0]}, {"label": "label"}, notes


def _flat_label(onnx_model: Any, name: str) -> None:
    """Make the label output 1-D like ``predict``: skl2onnx gives (N, 1) for mixtures and
    outlier detectors, and (1, N) for QuadraticDiscriminantAnalysis."""
    from onnx import TensorProto, helper

    graph = onnx_model.graph
    output = next((o for o in graph.output if o.name == name), None)
    if output is None or len(output.type.tensor_type.shape.dim) == 1:
        return
    inner = f"{name}_unflattened"
    for node in graph.node:
        node.output[:] = [inner if o == name else o for o in node.output]
        node.input[:] = [inner if i == name else i for i in node.input]
    shape = f"{name}_flat_shape"
    graph.initializer.append(helper.make_tensor(shape, TensorProto.INT64, [1], [-1]))
    graph.node.append(helper.make_node("Reshape", [inner, shape], [name]))
    dims = output.type.tensor_type.shape
    del dims.dim[:]
    dims.dim.add().dim_param = "batch"
