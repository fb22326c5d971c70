"""The converter base class: declared options, availability from installed modules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from interop.errors import InvalidInput
from interop.frameworks.locks import concurrency_error
from interop.types import FP32_TOLERANCE, Conversion, Tolerance
from interop.util import modules_missing


class Converter:
    """Base for converters. Subclasses set the class attributes and implement ``_convert``.

    ``options`` lists every keyword the converter accepts, with its default; an unknown
    keyword is an error that lists the known ones.
    """

    name: ClassVar[str] = ""
    source: ClassVar[str] = ""
    target: ClassVar[str] = ""
    priority: ClassVar[int] = 0
    options: ClassVar[Mapping[str, Any]] = {}
    default_tolerance: ClassVar[Tolerance] = FP32_TOLERANCE
    requires: ClassVar[tuple[str, ...]] = ()
    install_hint: ClassVar[str] = ""

    def available(self) -> tuple[bool, str]:
        missing = modules_missing(self.requires)
        if missing:
            hint = self.install_hint or "pip install " + " ".join(missing)
            return False, f"{', '.join(missing)} not installed; {hint}"
        return True, ""

    def resolve_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            raise InvalidInput(
                f"unknown option{'s' if len(unknown) > 1 else ''} for {self.name}: "
                + ", ".join(unknown),
                "known options: " + (", ".join(sorted(self.options)) or "none"),
            )
        merged = dict(self.options)
        merged.update(given)
        return merged

    def convert(self, model: Any, example_inputs: Any = None, **options: Any) -> Conversion:
        resolved = self.resolve_options(options)
        try:
            return self._convert(model, example_inputs, resolved)
        except Exception as exc:
            # a failure only another thread in a library's global state causes is said so
            shared = concurrency_error(exc, self.name)
            if shared is None or shared is exc:
                raise
            raise shared from exc

    def _convert(self, model: Any, example_inputs: Any, options: dict[str, Any]) -> Conversion:
        raise NotImplementedError
