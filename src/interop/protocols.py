"""The plugin contract: what a converter and a runtime must provide, as typing Protocols.

The registry checks every entry point against these when it loads it (not when it is
called), so a broken plugin is reported with its distribution before it can fail a job.
Plugins get them, and the helpers they may use, from :mod:`interop.sdk`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

from interop.types import Conversion, TensorSpec, Tolerance

PLUGIN_API_VERSION = 1
"""The contract version this interop implements. A plugin declares the version it was
written for as ``api_version`` (default 1); one newer than this is refused as broken."""


@runtime_checkable
class ConverterProtocol(Protocol):
    """A converter from one source framework to one target format.

    Required: the attributes and methods below. Optional capabilities, looked up with
    ``getattr`` and a default:

    - ``priority: int = 0``: the higher wins when two converters serve one pair;
    - ``api_version: int = 1``: the plugin contract version it was written for;
    - ``intermediates(model, conversion, feed) -> dict``: per-layer values for diagnosis.
    """

    name: str
    source: str
    target: str
    options: Mapping[str, Any]
    default_tolerance: Tolerance

    def available(self) -> tuple[bool, str]: ...

    def convert(self, model: Any, example_inputs: Any = None, **options: Any) -> Conversion: ...


@runtime_checkable
class RuntimeProtocol(Protocol):
    """A way to run one model format (or an original framework), as a context manager.

    Constructed as ``cls(model, conversion=..., threads=...)``; loads in ``__enter__``, once.
    ``available`` is a static or class method. Optional: ``name`` (shown in reports),
    ``measures_latency: bool = True`` (False for emulators whose speed means nothing), and
    ``api_version``.
    """

    def __enter__(self) -> Any: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    @classmethod
    def available(cls) -> tuple[bool, str]: ...

    def input_specs(self) -> tuple[TensorSpec, ...]: ...

    def run(self, feed: dict[str, Any]) -> dict[str, Any]: ...


def protocol_members(protocol: type) -> tuple[list[str], list[str]]:
    """(attributes, methods) a Protocol requires, read from its own annotations and body."""
    attributes = sorted(getattr(protocol, "__annotations__", {}))
    methods = sorted(
        name
        for name, value in vars(protocol).items()
        if callable(value) or isinstance(value, (classmethod, staticmethod))
        if not name.startswith("_") or name in ("__enter__", "__exit__")
    )
    return attributes, methods


def missing_members(obj: Any, protocol: type) -> list[str]:
    """The required members of ``protocol`` that ``obj`` (an instance or a class) lacks."""
    attributes, methods = protocol_members(protocol)
    missing = [a for a in attributes if not hasattr(obj, a)]
    missing += [m for m in methods if not callable(getattr(obj, m, None))]
    return missing


def api_version_problem(obj: Any) -> str:
    """Why ``obj``'s declared plugin API version cannot be served, or ``""``."""
    version = getattr(obj, "api_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return f"api_version must be a positive int, not {version!r}"
    if version > PLUGIN_API_VERSION:
        return (
            f"written for plugin API {version}, but this interop implements "
            f"{PLUGIN_API_VERSION}; upgrade interop"
        )
    return ""


__all__ = [
    "PLUGIN_API_VERSION",
    "ConverterProtocol",
    "RuntimeProtocol",
    "api_version_problem",
    "missing_members",
    "protocol_members",
]
