"""One lock per library's process-wide state, and what a failure from shared state looks like.

The libraries under interop keep state for the whole process: the torch exporter and dynamo
(dispatch-mode stacks, ``_EXPORT_MODULE_HIERARCHY``, patched ``nn.Module`` methods, the
symbolic-shape environment), coremltools (the MIL builder's block context, its op
registries, graph passes), TensorFlow (graph-building state while tf2onnx freezes and
rewrites a graph) and the process's standard streams, warning filters and file descriptors
that the ``quiet`` helpers redirect. Two threads in those at once fail with errors that read
as if the model were at fault.

Each library gets one re-entrant lock (:data:`ORDER`). A thread takes them in that order
only; :func:`hold` refuses, with ``RuntimeError``, to take a lock earlier in the order than
one the thread already holds (the one way two threads could deadlock). The order:

    torch -> tensorflow -> coremltools -> skl2onnx -> stdio

``torch`` and ``tensorflow`` are outermost because a Core ML conversion of a torch or
TensorFlow model runs inside their state (coremltools reads the exported program or traces
the concrete function); ``stdio`` is innermost because every quiet block sits inside a
library step. Everything else (onnxruntime sessions, the reference executor, comparisons,
file I/O) holds no lock and runs in parallel.

:func:`concurrency_error` recognises the framework errors that only shared state produces,
so that a converter can say so instead of blaming the model.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass

from interop.errors import ConversionError, InteropError

log = logging.getLogger("interop.locks")

ORDER: tuple[str, ...] = ("torch", "tensorflow", "coremltools", "skl2onnx", "stdio")

WHY: dict[str, str] = {
    "torch": "torch.export / dynamo / torch.onnx.export keep process-wide export state",
    "tensorflow": "tf.function tracing, freezing and tf2onnx's graph rewriting",
    "coremltools": "the MIL builder's block context, op registries and graph passes",
    "skl2onnx": "skl2onnx's converter registry and shape calculators, read while converting",
    "stdio": "sys.stdout/sys.stderr, file descriptors 1 and 2, warning filters, log handlers",
}

_LOCKS: dict[str, threading.RLock] = {name: threading.RLock() for name in ORDER}
_held = threading.local()
_stats_lock = threading.Lock()


@dataclass
class LockStats:
    """Totals for one lock since the process started (or :func:`reset_stats`)."""

    acquisitions: int = 0
    wait_s: float = 0.0
    hold_s: float = 0.0
    max_wait_s: float = 0.0


_STATS: dict[str, LockStats] = {name: LockStats() for name in ORDER}


def _stack() -> list[str]:
    stack = getattr(_held, "names", None)
    if stack is None:
        stack = _held.names = []
    return stack


def held() -> tuple[str, ...]:
    """The locks this thread holds, outermost first (a lock held twice appears twice)."""
    return tuple(_stack())


@contextlib.contextmanager
def hold(name: str, what: str = "") -> Iterator[None]:
    """Hold the lock of library ``name`` for the block; wait and hold times to debug log.

    Re-entrant: a thread already holding ``name`` takes it again at once. Taking a lock that
    comes before one already held (see :data:`ORDER`) raises ``RuntimeError``.
    """
    if name not in _LOCKS:
        raise ValueError(f"no lock {name!r}; locks: {', '.join(ORDER)}")
    stack = _stack()
    if name not in stack:
        rank = ORDER.index(name)
        later = [h for h in stack if ORDER.index(h) > rank]
        if later:
            raise RuntimeError(
                f"lock order: {name!r} requested while holding {later[-1]!r} "
                f"(order: {' -> '.join(ORDER)})"
            )
    lock = _LOCKS[name]
    asked = time.perf_counter()
    lock.acquire()
    got = time.perf_counter()
    stack.append(name)
    try:
        yield
    finally:
        stack.pop()
        lock.release()
        done = time.perf_counter()
        wait, kept = got - asked, done - got
        with _stats_lock:
            stats = _STATS[name]
            stats.acquisitions += 1
            stats.wait_s += wait
            stats.hold_s += kept
            stats.max_wait_s = max(stats.max_wait_s, wait)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "lock %s%s: waited %.3f s, held %.3f s (%s)",
                name,
                f" for {what}" if what else "",
                wait,
                kept,
                threading.current_thread().name,
            )


@contextlib.contextmanager
def hold_all(*names: str, what: str = "") -> Iterator[None]:
    """Hold several locks, taken in :data:`ORDER` whatever order they are given in."""
    with contextlib.ExitStack() as stack:
        for name in sorted(set(names), key=ORDER.index):
            stack.enter_context(hold(name, what))
        yield


def stats() -> dict[str, LockStats]:
    """A copy of the wait/hold totals per lock."""
    with _stats_lock:
        return {name: LockStats(**vars(s)) for name, s in _STATS.items()}


def reset_stats() -> None:
    with _stats_lock:
        for name in ORDER:
            _STATS[name] = LockStats()


# -- failures that only shared state produces ----------------------------------------------------
# (library, pattern in "Type: message") for errors no model can cause on its own: they come
# from a stack, context or registry that another thread changed in the middle of a step.
_SHARED_STATE_ERRORS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (lib, re.compile(pattern))
    for lib, pattern in (
        ("torch", r"Trying to pop empty mode stack"),
        ("torch", r"_EXPORT_MODULE_HIERARCHY must not be None"),
        ("torch", r"AST constructor recursion depth mismatch"),
        ("torch", r"(?s)Sym(Int|Float|Bool).{0,200}is not tracked"),
        ("torch", r"is not tracked with proxy for <torch\.fx"),
        ("coremltools", r"InvalidBlockStateError"),
        ("coremltools", r"Must not be called outside of (a )?(block|function) context"),
        ("coremltools", r"Var %?\S+.{0,120} not visible in the block"),
    )
)
# AssertionErrors raised inside these coremltools modules: graph passes and the builder's
# context (a transpose-pass assertion from another thread's half-built graph).
_COREMLTOOLS_SHARED_FILES = re.compile(
    r"coremltools/converters/mil/(mil/passes/defs/optimize_repeat_ops|mil/passes/.*transpose"
    r"|mil/block|mil/builder)"
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def shared_state_library(exc: BaseException) -> str | None:
    """The library whose global state caused ``exc`` (or anything in its cause chain)."""
    for link in _chain(exc):
        text = f"{type(link).__name__}: {link}"
        if isinstance(link, InteropError):
            text = f"{text}\n{link.hint}"
        for library, pattern in _SHARED_STATE_ERRORS:
            if pattern.search(text):
                return library
        if isinstance(link, AssertionError) and link.__traceback__ is not None:
            for frame in traceback.extract_tb(link.__traceback__):
                if _COREMLTOOLS_SHARED_FILES.search(frame.filename.replace("\\", "/")):
                    return "coremltools"
    return None


def concurrency_error(exc: BaseException, converter: str = "") -> ConversionError | None:
    """A ConversionError that blames shared state, not the model; None if ``exc`` is not one.

    Converters call this from their error paths (``Converter.convert`` does it for all).
    """
    if isinstance(exc, ConversionError) and "concurrency failure" in exc.hint:
        return exc
    library = shared_state_library(exc)
    if library is None:
        return None
    cause = next(
        (
            f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
            for e in _chain(exc)
            if not isinstance(e, InteropError)
        ),
        str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
    )
    held_now = ", ".join(held()) or "none"
    return ConversionError(
        f"{converter or 'the conversion'} failed in {library}'s process-wide state: {cause}",
        f"this is a concurrency failure in {library}'s global state, not a problem with the "
        f"model; another thread was inside {library} at the same time without interop's lock "
        f"(locks held here: {held_now}). Call {library} from other threads only inside "
        f"interop.frameworks.locks.hold({library!r}), or convert in separate processes",
    )


__all__ = [
    "ORDER",
    "WHY",
    "LockStats",
    "concurrency_error",
    "held",
    "hold",
    "hold_all",
    "reset_stats",
    "shared_state_library",
    "stats",
]
