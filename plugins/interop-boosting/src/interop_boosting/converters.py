"""XGBoost and LightGBM (scikit-learn API) models to ONNX through onnxmltools.

Registered as ``xgboost.onnx`` and ``lightgbm.onnx`` in the ``interop.converters`` group.
Nothing heavy is imported here: onnxmltools and the framework load inside ``_convert``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from interop.sdk import (
    FP32_TOLERANCE,
    Conversion,
    ConversionError,
    Converter,
    InvalidInput,
    check_onnx,
    first_line,
    import_ref,
    save_onnx,
    stamp_provenance,
    value_specs,
)

INPUT_NAME = "X"
DEFAULT_OPSET = 15


class _BoostingToOnnx(Converter):
    """Shared flow: check the model, convert, fix the batch dimension, validate, describe."""

    target = "onnx"
    options: ClassVar[dict[str, Any]] = {"opset": DEFAULT_OPSET, "dynamic_batch": True}
    # Trees sum float32 leaf values in a different order than the native float64 path.
    default_tolerance = FP32_TOLERANCE
    framework = ""
    model_base = ""

    def _onnx(self, model: Any, n_features: int, opset: int) -> Any:
        raise NotImplementedError

    def _is_model(self, model: Any) -> bool:
        module_name, _, cls_name = self.model_base.rpartition(".")
        return isinstance(model, import_ref(f"{module_name}:{cls_name}"))

    def _convert(self, model: Any, example_inputs: Any, options: dict[str, Any]) -> Conversion:
        if not self._is_model(model):
            raise InvalidInput(
                f"{self.name} converts {self.model_base} models, not {type(model).__qualname__}",
                f"pass a fitted scikit-learn-API {self.framework} model (e.g. its Classifier "
                "or Regressor)",
            )
        n_features = _n_features(model, self.framework)
        if example_inputs is None:
            raise InvalidInput(
                f"{self.name} needs example_inputs to check the conversion",
                f"pass example_inputs= a few rows of X with {n_features} feature columns",
            )
        x = _as_matrix(example_inputs, n_features)
        opset = int(options["opset"])
        try:
            onx = self._onnx(model, n_features, opset)
        except Exception as exc:
            raise ConversionError(
                f"onnxmltools could not convert this {type(model).__qualname__}: "
                + first_line(exc),
                "check that onnxmltools supports the model's objective, or report it",
            ) from exc
        _set_batch_dim(onx, "batch" if options["dynamic_batch"] else int(x.shape[0]))
        check_onnx(onx, self.name)
        classifier = hasattr(model, "predict_proba") and hasattr(model, "classes_")
        outs = [o.name for o in onx.graph.output]
        if classifier:
            output_map = {"label": outs[0], "probabilities": outs[1]}
            kinds = {"label": "label", "probabilities": "probabilities"}
        else:
            output_map = {"predictions": outs[0]}
            kinds = {"predictions": "values"}
        from interop_boosting import __version__

        provenance = stamp_provenance(
            onx,
            {
                "interop_boosting.version": __version__,
                "converter": self.name,
                "source_class": f"{type(model).__module__}.{type(model).__qualname__}",
                f"{self.framework}_version": _version(self.framework),
                "onnxmltools_version": _version("onnxmltools"),
                "opset": str(opset),
            },
        )
        return Conversion(
            source=self.source,
            target=self.target,
            converter=self.name,
            model=onx,
            input_specs=value_specs(onx.graph.input),
            output_specs=value_specs(onx.graph.output),
            input_map={INPUT_NAME: onx.graph.input[0].name},
            output_map=output_map,
            saver=save_onnx,
            suffix=".onnx",
            output_kinds=kinds,
            provenance=provenance,
            default_tolerance=self.default_tolerance,
            example_feed={onx.graph.input[0].name: x},
            runtime="onnx",
        )


class XGBoostToOnnx(_BoostingToOnnx):
    """XGBClassifier / XGBRegressor to ONNX (TreeEnsemble ops of ai.onnx.ml)."""

    name = "xgboost.onnx"
    source = "xgboost"
    framework = "xgboost"
    model_base = "xgboost.sklearn.XGBModel"
    requires = ("xgboost", "onnxmltools", "onnx")
    install_hint = "pip install 'interop-boosting[xgboost]' (or xgboost-cpu)"

    def _onnx(self, model: Any, n_features: int, opset: int) -> Any:
        import onnxmltools
        from onnxmltools.convert.common.data_types import FloatTensorType

        return onnxmltools.convert_xgboost(
            model,
            initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
            target_opset=opset,
        )


class LightGBMToOnnx(_BoostingToOnnx):
    """LGBMClassifier / LGBMRegressor to ONNX (TreeEnsemble ops of ai.onnx.ml)."""

    name = "lightgbm.onnx"
    source = "lightgbm"
    framework = "lightgbm"
    model_base = "lightgbm.sklearn.LGBMModel"
    requires = ("lightgbm", "onnxmltools", "onnx")
    install_hint = "pip install 'interop-boosting[lightgbm]'"

    def _onnx(self, model: Any, n_features: int, opset: int) -> Any:
        import onnxmltools
        from onnxmltools.convert.common.data_types import FloatTensorType

        return onnxmltools.convert_lightgbm(
            model,
            initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
            target_opset=opset,
            zipmap=False,
        )


def _n_features(model: Any, framework: str) -> int:
    try:
        return int(model.n_features_in_)
    except Exception as exc:  # both libraries raise their own NotFittedError flavours
        raise InvalidInput(
            f"this {framework} model is not fitted ({type(exc).__name__})",
            "call fit() before converting",
        ) from exc


def _as_matrix(example_inputs: Any, n_features: int) -> np.ndarray:
    if isinstance(example_inputs, (tuple, list)) and len(example_inputs) == 1:
        example_inputs = example_inputs[0]
    try:
        x = np.asarray(example_inputs, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"example_inputs cannot be read as a float matrix: {exc}",
            "pass a numeric ndarray or DataFrame of shape (rows, features)",
        ) from exc
    if x.ndim != 2 or x.shape[1] != n_features or x.shape[0] == 0:
        raise InvalidInput(
            f"example_inputs has shape {list(x.shape)}, the model expects (rows, {n_features})",
            f"pass at least one row with {n_features} feature columns",
        )
    return x


def _set_batch_dim(onx: Any, batch: int | str) -> None:
    """Give every input and output the same first dimension (onnxmltools leaves some at 1)."""
    for value in [*onx.graph.input, *onx.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if len(dims):
            dims[0].Clear()
            if isinstance(batch, str):
                dims[0].dim_param = batch
            else:
                dims[0].dim_value = batch


def _version(module: str) -> str:
    return str(getattr(import_ref(module), "__version__", "unknown"))
