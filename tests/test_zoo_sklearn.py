"""The zoo's scikit-learn SMOKE cases convert to each target they do not skip and pass check;
the skipped targets are refused with the reason the case states."""

from __future__ import annotations

import pytest

pytest.importorskip("skl2onnx", reason="the sklearn extra is not installed")

import interop  # noqa: E402
from conformance.cases import zoo_sklearn  # noqa: E402

SMOKE = [c for c in zoo_sklearn.CASES if c.name in zoo_sklearn.SMOKE]


def test_smoke_names_exist() -> None:
    names = {c.name for c in zoo_sklearn.CASES}
    assert set(zoo_sklearn.SMOKE) <= names
    assert len(names) == len(zoo_sklearn.CASES)


@pytest.mark.parametrize("case", SMOKE, ids=lambda c: c.name)
@pytest.mark.parametrize("target", ["onnx", "coreml"])
def test_smoke_case(case: zoo_sklearn.Case, target: str) -> None:
    assert case.framework == "sklearn", "SMOKE holds scikit-learn models only (see its comment)"
    model, example = case.build()
    if target in case.skip:
        with pytest.raises(interop.InteropError) as info:
            interop.convert(model, to=target, example_inputs=example)
        if case.framework == "sklearn":
            assert str(info.value).startswith("Core ML has no text vectorizer spec")
        return
    conversion = interop.convert(model, to=target, example_inputs=example)
    report = interop.check(model, conversion, latency=False)
    assert report.passed, report.to_dict()["parity"]
