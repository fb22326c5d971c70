"""Repairs of skl2onnx's output, each applied only on the versions it is known to be needed for.

Found on skl2onnx 1.20 with scikit-learn 1.9.1 and protobuf 7; ``REPAIRS`` says for each what
goes wrong, and the versions it runs on. A repair runs per call and changes no global skl2onnx
registration. When a newer skl2onnx is released, tests/test_sklearn_onnx.py shows which
repairs it still needs; raise those bounds, and drop the repairs it no longer needs.

Stages: ``model`` repairs may replace ``Job.model`` with a repaired copy (never the caller's
object), ``call`` repairs adjust the arguments given to ``convert_sklearn``, ``graph`` repairs
edit the ONNX model skl2onnx returned.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from interop.frameworks.sklearn import nested_estimators

TREE_OPS = {"TreeEnsembleRegressor": 0, "TreeEnsembleClassifier": 1}  # op -> its float output


@dataclass
class Job:
    """One skl2onnx conversion as the repairs see it."""

    model: Any  # what skl2onnx converts: the caller's model, or a repaired copy of it
    float_type: str  # "float32" or "float64"
    options: dict[int, dict[str, Any]] = field(default_factory=dict)  # by id(estimator)
    converters: dict[type, Any] = field(default_factory=dict)
    shape_calculators: dict[type, Any] = field(default_factory=dict)
    onnx_model: Any = None  # set before the graph stage


@dataclass(frozen=True)
class Repair:
    name: str
    needed_on: dict[str, str]  # module -> versions, e.g. {"skl2onnx": "<=1.20"}; all must hold
    stage: str  # "model", "call" or "graph"
    apply: Callable[[Job], None]
    why: str

    def needed(self) -> bool:
        return all(version_in(_installed(module), spec) for module, spec in self.needed_on.items())


def apply_repairs(stage: str, job: Job) -> None:
    """Run the repairs of ``stage`` that the installed versions need, in table order."""
    for repair in REPAIRS:
        if repair.stage == stage and repair.needed():
            repair.apply(job)


def operators(model: Any) -> Iterator[tuple[Any, str]]:
    """(estimator, skl2onnx alias) for every estimator skl2onnx converts as one operator."""
    from skl2onnx._supported_operators import sklearn_operator_name_map

    for estimator in nested_estimators(model):
        alias = sklearn_operator_name_map.get(type(estimator))
        if alias is not None and not is_container(estimator):
            yield estimator, alias


def is_container(estimator: Any) -> bool:
    # Composites skl2onnx's parser walks into (by exact type) rather than converting as one
    # operator; a subclass of one is an operator skl2onnx has no converter for.
    return type(estimator).__name__ in {"Pipeline", "ColumnTransformer", "FeatureUnion"}


def is_hist_gradient_boosting(estimator: Any) -> bool:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    return isinstance(estimator, (HistGradientBoostingClassifier, HistGradientBoostingRegressor))


# -------------------------------------------------------------------- model stage


def hgb_float32_thresholds(job: Job) -> None:
    """Put a copy whose HistGradientBoosting thresholds are exact in float32 in ``job.model``.

    HistGradientBoosting compares float64 X with float64 thresholds, while the ONNX model
    compares float32 X with thresholds rounded to nearest float32, so a float32 value lying
    between the two roundings goes the other way (1.7 on diabetes targets). For float32 x,
    ``x <= t`` holds exactly when ``x <= floor32(t)``, the largest float32 not above t, so
    storing floor32(t) changes no prediction of the original on float32 data and makes
    skl2onnx's rounding exact. The caller's model is never modified.
    """
    if job.float_type != "float32":
        return
    if not any(is_hist_gradient_boosting(e) for e in nested_estimators(job.model)):
        return
    import copy

    import numpy as np

    clone = copy.deepcopy(job.model)
    for estimator in nested_estimators(clone):
        if not is_hist_gradient_boosting(estimator):
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
    job.model = clone


# -------------------------------------------------------------------- call stage


def hgb_bool_attributes(job: Job) -> None:
    """Convert HistGradientBoosting with skl2onnx's own converter through a bool-safe container."""
    from skl2onnx.common._registration import get_converter, get_shape_calculator

    for estimator, alias in operators(job.model):
        if is_hist_gradient_boosting(estimator):
            job.converters[type(estimator)] = _bool_safe(get_converter(alias))
            job.shape_calculators[type(estimator)] = get_shape_calculator(alias)


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


def options_for_every_step(job: Job) -> None:
    """Give every operator an options entry, even an empty one."""
    for estimator, _ in operators(job.model):
        job.options.setdefault(id(estimator), {})


# -------------------------------------------------------------------- graph stage


def float64_tree_ensembles(job: Job) -> None:
    """Float32-rounded tree inputs and float tree outputs cast to double, for dtype float64."""
    if job.float_type == "float64":
        _round_trip_tree_inputs(job.onnx_model)
        _cast_tree_outputs_to_double(job.onnx_model)


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


def knn_distance_weights(job: Job) -> None:
    """Remove skl2onnx's stray ``Mul(-1)`` after TopK(largest=0) on neighbour distances."""
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    if not any(
        isinstance(e, (KNeighborsClassifier, KNeighborsRegressor)) and e.weights == "distance"
        for e in nested_estimators(job.model)
    ):
        return
    from onnx import numpy_helper

    graph = job.onnx_model.graph
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


def string_normalizer_locale(job: Job) -> None:
    """Give StringNormalizer a locale this machine has, when its en_US.UTF-8 is missing."""
    nodes = [n for n in job.onnx_model.graph.node if n.op_type == "StringNormalizer"]
    if not nodes or _has_locale("en_US.UTF-8"):
        return
    from onnx import helper

    for node in nodes:
        for attribute in list(node.attribute):
            if attribute.name == "locale":
                node.attribute.remove(attribute)
        # C.UTF-8 lowercases like en_US.UTF-8 for every letter (str.lower() on "École")
        node.attribute.append(helper.make_attribute("locale", "C.UTF-8"))


@functools.cache
def _has_locale(name: str) -> bool:
    import locale

    current = locale.setlocale(locale.LC_CTYPE)
    try:
        locale.setlocale(locale.LC_CTYPE, name)
    except locale.Error:
        return False
    finally:
        locale.setlocale(locale.LC_CTYPE, current)
    return True


# -------------------------------------------------------------------- versions


@functools.cache
def _installed(module: str) -> tuple[int, ...]:
    version = str(getattr(importlib.import_module(module), "__version__", ""))
    return _release(version)


def _release(version: str) -> tuple[int, ...]:
    """The leading numbers of a version: ``"1.20.0rc1"`` -> ``(1, 20, 0)``."""
    numbers = []
    for part in version.split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        numbers.append(int(digits.group()))
        if digits.group() != part:
            break
    return tuple(numbers)


def version_in(installed: tuple[int, ...], spec: str) -> bool:
    """Whether a release ``(1, 20, 0)`` meets every ``<=1.20,>=1.17``-style clause of ``spec``.

    A bound compares as many numbers as it names: ``<=1.20`` holds for every 1.20.x.
    """
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        parsed = re.fullmatch(r"(<=|>=|==|<|>)\s*([\d.]+)", clause)
        if parsed is None:
            raise ValueError(f"version clause {clause!r} is not like '<=1.20'")
        op, bound = parsed.group(1), _release(parsed.group(2))
        head = installed[: len(bound)] + (0,) * max(0, len(bound) - len(installed))
        holds = {
            "<=": head <= bound, ">=": head >= bound, "==": head == bound,
            "<": head < bound, ">": head > bound,
        }[op]
        if not holds:
            return False
    return True


NEWEST_CHECKED = "<=1.20"  # the newest skl2onnx these repairs were checked against

REPAIRS: tuple[Repair, ...] = (
    Repair(
        "hgb_float32_thresholds", {"skl2onnx": NEWEST_CHECKED}, "model", hgb_float32_thresholds,
        "HistGradientBoosting with float32 inputs: skl2onnx rounds the float64 thresholds to "
        "nearest float32, which flips splits; rounded down they keep every float32 decision",
    ),
    Repair(
        "hgb_bool_attributes", {"skl2onnx": NEWEST_CHECKED, "google.protobuf": ">=7"}, "call",
        hgb_bool_attributes,
        "HistGradientBoosting*: skl2onnx writes Python False into the integer attribute "
        "nodes_missing_value_tracks_true for leaves; protobuf 7 rejects a bool in an int field "
        "(\"Expected an int, got a boolean\")",
    ),
    Repair(
        "options_for_every_step", {"skl2onnx": NEWEST_CHECKED}, "call", options_for_every_step,
        "LinearSVC in a Pipeline: the Pipeline parser sets zipmap=True on a classifier step "
        "that has no options, and LinearSVC's converter rejects the zipmap option (NameError)",
    ),
    Repair(
        "float64_tree_ensembles", {"skl2onnx": NEWEST_CHECKED}, "graph", float64_tree_ensembles,
        "dtype='float64' on tree ensembles: skl2onnx declares a double output, but the "
        "ai.onnx.ml op returns float, so onnxruntime refuses the model; scikit-learn's trees "
        "compare float32(x) with their thresholds, so the op's input goes through float32 "
        "(without it, unseen rows went the other way at splits: 21.8 off)",
    ),
    Repair(
        "string_normalizer_locale", {"skl2onnx": NEWEST_CHECKED}, "graph",
        string_normalizer_locale,
        "Text vectorizers: skl2onnx's StringNormalizer lowercases in onnxruntime's default "
        "locale en_US.UTF-8, and a machine without that locale refuses the model (\"Failed to "
        "construct locale with name:en_US.UTF-8\"); C.UTF-8 lowercases the same",
    ),
    Repair(
        "knn_distance_weights", {"skl2onnx": NEWEST_CHECKED}, "graph", knn_distance_weights,
        "KNeighbors* with weights='distance': for opset >= 11 skl2onnx takes TopK(largest=0) "
        "distances and still multiplies them by -1, so every weight becomes 1e6 and the model "
        "averages uniformly (6.2 off on diabetes)",
    ),
)
