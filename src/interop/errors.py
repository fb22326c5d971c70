"""The few exception types interop raises; each carries a one-line message and a hint."""

from __future__ import annotations

from typing import Any


def first_line(exc: BaseException) -> str:
    """``Type: first line of the message``: how a foreign exception is quoted in ours."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


class InteropError(Exception):
    """Base of every error interop raises on purpose.

    ``message`` says what went wrong in one line; ``hint`` says what to do about it.
    """

    exit_code = 2

    def __init__(self, message: str, hint: str = "") -> None:
        self.message = message.strip()
        self.hint = hint.strip()
        super().__init__(self.message if not self.hint else f"{self.message}\n{self.hint}")


class InvalidInput(InteropError):
    """The caller passed something interop cannot use (bad option, bad file, bad shape)."""

    exit_code = 2


class ConversionError(InteropError):
    """A converter failed, produced an invalid model, or a model that computes other numbers.

    Where the converter can tell, ``op`` is the op it could not convert, ``layer`` the
    module or layer path that holds it and ``source_location`` the ``file:line`` in the
    user's model code; each is None otherwise.
    """

    exit_code = 3

    fp16_sensitivity: float | None = None
    """Set by convert's validation when an fp16 program failed parity on a model that fp16
    rounding of its inputs alone moves by this much (relative RMS)."""

    def __init__(
        self,
        message: str,
        hint: str = "",
        *,
        op: str | None = None,
        layer: str | None = None,
        source_location: str | None = None,
    ) -> None:
        self.op = op
        self.layer = layer
        self.source_location = source_location
        super().__init__(message, hint)

    def where(self) -> str:
        """``op X in layer Y at file:line`` for what is known, or ``""``."""
        parts = []
        if self.op:
            parts.append(f"op {self.op}")
        if self.layer is not None:
            parts.append(f"in layer {self.layer or '(the model itself)'}")
        if self.source_location:
            parts.append(f"at {self.source_location}")
        return " ".join(parts)


class ConverterNotFound(ConversionError):
    """No registered converter handles this (source, target) or the requested name."""

    exit_code = 3


class MissingDependency(InteropError):
    """A framework or converter library needed for this job is not installed."""

    exit_code = 4

    def __init__(self, message: str, hint: str = "", *, package: str = "") -> None:
        self.package = package
        super().__init__(message, hint)


class ParityError(InteropError):
    """A converted model's outputs differ from the original beyond tolerance."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "", *, report: Any = None) -> None:
        self.report = report
        super().__init__(message, hint)


__all__ = [
    "ConversionError",
    "ConverterNotFound",
    "InteropError",
    "InvalidInput",
    "MissingDependency",
    "ParityError",
]


class PluginError(InteropError):
    """A plugin failed to load or broke the protocol while strict plugin mode was on."""

    exit_code = 4


__all__ += ["PluginError", "first_line"]
