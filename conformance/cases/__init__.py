"""Conformance cases: small and large real models built in code with fixed seeds.

Each family module (``torch_models``, ``keras_models``, ``sklearn_models``) defines
``CASES: list[Case]``. Tests under tests/ and the suite runner (``python -m conformance``)
both use them, through the public API only.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FAMILIES = ("torch_models", "keras_models", "sklearn_models", "large_models")
# The zoo tier: real architectures (Hugging Face transformers, Keras Applications, scikit-learn
# and boosting models on datasets that ship with scikit-learn), random weights, nothing
# downloaded. Each module also names a SMOKE subset (one model per architecture family or
# more) that `make test` runs; `python -m conformance --tier zoo` and `nox -s zoo` run all.
ZOO_FAMILIES = ("zoo_hf", "zoo_keras", "zoo_sklearn")
TIERS = {"default": FAMILIES, "zoo": ZOO_FAMILIES}


@dataclass(frozen=True)
class Case:
    """One model: ``build()`` returns ``(model, example_inputs)`` at batch size 8.

    ``tags`` describe it ("multi-io", "rnn", "attention", "batchnorm", "pipeline", "large",
    "dataframe", ...). ``tolerance`` overrides the profile for this case ({"atol", "rtol"}),
    with the reason in ``notes``. ``skip`` maps a target to the reason it cannot convert.
    """

    name: str
    framework: str
    build: Callable[[], tuple[Any, Any]]
    tags: tuple[str, ...] = ()
    tolerance: dict[str, float] | None = None
    skip: dict[str, str] = field(default_factory=dict)
    notes: str = ""


def all_cases(families: tuple[str, ...] = FAMILIES) -> list[Case]:
    cases: list[Case] = []
    for family in families:
        module = importlib.import_module(f"conformance.cases.{family}")
        cases.extend(module.CASES)
    return cases


def smoke_cases(families: tuple[str, ...] = ZOO_FAMILIES) -> list[Case]:
    """The SMOKE subset of each zoo family, in the family's own order."""
    cases: list[Case] = []
    for family in families:
        module = importlib.import_module(f"conformance.cases.{family}")
        names = set(module.SMOKE)
        cases.extend(c for c in module.CASES if c.name in names)
    return cases


def by_name(name: str) -> Case:
    for case in all_cases(FAMILIES + ZOO_FAMILIES):
        if case.name == name:
            return case
    raise KeyError(name)
