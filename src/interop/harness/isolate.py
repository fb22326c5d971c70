"""Run one side of a check (load, run each feed, time it), in this process or a subprocess.

With isolation the side runs in a spawned process with a timeout and an address-space cap
(RLIMIT_AS); a crash, a hang or an out-of-memory comes back as a SideResult with its status
and cause instead of taking the caller down. The runtime class travels as a
``"module:Class"`` reference and is imported in the child, so runtimes registered in code
(tests, plugins) work there too as long as their module is importable.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from interop.errors import first_line
from interop.harness.timing import LatencyStats, TimingPlan, measure, time_once
from interop.util import import_ref

log = logging.getLogger("interop.harness.isolate")

OK, ERROR, CRASH, TIMEOUT, OOM = "ok", "error", "crash", "timeout", "out-of-memory"


@dataclass
class SideJob:
    """What one side needs: a runtime reference, the model, feeds per batch size, timing."""

    runtime_ref: str
    model: Any
    conversion: Any
    feeds: dict[int, dict[str, Any]]
    threads: int | None = 1
    timing: TimingPlan | None = None
    probe_feeds: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Run once each after the feeds, untimed (the rounding probe, ``harness.rounding``)."""


@dataclass
class SideResult:
    """Outputs and timings of one side, or why there are none."""

    status: str = OK
    cause: str = ""
    runtime: str = ""
    measures_latency: bool = True
    load_ms: float | None = None
    outputs: dict[int, dict[str, Any]] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)
    probe_outputs: dict[int, dict[str, Any]] = field(default_factory=dict)
    first_run_ms: dict[int, float] = field(default_factory=dict)
    latency: dict[int, LatencyStats] = field(default_factory=dict)
    wall_s: float = 0.0


def runtime_ref(cls: Any) -> str:
    """A ``"module:Qualname"`` string that imports ``cls`` again in another process."""
    return f"{cls.__module__}:{cls.__qualname__}"


def run_side(job: SideJob) -> SideResult:
    """Load the runtime once, run every feed (the first run timed apart), then time it."""
    result = SideResult()
    start = time.perf_counter()
    try:
        cls = import_ref(job.runtime_ref)
        runtime = cls(job.model, conversion=job.conversion, threads=job.threads)
        result.runtime = str(getattr(runtime, "name", "") or getattr(cls, "name", ""))
        load_ms, entered = time_once(runtime.__enter__)
        result.load_ms = load_ms
    except MemoryError as exc:
        return _failed(result, OOM, f"out of memory while loading: {first_line(exc)}", start)
    except Exception as exc:
        return _failed(result, ERROR, f"failed to load: {first_line(exc)}", start)
    try:
        rt = entered if entered is not None else runtime
        result.runtime = str(getattr(rt, "name", "") or result.runtime)
        result.measures_latency = bool(getattr(rt, "measures_latency", True))
        for batch, feed in job.feeds.items():
            run_feed = partial(rt.run, feed)
            try:
                first_ms, outputs = time_once(run_feed)
                result.first_run_ms[batch] = first_ms
                result.outputs[batch] = {k: _materialize(v) for k, v in outputs.items()}
                if job.timing is not None and result.measures_latency:
                    result.latency[batch] = measure(run_feed, job.timing)
            except MemoryError as exc:
                result.errors[batch] = f"out of memory: {first_line(exc)}"
                result.status, result.cause = OOM, result.errors[batch]
            except Exception as exc:
                result.errors[batch] = f"failed to run: {first_line(exc)}"
        for batch, feed in job.probe_feeds.items():
            try:  # without a probe the verdict just has no noise floor
                result.probe_outputs[batch] = {
                    k: _materialize(v) for k, v in rt.run(feed).items()
                }
            except Exception as exc:
                log.debug("rounding probe at batch %s failed: %s", batch, first_line(exc))
    finally:
        try:
            runtime.__exit__(None, None, None)
        except Exception as exc:  # a failed close must not hide the outputs
            result.cause = result.cause or f"failed to close: {first_line(exc)}"
    result.wall_s = time.perf_counter() - start
    return result


def _materialize(value: Any) -> Any:
    import numpy as np

    return np.array(value, copy=True)


def _failed(result: SideResult, status: str, cause: str, start: float) -> SideResult:
    result.status, result.cause = status, cause
    result.wall_s = time.perf_counter() - start
    return result


def _cap_memory(limit_mb: int | None) -> None:
    if not limit_mb:
        return
    import resource

    limit = int(limit_mb) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _die_with_parent() -> None:
    """On Linux, have the kernel end this process when the process that spawned it dies, so
    a killed suite run leaves no orphaned model processes behind."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _child(conn: Any, payload: bytes, limit_mb: int | None) -> None:
    """Entry point of the spawned process: cap memory, call the function, send the outcome."""
    outcome: tuple[str, Any]
    _die_with_parent()
    try:
        _cap_memory(limit_mb)
        func, args = pickle.loads(payload)
        outcome = (OK, func(*args))
    except MemoryError as exc:
        outcome = (OOM, f"out of memory: {first_line(exc)}")
    except BaseException as exc:
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        suffix = (
            f" (in {where.name}, {os.path.basename(where.filename)}:{where.lineno})"
            if where
            else ""
        )
        outcome = (ERROR, first_line(exc) + suffix)
    try:
        data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        data = pickle.dumps((OOM, "out of memory while sending the result"))
    except Exception as exc:
        data = pickle.dumps((ERROR, f"the result cannot be sent back: {first_line(exc)}"))
    conn.send_bytes(data)
    conn.close()


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def call_isolated(
    func: Any, args: tuple[Any, ...], *, timeout: float = 600.0, memory_limit_mb: int | None = None
) -> tuple[str, Any]:
    """``func(*args)`` in a spawned process: ``(OK, value)`` or ``(status, cause)``.

    ``func`` must be importable (a module-level function). The status is ERROR for an
    exception (the cause names it), OOM for a MemoryError under the cap, CRASH when the
    process dies without a result (a signal such as SIGABRT or SIGSEGV), TIMEOUT when no
    result arrives within ``timeout`` seconds (the process is then killed).
    """
    try:
        payload = pickle.dumps((func, args), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        return ERROR, (
            f"cannot send the model to a subprocess: {first_line(exc)}; "
            "check with isolate=False, or define the model's classes at module level"
        )
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(sender, payload, memory_limit_mb), daemon=True)
    process.start()
    sender.close()
    outcome: tuple[str, Any] | None = None
    deadline = time.perf_counter() + timeout
    try:
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                outcome = (TIMEOUT, f"no result within {timeout:g} s")
                break
            if receiver.poll(min(remaining, 0.2)):
                try:
                    outcome = pickle.loads(receiver.recv_bytes())
                except EOFError:
                    outcome = None  # the child died mid-send; its exit code tells why
                break
            if not process.is_alive() and not receiver.poll(0):
                break
    finally:
        if outcome is None or outcome[0] == TIMEOUT:
            _stop(process)
        process.join(timeout=10)
        if process.is_alive():
            _stop(process)
        receiver.close()
    if outcome is None:
        code = process.exitcode
        if code is not None and code < 0:
            cause = f"the process died with {_signal_name(code)}"
            if code == -signal.SIGKILL:
                cause += " (killed: out of memory or an external kill)"
        else:
            cause = f"the process exited with status {code} without a result"
        outcome = (CRASH, cause)
    return outcome


def run_isolated(
    job: SideJob, *, timeout: float = 600.0, memory_limit_mb: int | None = None
) -> SideResult:
    """``run_side(job)`` in a spawned process; crash, hang and out-of-memory are results."""
    start = time.perf_counter()
    status, value = call_isolated(
        run_side, (job,), timeout=timeout, memory_limit_mb=memory_limit_mb
    )
    result = value if status == OK else SideResult(status=status, cause=str(value))
    result.wall_s = time.perf_counter() - start
    return result


def _stop(process: Any) -> None:
    if not process.is_alive():
        return
    process.terminate()
    process.join(timeout=3)
    if process.is_alive() and process.pid is not None:
        os.kill(process.pid, signal.SIGKILL)
        process.join(timeout=3)
