"""Factories for the CLI tests: good ones build tiny seeded models, bad ones fail on purpose.

Named on the command line as ``tests.bad_inputs.factories:NAME`` (run from the repo root).
"""

from __future__ import annotations

import sys
from typing import Any

NOT_CALLABLE = 42


def tiny_torch() -> Any:
    """A seeded 4 -> 3 MLP and its example input (batch 8)."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    return model.eval(), (torch.randn(8, 4),)


def tiny_torch_no_inputs() -> Any:
    """The same MLP without example inputs (the CLI must be given --input or --sample)."""
    return tiny_torch()[0]


def wide_torch() -> Any:
    """A 32 -> 256 -> 256 -> 10 MLP: long dot products, so float32 rounding differs by runtime."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(32, 256), torch.nn.Tanh(), torch.nn.Linear(256, 256), torch.nn.Tanh(),
        torch.nn.Linear(256, 10),
    )
    return model.eval(), (torch.randn(8, 32),)


def slow_torch() -> Any:
    """A wider MLP, so that a conversion lasts long enough to be interrupted."""
    import torch

    torch.manual_seed(0)
    layers: list[Any] = []
    for _ in range(24):
        layers += [torch.nn.Linear(256, 256), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers).eval(), (torch.randn(8, 256),)


def data_dependent() -> Any:
    """Python control flow on tensor values: torch.export cannot trace it (conversion fails)."""
    import torch

    class Branchy(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            if x.sum().item() > 0:
                return x * 2
            return x - 1

    return Branchy().eval(), (torch.ones(2, 4),)


def raises() -> Any:
    raise ValueError("the factory was asked to fail")


def returns_none() -> Any:
    return None


def returns_three() -> Any:
    return 1, 2, 3


def returns_string() -> Any:
    return "not a model"


def exits() -> Any:
    sys.exit(3)


def needs_missing_module() -> Any:
    import interop_no_such_module  # noqa: F401

    return None
