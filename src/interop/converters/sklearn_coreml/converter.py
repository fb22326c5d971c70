"""The sklearn.coreml converter: example handling, spec assembly, the Conversion it returns."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import interop.converters.sklearn_coreml.dispatch as dispatch
from interop._lazy import LazyModule
from interop.converters.base import Converter
from interop.converters.sklearn_coreml.inputs import example_matrix, frame_plan
from interop.converters.sklearn_coreml.spec import Builder, Feature, Frame
from interop.errors import ConversionError, InvalidInput
from interop.frameworks.sklearn import is_dataframe, text_steps
from interop.types import Conversion, TensorSpec, Tolerance

if TYPE_CHECKING:
    import numpy as np
else:  # numpy loads when a conversion or run first needs it
    np = LazyModule("numpy")

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
        text = text_steps(model)
        if text:
            raise ConversionError(
                f"Core ML has no text vectorizer spec: {text[0]} (TF-IDF, counts, hashing) "
                "cannot be expressed in a Core ML model",
                "convert it to ONNX instead (to='onnx'), or vectorize the text before the model",
            )
        from interop.converters._coreml import relevant_warnings
        from interop.frameworks.coreml import Captured, import_coremltools, quiet_coremltools

        captured = Captured()
        ct = import_coremltools(captured)
        builder = Builder()
        if isinstance(example_inputs, (tuple, list)) and len(example_inputs) == 1 and (
            is_dataframe(example_inputs[0]) or isinstance(example_inputs[0], np.ndarray)
        ):
            example_inputs = example_inputs[0]  # (X,) as the other converters take it
        if is_dataframe(example_inputs):
            frame = frame_plan(model, example_inputs)
            source: Feature | Frame = frame
            feed = {c.name: c.values[:8] for c in frame.columns}
            input_specs = tuple(TensorSpec(c.name, ("batch", 1), c.dtype) for c in frame.columns)
            dtypes = {c.name: c.original_dtype for c in frame.columns}
        else:
            x = example_matrix(model, example_inputs)
            source = Feature("X", x.shape[1])
            feed = {"X": x[:8]}
            input_specs = (TensorSpec("X", ("batch", x.shape[1]), "float64"),)
            dtypes = {"X": "float64"}
        builder.declare_inputs(source)
        head = dispatch.build(builder, model, source)
        spec = builder.assemble(head)
        provenance = _stamp(spec, model)
        # the scikit-learn runtime feeds the original the dtypes the example had
        provenance["interop.input_dtypes"] = json.dumps(dtypes)
        spec.description.metadata.userDefined["interop.input_dtypes"] = json.dumps(dtypes)

        with quiet_coremltools() as during:
            mlmodel = ct.models.MLModel(spec, skip_model_load=True)
        for message in during.messages:
            captured.add(message)
        # coremltools switches off its own scikit-learn frontend for scikit-learn > 1.5.1 and
        # says so on import; this converter builds the spec itself, so that note is not news
        warnings_out = [
            w
            for w in relevant_warnings(captured, "sklearn")
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
            input_layout="dataframe" if isinstance(source, Frame) else "positional",
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
