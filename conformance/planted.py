"""Planted faults: one layer of the original scaled by 1.01, judged by convert and by check.

A conversion that passed is judged again against a copy of the original whose last weighted
layer (a task head, or the final LayerNorm of an encoder that ends in one, so that no
normalisation after it hides the change) has its weights multiplied by 1.01. Both verdicts,
convert's validation and ``check``, must fail, and must agree. Uses only the public API.
"""

from __future__ import annotations

import copy
from typing import Any

FACTOR = 1.01


def _plant_torch(model: Any, example_inputs: Any) -> tuple[Any, str] | None:
    import torch

    if not isinstance(model, torch.nn.Module):
        return None
    faulty = copy.deepcopy(model)
    # the last weighted module *as executed* on the example (registration order is not
    # execution order): a task head, or for encoders that end in a LayerNorm that norm, so
    # that no normalisation after it hides the change
    weighted = {
        id(module): (name, module)
        for name, module in faulty.named_modules()
        if isinstance(getattr(module, "weight", None), torch.nn.Parameter)
        and module.weight.is_floating_point()
        and not isinstance(module, torch.nn.Embedding)
    }
    ran: list[int] = []
    hooks = [m.register_forward_hook(lambda mod, args, out: ran.append(id(mod)))
             for _, m in weighted.values()]
    try:
        with torch.no_grad():
            if isinstance(example_inputs, dict):
                faulty(**example_inputs)
            else:
                args = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
                faulty(*(torch.as_tensor(a) for a in args))
    finally:
        for hook in hooks:
            hook.remove()
    if not ran:
        return None
    name, module = weighted[ran[-1]]
    with torch.no_grad():
        module.weight.mul_(FACTOR)
    return faulty, name


def _plant_keras(model: Any) -> tuple[Any, str] | None:
    import keras

    if not isinstance(model, keras.Model):
        return None
    faulty = keras.models.clone_model(model)
    faulty.set_weights(model.get_weights())
    kernels = [layer for layer in faulty.layers if getattr(layer, "kernel", None) is not None]
    if not kernels:
        return None
    layer = kernels[-1]
    layer.kernel.assign(layer.kernel.numpy() * FACTOR)
    return faulty, layer.name


def _plant_sklearn(model: Any) -> tuple[Any, str] | None:
    faulty = copy.deepcopy(model)
    step = faulty
    name = type(faulty).__name__
    while hasattr(step, "steps"):  # a pipeline: its final estimator
        name, step = step.steps[-1]
    for attribute in ("coef_", "coefs_"):
        value = getattr(step, attribute, None)
        if value is None:
            continue
        if attribute == "coefs_":  # an MLP: its output layer
            value[-1] *= FACTOR
        else:
            setattr(step, attribute, value * FACTOR)
        return faulty, f"{name}.{attribute}"
    return None


def plant(model: Any, example_inputs: Any = None) -> tuple[Any, str] | None:
    """A faulty copy of ``model`` and the layer changed, or None when nothing can be scaled.

    A torch model is run once on ``example_inputs`` to find its last executed layer.
    """
    module = type(model).__module__.split(".")[0]
    if module in ("torch", "transformers") or hasattr(model, "named_modules"):
        return _plant_torch(model, example_inputs)
    if module in ("keras", "tf_keras", "tensorflow") or hasattr(model, "get_weights"):
        return _plant_keras(model)
    return _plant_sklearn(model)


def judge(model: Any, conversion: Any, case: Any, batch_sizes: tuple[int, ...],
          example_inputs: Any = None) -> dict[str, Any]:
    """Plant the fault and record both verdicts on it."""
    import interop
    from interop.api import validate

    planted = plant(model, example_inputs)
    if planted is None:
        return {"layer": None, "caught": None,
                "reason": "no floating-point weight tensor to scale in this model"}
    faulty, layer = planted
    try:
        validate(faulty, conversion, case.tolerance)
        convert_failed = False
    except interop.ConversionError:
        convert_failed = True
    report = interop.check(faulty, conversion, batch_sizes=batch_sizes, latency=False,
                           case=case.name, case_tolerance=case.tolerance)
    worst = max((p.get("rel_rms_error") or 0.0 for p in report.parity), default=None)
    return {
        "layer": layer,
        "factor": FACTOR,
        "caught": not report.passed,
        "convert_failed": convert_failed,
        "agree": convert_failed == (not report.passed),
        "rel_rms_error": worst,
        "reason": "; ".join(report.failures[:1]),
    }
