"""PyTorch conformance cases: small real models with fixed seeds, built at batch size 8."""

from __future__ import annotations

from typing import Any

from conformance.cases import Case

BATCH = 8


def _seeded(seed: int) -> Any:
    import torch

    torch.manual_seed(seed)
    return torch


def _randomize_batchnorm(model: Any, torch: Any) -> None:
    """Give every BatchNorm non-trivial running statistics and affine terms.

    A freshly built BatchNorm in eval mode is the identity (mean 0, var 1, weight 1, bias 0),
    which would let a converter that drops or mis-orders it pass unnoticed.
    """
    for module in model.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            with torch.no_grad():
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.3, 0.3)


def build_mlp() -> tuple[Any, Any]:
    torch = _seeded(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(16, 32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, 32),
        torch.nn.GELU(),
        torch.nn.Dropout(0.1),
        torch.nn.Linear(32, 5),
    )
    return model.eval(), (torch.randn(BATCH, 16),)


def build_cnn_batchnorm() -> tuple[Any, Any]:
    torch = _seeded(1)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding=1),
        torch.nn.BatchNorm2d(16),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(16, 10),
    )
    _randomize_batchnorm(model, torch)
    return model.eval(), (torch.randn(BATCH, 3, 16, 16),)


def build_two_in_two_out() -> tuple[Any, Any]:
    torch = _seeded(2)

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = torch.nn.Linear(12, 16)
            self.context = torch.nn.Linear(4, 16)
            self.head_a = torch.nn.Linear(16, 3)
            self.head_b = torch.nn.Linear(16, 1)

        def forward(self, features: Any, context: Any) -> tuple[Any, Any]:
            hidden = torch.tanh(self.features(features) + self.context(context))
            return torch.softmax(self.head_a(hidden), dim=-1), self.head_b(hidden) * 2.0

    return Model().eval(), (torch.randn(BATCH, 12), torch.randn(BATCH, 4))


def _recurrent(torch: Any, cell: str) -> Any:
    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layer = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
            self.rnn = layer(6, 12, num_layers=2, batch_first=True)
            self.head = torch.nn.Linear(12, 4)

        def forward(self, sequence: Any) -> Any:
            states, _ = self.rnn(sequence)
            return self.head(states[:, -1])

    return Model()


def build_lstm() -> tuple[Any, Any]:
    torch = _seeded(3)
    return _recurrent(torch, "lstm").eval(), (torch.randn(BATCH, 5, 6),)


def build_gru() -> tuple[Any, Any]:
    torch = _seeded(4)
    return _recurrent(torch, "gru").eval(), (torch.randn(BATCH, 5, 6),)


def build_transformer_encoder() -> tuple[Any, Any]:
    torch = _seeded(5)
    model = torch.nn.TransformerEncoderLayer(
        d_model=16, nhead=4, dim_feedforward=32, dropout=0.0, batch_first=True
    )
    return model.eval(), (torch.randn(BATCH, 7, 16),)


def build_self_attention() -> tuple[Any, Any]:
    torch = _seeded(6)

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attention = torch.nn.MultiheadAttention(16, 2, batch_first=True)
            self.norm = torch.nn.LayerNorm(16)

        def forward(self, tokens: Any) -> tuple[Any, Any]:
            attended, weights = self.attention(tokens, tokens, tokens)
            return self.norm(tokens + attended), weights

    return Model().eval(), (torch.randn(BATCH, 6, 16),)


def build_resnet_small() -> tuple[Any, Any]:
    torch = _seeded(7)

    class Block(torch.nn.Module):
        def __init__(self, channels_in: int, channels_out: int, stride: int) -> None:
            super().__init__()
            self.conv1 = torch.nn.Conv2d(channels_in, channels_out, 3, stride, 1, bias=False)
            self.bn1 = torch.nn.BatchNorm2d(channels_out)
            self.conv2 = torch.nn.Conv2d(channels_out, channels_out, 3, 1, 1, bias=False)
            self.bn2 = torch.nn.BatchNorm2d(channels_out)
            self.shortcut = torch.nn.Identity()
            if stride != 1 or channels_in != channels_out:
                self.shortcut = torch.nn.Sequential(
                    torch.nn.Conv2d(channels_in, channels_out, 1, stride, bias=False),
                    torch.nn.BatchNorm2d(channels_out),
                )

        def forward(self, x: Any) -> Any:
            y = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))

    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, 1, 1, bias=False),
        torch.nn.BatchNorm2d(16),
        torch.nn.ReLU(),
        Block(16, 16, 1),
        Block(16, 32, 2),
        Block(32, 64, 2),
        Block(64, 64, 1),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(64, 10),
    )
    _randomize_batchnorm(model, torch)
    return model.eval(), (torch.randn(BATCH, 3, 32, 32),)


def build_depthwise_dilated() -> tuple[Any, Any]:
    torch = _seeded(8)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(4, 4, 3, padding=1, groups=4),  # depthwise
        torch.nn.Conv2d(4, 12, 1),  # pointwise
        torch.nn.Hardswish(),
        torch.nn.Conv2d(12, 12, 3, padding=2, dilation=2),
        torch.nn.BatchNorm2d(12),
        torch.nn.ReLU6(),
        torch.nn.Conv2d(12, 6, 3, stride=2, padding=1),
        torch.nn.Flatten(),
    )
    _randomize_batchnorm(model, torch)
    return model.eval(), (torch.randn(BATCH, 4, 12, 12),)


VOCAB = 50


def build_embedding() -> tuple[Any, Any]:
    torch = _seeded(9)

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(VOCAB, 8)
            self.head = torch.nn.Linear(8, 3)

        def forward(self, token_ids: Any) -> Any:
            return self.head(self.embed(token_ids).mean(dim=1))

    token_ids = torch.randint(0, VOCAB, (BATCH, 5), dtype=torch.int64)
    return Model().eval(), (token_ids,)


CASES: list[Case] = [
    Case("torch_mlp", "torch", build_mlp, tags=("mlp",)),
    Case("torch_cnn_batchnorm", "torch", build_cnn_batchnorm, tags=("cnn", "batchnorm")),
    Case("torch_two_in_two_out", "torch", build_two_in_two_out, tags=("multi-io",)),
    Case("torch_lstm", "torch", build_lstm, tags=("rnn", "lstm")),
    Case("torch_gru", "torch", build_gru, tags=("rnn", "gru")),
    Case(
        "torch_transformer_encoder", "torch", build_transformer_encoder, tags=("attention",)
    ),
    Case(
        "torch_self_attention",
        "torch",
        build_self_attention,
        tags=("attention", "multi-io"),
    ),
    Case(
        "torch_resnet_small",
        "torch",
        build_resnet_small,
        tags=("cnn", "batchnorm", "residual", "large"),
    ),
    Case(
        "torch_depthwise_dilated",
        "torch",
        build_depthwise_dilated,
        tags=("cnn", "depthwise", "dilated", "batchnorm"),
    ),
    Case(
        "torch_embedding",
        "torch",
        build_embedding,
        tags=("embedding", "int64"),
        notes=f"token ids must lie in [0, {VOCAB}); other integers index out of range",
    ),
]
