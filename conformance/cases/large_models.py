"""Larger real architectures: keras.applications, ResNet- and transformer-style torch nets,
and gradient-boosted trees on scikit-learn's bundled datasets. Random weights, fixed seeds.

Untrained networks are fine for parity: the converted model must compute the same function
whatever the weights are. Batch-norm statistics are randomised so that a converter that
drops or misplaces a normalisation cannot pass by accident.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conformance.cases import Case

BATCH = 8


def _keras_batchnorm_random(model: Any, seed: int) -> None:
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                rng.uniform(-0.3, 0.3, beta.shape).astype("float32"),
                rng.uniform(-0.5, 0.5, mean.shape).astype("float32"),
                rng.uniform(0.5, 2.0, var.shape).astype("float32"),
            ])


def keras_mobilenet_v2() -> tuple[Any, Any]:
    import keras

    keras.utils.set_random_seed(100)
    model = keras.applications.MobileNetV2(
        input_shape=(64, 64, 3), alpha=0.35, weights=None, classes=10,
        classifier_activation=None,
    )
    _keras_batchnorm_random(model, 100)
    x = np.random.default_rng(100).uniform(-1, 1, (BATCH, 64, 64, 3)).astype("float32")
    return model, x


def keras_resnet_style() -> tuple[Any, Any]:
    """A ResNet-style Keras network: stem, three stages of two residual blocks, global pool."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(101)

    def block(x: Any, filters: int, stride: int) -> Any:
        shortcut = x
        y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
        y = layers.BatchNormalization()(y)
        y = layers.ReLU()(y)
        y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
        y = layers.BatchNormalization()(y)
        if stride != 1 or shortcut.shape[-1] != filters:
            shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False)(shortcut)
            shortcut = layers.BatchNormalization()(shortcut)
        return layers.ReLU()(layers.Add()([y, shortcut]))

    inputs = keras.Input(shape=(32, 32, 3), name="image")
    x = layers.Conv2D(16, 3, padding="same", use_bias=False)(inputs)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    for filters, stride in ((16, 1), (16, 1), (32, 2), (32, 1), (64, 2), (64, 1)):
        x = block(x, filters, stride)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(10, name="logits")(x)
    model = keras.Model(inputs, outputs, name="resnet_style")
    _keras_batchnorm_random(model, 101)
    x = np.random.default_rng(101).normal(size=(BATCH, 32, 32, 3)).astype("float32")
    return model, x


def torch_resnet18_style() -> tuple[Any, Any]:
    """ResNet-18 layout (four stages of two basic blocks), narrow widths, 32x32 inputs."""
    import torch
    from torch import nn

    torch.manual_seed(102)

    class BasicBlock(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.down = (
                nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                if stride != 1 or cin != cout
                else nn.Identity()
            )

        def forward(self, x: Any) -> Any:
            y = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(y)) + self.down(x))

    class ResNet(nn.Module):
        def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128), classes: int = 10):
            super().__init__()
            self.stem = nn.Sequential(
                nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()
            )
            stages, cin = [], widths[0]
            for i, w in enumerate(widths):
                stride = 1 if i == 0 else 2
                stages += [BasicBlock(cin, w, stride), BasicBlock(w, w, 1)]
                cin = w
            self.stages = nn.Sequential(*stages)
            self.head = nn.Linear(cin, classes)

        def forward(self, x: Any) -> Any:
            x = self.stages(self.stem(x))
            return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))

    model = ResNet().eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    return model, (torch.randn(BATCH, 3, 32, 32),)


VOCAB, SEQ = 100, 16


def torch_transformer_classifier() -> tuple[Any, Any]:
    """Token embedding + learned positions + 4-layer TransformerEncoder + mean-pool head."""
    import torch
    from torch import nn

    torch.manual_seed(103)

    class TextClassifier(nn.Module):
        def __init__(self, d_model: int = 64, heads: int = 4, layers: int = 4) -> None:
            super().__init__()
            self.embed = nn.Embedding(VOCAB, d_model)
            self.position = nn.Parameter(torch.randn(1, SEQ, d_model) * 0.1)
            layer = nn.TransformerEncoderLayer(
                d_model, heads, dim_feedforward=128, dropout=0.1, batch_first=True,
                activation="gelu",
            )
            self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, 4)

        def forward(self, token_ids: Any) -> Any:
            h = self.encoder(self.embed(token_ids) + self.position)
            return self.head(self.norm(h.mean(dim=1)))

    tokens = torch.randint(0, VOCAB, (BATCH, SEQ), dtype=torch.int64)
    return TextClassifier().eval(), (tokens,)


def _bundled(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    loader = {"breast_cancer": datasets.load_breast_cancer, "diabetes": datasets.load_diabetes}
    X, y = loader[name](return_X_y=True)
    return X.astype(np.float32), y


def sk_gradient_boosting_breast_cancer() -> tuple[Any, Any]:
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = _bundled("breast_cancer")
    model = GradientBoostingClassifier(n_estimators=200, max_depth=3, random_state=104)
    model.fit(X, y)
    return model, X[np.random.default_rng(104).choice(len(X), BATCH, replace=False)]


def sk_hist_gradient_boosting_diabetes() -> tuple[Any, Any]:
    from sklearn.ensemble import HistGradientBoostingRegressor

    X, y = _bundled("diabetes")
    model = HistGradientBoostingRegressor(max_iter=200, random_state=105).fit(X, y)
    return model, X[np.random.default_rng(105).choice(len(X), BATCH, replace=False)]


def sk_random_forest_breast_cancer() -> tuple[Any, Any]:
    from sklearn.ensemble import RandomForestClassifier

    X, y = _bundled("breast_cancer")
    model = RandomForestClassifier(n_estimators=300, max_depth=10, random_state=106).fit(X, y)
    return model, X[np.random.default_rng(106).choice(len(X), BATCH, replace=False)]


CASES: list[Case] = [
    Case("keras_mobilenet_v2", "tensorflow", keras_mobilenet_v2,
         tags=("cnn", "depthwise", "batchnorm", "keras.applications", "large")),
    Case("keras_resnet_style", "tensorflow", keras_resnet_style,
         tags=("cnn", "residual", "batchnorm", "large")),
    Case("torch_resnet18_style", "torch", torch_resnet18_style,
         tags=("cnn", "residual", "batchnorm", "large")),
    Case("torch_transformer_classifier", "torch", torch_transformer_classifier,
         tags=("attention", "embedding", "int64", "large"),
         notes=f"token ids must lie in [0, {VOCAB})"),
    Case("sk_gradient_boosting_breast_cancer", "sklearn", sk_gradient_boosting_breast_cancer,
         tags=("tree", "ensemble", "classifier", "large")),
    Case("sk_hist_gradient_boosting_diabetes", "sklearn", sk_hist_gradient_boosting_diabetes,
         tags=("tree", "ensemble", "regressor", "large")),
    Case("sk_random_forest_breast_cancer", "sklearn", sk_random_forest_breast_cancer,
         tags=("tree", "ensemble", "classifier", "large")),
]
