"""Converter and runtime registries fed by entry points: names first, imports on first use.

Built-ins are declared through interop's own entry points, exactly as a plugin's are. A
plugin that fails to import or breaks the protocol is recorded as broken (with its
distribution and the cause) and every other entry keeps working, unless
``INTEROP_STRICT_PLUGINS=1`` makes that fatal.

Environment:
    INTEROP_STRICT_PLUGINS=1           a broken plugin raises PluginError
    INTEROP_DISABLE_PLUGIN_AUTOLOAD=1  only interop's own entries are discovered
    INTEROP_BLOCK_PLUGINS=a,b          skip entries with these names or distributions
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from interop.errors import ConverterNotFound, InvalidInput, MissingDependency, PluginError
from interop.protocols import (
    ConverterProtocol,
    RuntimeProtocol,
    api_version_problem,
    missing_members,
)
from interop.types import ConverterInfo, RuntimeInfo
from interop.util import import_ref

CONVERTER_GROUP = "interop.converters"
RUNTIME_GROUP = "interop.runtimes"
OWN_DISTRIBUTION = "interop"



def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _blocked() -> set[str]:
    raw = os.environ.get("INTEROP_BLOCK_PLUGINS", "")
    return {part.strip() for part in raw.split(",") if part.strip()}


@dataclass
class Entry:
    """One registered name: where it comes from, and once loaded, the object or the failure."""

    name: str
    value: str | None
    distribution: str
    obj: Any = None
    error: str = ""

    @property
    def broken(self) -> bool:
        return bool(self.error)


class Registry:
    """One entry-point group's names, loaded lazily and checked against a protocol."""

    def __init__(self, group: str, check: Callable[[str, Any], str]) -> None:
        self.group = group
        self._check = check
        self._entries: dict[str, Entry] = {}
        self._discovered = False
        self._lock = threading.RLock()

    # -- discovery -------------------------------------------------------------------------
    def _discover(self) -> None:
        if self._discovered:
            return
        with self._lock:
            if self._discovered:
                return
            own_only = _flag("INTEROP_DISABLE_PLUGIN_AUTOLOAD")
            blocked = _blocked()
            for ep in entry_points(group=self.group):
                dist = ep.dist.name if ep.dist is not None else "(unknown)"
                if own_only and dist != OWN_DISTRIBUTION:
                    continue
                if dist != OWN_DISTRIBUTION and (ep.name in blocked or dist in blocked):
                    continue
                if ep.name in self._entries:
                    existing = self._entries[ep.name]
                    if existing.distribution == dist:  # the same install seen twice on sys.path
                        continue
                    self._entries[ep.name] = Entry(
                        ep.name,
                        None,
                        dist,
                        error=f"the name {ep.name!r} is also registered by "
                        f"{existing.distribution}; uninstall one of them",
                    )
                    continue
                self._entries[ep.name] = Entry(ep.name, ep.value, dist)
            self._discovered = True

    def refresh(self) -> None:
        """Forget what was discovered (not what was registered in code) and read again."""
        with self._lock:
            self._entries = {
                k: e for k, e in self._entries.items() if e.distribution == "(registered)"
            }
            self._discovered = False

    def names(self) -> list[str]:
        self._discover()
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        self._discover()
        return [self._entries[n] for n in sorted(self._entries)]

    def register(self, name: str, obj_or_ref: Any, clobber: bool = False) -> None:
        """Register an object or a ``"module:attr"`` reference under ``name`` from code."""
        self._discover()
        with self._lock:
            if name in self._entries and not clobber:
                raise InvalidInput(
                    f"{name!r} is already registered by {self._entries[name].distribution}",
                    "pass clobber=True to replace it",
                )
            if isinstance(obj_or_ref, str):
                self._entries[name] = Entry(name, obj_or_ref, "(registered)")
            else:
                entry = Entry(name, None, "(registered)")
                self._set_loaded(entry, obj_or_ref)
                self._entries[name] = entry

    def unregister(self, name: str) -> None:
        self._discover()
        with self._lock:
            self._entries.pop(name, None)

    # -- loading ---------------------------------------------------------------------------
    def _set_loaded(self, entry: Entry, target: Any) -> None:
        try:
            obj = target() if isinstance(target, type) and self.group == CONVERTER_GROUP else target
        except Exception as exc:
            entry.error = f"could not be instantiated: {type(exc).__name__}: {exc}"
            return
        problem = self._check(entry.name, obj)
        if problem:
            entry.error = problem
        else:
            entry.obj = obj

    def load(self, name: str) -> Entry:
        """Import the entry on first use; record (or in strict mode raise) any failure."""
        self._discover()
        entry = self._entries.get(name)
        if entry is None:
            raise KeyError(name)
        with self._lock:
            if entry.obj is None and not entry.error and entry.value:
                try:
                    target = import_ref(entry.value)
                except BaseException as exc:  # a plugin's import may raise anything
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    entry.error = f"failed to import {entry.value}: {type(exc).__name__}: {exc}"
                else:
                    self._set_loaded(entry, target)
        if entry.error and _flag("INTEROP_STRICT_PLUGINS"):
            raise PluginError(
                f"plugin {entry.name!r} from {entry.distribution} is broken: {entry.error}",
                "fix or uninstall the plugin, or unset INTEROP_STRICT_PLUGINS",
            )
        return entry

    def load_all(self) -> list[Entry]:
        return [self.load(name) for name in self.names()]


def _check_converter(name: str, obj: Any) -> str:
    missing = missing_members(obj, ConverterProtocol)
    if missing:
        return "does not satisfy the converter protocol: missing " + ", ".join(missing)
    version = api_version_problem(obj)
    if version:
        return version
    parts = name.split(".")
    if len(parts) < 2:
        return f"entry-point name {name!r} is not SOURCE.TARGET[.variant]"
    if (obj.source, obj.target) != (parts[0], parts[1]):
        return (
            f"entry-point name {name!r} does not match the converter's "
            f"source/target {obj.source}.{obj.target}"
        )
    return ""


def _check_runtime(name: str, obj: Any) -> str:
    if not isinstance(obj, type):
        return "a runtime entry point must name a class"
    missing = missing_members(obj, RuntimeProtocol)
    if missing:
        return "does not satisfy the runtime protocol: missing " + ", ".join(missing)
    return api_version_problem(obj)


CONVERTERS = Registry(CONVERTER_GROUP, _check_converter)
RUNTIMES = Registry(RUNTIME_GROUP, _check_runtime)


def _available(obj: Any) -> tuple[bool, str]:
    try:
        ok, reason = obj.available()
    except Exception as exc:
        return False, f"available() raised {type(exc).__name__}: {exc}"
    return bool(ok), str(reason or "")


def _split(name: str) -> tuple[str, str]:
    parts = name.split(".")
    return (parts[0], parts[1]) if len(parts) >= 2 else (name, "")


def converter_infos() -> list[ConverterInfo]:
    """Every converter, loaded but not run: availability, reason, distribution, priority."""
    infos = []
    for entry in CONVERTERS.load_all():
        source, target = _split(entry.name)
        if entry.broken:
            infos.append(
                ConverterInfo(
                    entry.name,
                    source,
                    target,
                    False,
                    entry.error,
                    entry.distribution,
                    broken=True,
                    value=entry.value or "",
                )
            )
            continue
        ok, reason = _available(entry.obj)
        infos.append(
            ConverterInfo(
                entry.name,
                entry.obj.source,
                entry.obj.target,
                ok,
                reason,
                entry.distribution,
                int(getattr(entry.obj, "priority", 0)),
                value=entry.value or "",
            )
        )
    return infos


def runtime_infos() -> list[RuntimeInfo]:
    infos = []
    for entry in RUNTIMES.load_all():
        if entry.broken:
            infos.append(RuntimeInfo(entry.name, False, entry.error, entry.distribution, True))
            continue
        ok, reason = _available(entry.obj)
        infos.append(
            RuntimeInfo(entry.name, ok, reason, entry.distribution, value=entry.value or "")
        )
    return infos


def known_sources() -> set[str]:
    return {_split(name)[0] for name in CONVERTERS.names()}


def known_targets() -> set[str]:
    return {_split(name)[1] for name in CONVERTERS.names()}


def get_converter(name: str) -> Any:
    """The converter registered as ``name``, ready to use, or a clear error."""
    try:
        entry = CONVERTERS.load(name)
    except KeyError:
        raise ConverterNotFound(
            f"no converter named {name!r}",
            "known converters: " + (", ".join(CONVERTERS.names()) or "none"),
        ) from None
    if entry.broken:
        raise ConverterNotFound(
            f"converter {name!r} from {entry.distribution} is broken: {entry.error}",
            "fix or reinstall that plugin, or choose another converter with converter=",
        )
    ok, reason = _available(entry.obj)
    if not ok:
        raise MissingDependency(f"converter {name!r} is not available: {reason}", _hint(reason))
    return entry.obj


def _hint(reason: str) -> str:
    return reason.split(";", 1)[1].strip() if ";" in reason else "install what it needs"


def resolve(source: str, target: str, name: str | None = None) -> Any:
    """Pick the converter for (source, target): ``name`` wins, then the highest priority."""
    if name:
        conv = get_converter(name)
        if (conv.source, conv.target) != (source, target) and source:
            raise InvalidInput(
                f"converter {name!r} converts {conv.source} to {conv.target}, "
                f"not {source} to {target}",
                "drop converter= or choose one for this source and target",
            )
        return conv
    candidates = [n for n in CONVERTERS.names() if _split(n) == (source, target)]
    if not candidates:
        pairs = sorted(f"{s} -> {t}" for s, t in {_split(n) for n in CONVERTERS.names()})
        raise ConverterNotFound(
            f"no converter from {source} to {target}",
            "converters exist for: "
            + ", ".join(pairs)
            + "; a plugin may add this pair (see docs/plugins.md)",
        )
    usable: list[Any] = []
    reasons: list[str] = []
    for cand in candidates:
        entry = CONVERTERS.load(cand)
        if entry.broken:
            reasons.append(f"{cand} ({entry.distribution}) is broken: {entry.error}")
            continue
        ok, reason = _available(entry.obj)
        if ok:
            usable.append(entry.obj)
        else:
            reasons.append(f"{cand}: {reason}")
    if not usable:
        detail = "; ".join(reasons)
        raise MissingDependency(
            f"no usable converter from {source} to {target}: {detail}",
            _hint(reasons[0]) if reasons else "install the converter's framework",
        )
    usable.sort(key=lambda c: int(getattr(c, "priority", 0)), reverse=True)
    top = usable[0]
    ties = [
        c for c in usable[1:] if int(getattr(c, "priority", 0)) == int(getattr(top, "priority", 0))
    ]
    if ties:
        raise ConverterNotFound(
            f"converters {top.name!r} and {ties[0].name!r} both convert {source} to {target} "
            f"with priority {getattr(top, 'priority', 0)}",
            "choose one with converter=NAME, or block one with INTEROP_BLOCK_PLUGINS",
        )
    return top


def get_runtime(name: str) -> Any:
    """The runtime class registered for the format ``name``."""
    try:
        entry = RUNTIMES.load(name)
    except KeyError:
        raise MissingDependency(
            f"no runtime for the format {name!r}",
            "known runtimes: "
            + (", ".join(RUNTIMES.names()) or "none")
            + "; a plugin may provide one",
        ) from None
    if entry.broken:
        raise MissingDependency(
            f"runtime {name!r} from {entry.distribution} is broken: {entry.error}",
            "fix or reinstall that plugin",
        )
    ok, reason = _available(entry.obj)
    if not ok:
        raise MissingDependency(f"runtime {name!r} is not available: {reason}", _hint(reason))
    return entry.obj


def broken(entries: Iterable[Entry]) -> list[Entry]:
    return [e for e in entries if e.broken]
