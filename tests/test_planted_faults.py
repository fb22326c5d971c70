"""conformance.planted: a 1 % fault in the head layer fails convert and check alike."""

from __future__ import annotations

import numpy as np
import pytest

import interop
from conformance import planted
from conformance.cases import Case


def _case(name: str) -> Case:
    return Case(name=name, framework="test", build=lambda: (None, None))


def test_torch_head_fault_is_caught_by_both_verdicts() -> None:
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    model.eval()
    example = (torch.randn(8, 8),)
    conv = interop.convert(model, to="onnx", example_inputs=example)
    faulty, layer = planted.plant(model, example)
    assert layer == "2"
    assert torch.equal(faulty[2].weight, model[2].weight * planted.FACTOR)
    assert torch.equal(faulty[0].weight, model[0].weight)  # only the head changed
    result = planted.judge(model, conv, _case("mlp"), (1, 8), example)
    assert result["caught"] is True and result["convert_failed"] is True and result["agree"]
    assert 1e-3 < result["rel_rms_error"] < 0.02  # about 1 %, less or more where bias shifts it


def test_an_encoder_ending_in_a_layer_norm_gets_the_fault_in_that_norm() -> None:
    import torch

    class Encoder(torch.nn.Module):  # the final norm is registered first, run last
        def __init__(self) -> None:
            super().__init__()
            self.final_norm = torch.nn.LayerNorm(8)
            self.ffn = torch.nn.Linear(8, 8)

        def forward(self, x):
            return self.final_norm(x + self.ffn(x))

    torch.manual_seed(0)
    model = Encoder().eval()
    faulty, layer = planted.plant(model, (torch.randn(4, 8),))
    assert layer == "final_norm"
    assert torch.equal(faulty.final_norm.weight, model.final_norm.weight * planted.FACTOR)


def test_keras_and_sklearn_faults_are_planted_in_their_heads() -> None:
    import keras
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    keras.utils.set_random_seed(0)
    dense = keras.Sequential([keras.Input((6,)), keras.layers.Dense(12, activation="relu"),
                              keras.layers.Dense(3, name="head")])
    faulty, layer = planted.plant(dense)
    assert layer == "head"
    np.testing.assert_allclose(faulty.get_layer("head").kernel.numpy(),
                               dense.get_layer("head").kernel.numpy() * planted.FACTOR, rtol=1e-6)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype(np.float32)
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, (x[:, 0] > 0).astype(int))
    faulty, layer = planted.plant(pipe)
    assert layer == "logisticregression.coef_"
    np.testing.assert_allclose(faulty[-1].coef_, pipe[-1].coef_ * planted.FACTOR)
    conv = interop.convert(pipe, to="onnx", example_inputs=x)
    result = planted.judge(pipe, conv, _case("pipe"), (1, 8))
    assert result["caught"] is True and result["agree"] is True


@pytest.mark.parametrize("model", [object()])
def test_a_model_without_weights_is_reported_not_planted(model: object) -> None:
    assert planted._plant_sklearn(model) is None
