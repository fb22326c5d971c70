"""The conformance suite on a Dask cluster: one task per cell, no cell lost.

``python -m conformance --scheduler tcp://HOST:PORT`` uses a running cluster;
``--scheduler local:N`` starts a LocalCluster of N single-threaded worker processes for the
run and stops it after. Each cell (case x target, and x environment for the compatibility
matrix) is one Dask task. On the worker the task runs the cell in the same isolated
subprocess as the local runner (``interop.harness.isolate.call_isolated``), so a crash, a
hang or an out-of-memory is a recorded verdict, not a dead worker. Every cell records the
worker that ran it (``worker``: its address, ``worker_name``) and the ``host``.

A worker that dies mid-cell: the scheduler reruns the cell elsewhere, up to its
``distributed.scheduler.allowed-failures`` budget; after that the cell is recorded with the
verdict ``lost`` and the reason. Cells nobody can run (every worker gone, or none with the
environment's resource) are recorded as ``lost`` too, never dropped.

Finished cells are appended to a journal beside the results file as they arrive
(``latest.json.journal``, one JSON cell per line); ``--update`` after an interrupted run
takes the cells recorded there and runs only the missing (or lost) ones. The journal is
removed once a run ends with no lost cell.

The scheduler (it unpickles the task graph) and the workers need this checkout importable
(``PYTHONPATH=<repo>``) and interop with the
frameworks installed: see docs/cluster.md. Dask is imported only inside the functions that
use it, so the worker-side functions also serve environments without Dask.
"""

from __future__ import annotations

import contextlib
import functools
import json
import multiprocessing
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.progress import CellProgress

LOST = "lost"
NO_WORKER_S = 120.0  # a pending cell that no worker could take for this long is lost


class ClusterError(Exception):
    """A cluster problem the user must fix: one line of what went wrong, one of what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


# --- the worker side -----------------------------------------------------------------------


def worker_identity() -> dict[str, Any]:
    """Where this code runs: the Dask worker's address and name, and the host."""
    info: dict[str, Any] = {"worker": None, "worker_name": None, "host": socket.gethostname()}
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not inside a Dask task
        return info
    info["worker"] = worker.address
    info["worker_name"] = str(worker.name)
    return info


def _allow_children() -> None:
    """A Nanny starts its worker as a daemonic process (``distributed.worker.daemon``), and
    a daemonic process may not start the subprocess a cell runs in. The cell's subprocess
    is ended by the kernel when its parent goes (interop's isolate sets PR_SET_PDEATHSIG),
    which is what the daemon flag would ensure, so it is lifted here."""
    process = multiprocessing.current_process()
    if process.daemon:
        process.daemon = False


@functools.lru_cache(maxsize=1)
def _availability() -> tuple[dict[str, set[str]], dict[tuple[str, str], str]]:
    from conformance import runner

    return runner.available_targets(), runner.unavailable_reasons()


def suite_cell(case: Any, target: str, options: Any) -> dict[str, Any]:
    """One cell of the suite, on a worker: the verdict of ``case`` converted to ``target``
    (a matrix column), checked in an isolated subprocess exactly as the local runner does."""
    from conformance import runner
    from interop.harness.isolate import OK, call_isolated

    started = time.perf_counter()
    supported, unavailable = _availability()
    base = runner.column_target(target)[0]
    if case.framework not in supported.get(base, set()):
        why = unavailable.get((case.framework, base))
        if why:
            cell = runner._cell(case, target, "cannot convert", why)
        else:
            cell = runner._cell(case, target, "n/a", f"no {case.framework}.{target} converter")
    else:
        _allow_children()
        status, value = call_isolated(
            runner.run_case, (case, [target], options),
            timeout=options.timeout_s, memory_limit_mb=options.memory_limit_mb,
        )
        if status == OK:
            (cell,) = value
        else:
            log = runner.LOG_DIR / (case.name + ".log")
            cell = runner._cell(case, target, status, f"{value} (log on the worker: {log})",
                                wall_s=time.perf_counter() - started)
    cell.update(worker_identity())
    cell["cell_s"] = round(time.perf_counter() - started, 3)
    return cell


# --- the client side -----------------------------------------------------------------------


@dataclass
class Task:
    """One cell to submit: its key, the function and arguments the worker runs, the worker
    resources it needs, and a stub (case, target, ...) that a lost cell is made from."""

    key: tuple[str, str, str]  # (case, target, environment)
    func: Callable[..., dict[str, Any]]
    args: tuple[Any, ...]
    stub: dict[str, Any]
    resources: dict[str, float] = field(default_factory=dict)


def lost_cell(stub: dict[str, Any], reason: str, verdict: str = LOST) -> dict[str, Any]:
    cell = {**stub, "verdict": verdict, "passed": False, "reason": reason}
    cell.setdefault("worker", None)
    cell.setdefault("host", None)
    return cell


def cell_key(cell: dict[str, Any]) -> tuple[str, str, str]:
    return (cell["case"], cell["target"], cell.get("environment") or "")


class Journal:
    """Finished cells, one JSON object a line, appended (and flushed) as each arrives."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def beside(cls, output: Path) -> Journal:
        return cls(output.with_name(output.name + ".journal"))

    def load(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        """The cells already recorded (the last line wins), lost ones left out."""
        done: dict[tuple[str, str, str], dict[str, Any]] = {}
        if not self.path.exists():
            return done
        for line in self.path.read_text().splitlines():
            try:
                cell = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by a crash
                continue
            if cell.get("verdict") == LOST:
                done.pop(cell_key(cell), None)
            else:
                done[cell_key(cell)] = cell
        return done

    def start(self, keep: bool) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not keep:
            self.path.unlink(missing_ok=True)

    def append(self, cell: dict[str, Any]) -> None:
        with open(self.path, "a") as fh:
            fh.write(json.dumps(cell, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def parse_scheduler(spec: str) -> tuple[str, int | str]:
    """``("local", N)`` or ``("address", "tcp://HOST:PORT")``; ClusterError otherwise."""
    hint = "use --scheduler tcp://HOST:PORT (a running dask scheduler) or --scheduler local:N"
    if spec.startswith("local:"):
        count = spec.split(":", 1)[1]
        if not count.isdigit() or int(count) < 1:
            raise ClusterError(f"--scheduler {spec}: N in local:N must be a whole number >= 1",
                               hint)
        return "local", int(count)
    if "://" not in spec:
        raise ClusterError(f"--scheduler {spec}: not a scheduler address", hint)
    return "address", spec


def connect(spec: str, *, timeout_s: float = 10.0) -> tuple[Any, Any]:
    """A connected ``(Client, LocalCluster or None)`` for a ``--scheduler`` value."""
    kind, value = parse_scheduler(spec)
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ClusterError(
            f"--scheduler needs Dask distributed, which is not installed ({exc})",
            "install it: pip install -c constraints.txt -e '.[cluster]'",
        ) from None
    if kind == "local":
        import logging

        cluster = LocalCluster(
            n_workers=int(value), threads_per_worker=1, processes=True,
            dashboard_address=None, silence_logs=logging.ERROR,
        )
        return Client(cluster), cluster
    try:
        client = Client(str(value), timeout=f"{timeout_s}s")
    except Exception as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise ClusterError(
            f"cannot reach the Dask scheduler at {value}: {text}",
            "start one (dask scheduler --host HOST --port PORT) and its workers, check the "
            "address, or run on this machine with --scheduler local:N",
        ) from None
    return client, None


def wait_for_workers(client: Any, spec: str, timeout_s: float) -> None:
    try:
        client.wait_for_workers(1, timeout=timeout_s)
    except Exception:
        raise ClusterError(
            f"no worker joined the scheduler at {spec} within {timeout_s:g} s",
            "start workers: dask worker SCHEDULER --nthreads 1 (see docs/cluster.md)",
        ) from None


def close(client: Any, cluster: Any) -> None:
    with contextlib.suppress(Exception):
        client.close()
    if cluster is not None:
        with contextlib.suppress(Exception):
            cluster.close()


def _workers(client: Any) -> dict[str, dict[str, Any]]:
    try:
        return dict(client.scheduler_info(n_workers=-1)["workers"])
    except TypeError:  # older distributed without n_workers
        return dict(client.scheduler_info()["workers"])


def _can_run(resources: dict[str, float], workers: dict[str, dict[str, Any]]) -> bool:
    return any(
        all(w.get("resources", {}).get(name, 0) >= need for name, need in resources.items())
        for w in workers.values()
    )


def _reason(future: Any) -> tuple[str, str]:
    """(verdict, reason) for a future that did not finish."""
    from distributed.scheduler import KilledWorker

    if future.status == "cancelled":
        return LOST, "cancelled: the scheduler forgot the cell (scheduler restarted or gone?)"
    try:
        exc = future.exception(timeout=5)
    except Exception as err:
        return LOST, f"no result: {type(err).__name__}: {err}"
    if isinstance(exc, KilledWorker):
        last = getattr(exc.last_worker, "address", exc.last_worker)
        return LOST, (
            f"every worker that ran it died ({exc.allowed_failures} reruns allowed by "
            f"distributed.scheduler.allowed-failures); the last was {last}"
        )
    first = (str(exc).strip().splitlines() or [""])[0]
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    if (isinstance(exc, ModuleNotFoundError) and "conformance" in str(exc)) or \
            "deserialization of the task graph" in str(exc):
        text += (" (the scheduler and the workers must import this checkout: start them with "
                 "PYTHONPATH set to it; see docs/cluster.md)")
    return "error", f"the cell's task failed on the worker: {text}"


def run_cells(
    client: Any,
    tasks: list[Task],
    *,
    journal: Journal | None = None,
    progress: CellProgress | None = None,
    retries: int = 1,
    no_worker_s: float = NO_WORKER_S,
    poll_s: float = 2.0,
) -> list[dict[str, Any]]:
    """Submit every task, collect the cells as they finish (journalled at once); tasks that
    cannot finish become ``lost`` cells. Pending tasks are cancelled if this is interrupted,
    so a shared cluster does not keep queued cells of a client that went away."""
    from distributed import wait
    from distributed.utils import TimeoutError as WaitTimeout

    cells: list[dict[str, Any]] = []

    def record(cell: dict[str, Any]) -> None:
        cells.append(cell)
        if journal is not None:
            journal.append(cell)
        if progress is not None:
            progress.step(cell)

    workers = _workers(client)
    futures: dict[Any, Task] = {}
    for task in tasks:
        if task.resources and not _can_run(task.resources, workers):
            wanted = ", ".join(f"{k}={v:g}" for k, v in task.resources.items())
            record(lost_cell(task.stub, f"no worker advertises the resources {wanted}"))
            continue
        name = "-".join(part for part in task.key if part)
        future = client.submit(
            task.func, *task.args, key=f"cell-{name}-{uuid.uuid4().hex[:8]}",
            retries=retries, resources=task.resources or None, pure=False,
        )
        futures[future] = task
    pending = set(futures)
    stuck_since: float | None = None
    try:
        while pending:
            try:
                done, pending = wait(list(pending), timeout=poll_s,
                                     return_when="FIRST_COMPLETED")
                pending = set(pending)
            except (TimeoutError, WaitTimeout):
                done = set()
            for future in done:
                task = futures[future]
                if future.status == "finished":
                    try:
                        cell = future.result(timeout=60)
                    except Exception as exc:
                        cell = lost_cell(task.stub, f"result lost in transfer: {exc}")
                else:
                    verdict, reason = _reason(future)
                    cell = lost_cell(task.stub, reason, verdict)
                record(cell)
                future.release()
            if not pending:
                break
            workers = _workers(client)
            blocked = [f for f in pending if not _can_run(futures[f].resources, workers)]
            if not workers or blocked:
                stuck_since = stuck_since or time.monotonic()
                if time.monotonic() - stuck_since > no_worker_s:
                    orphans = pending if not workers else set(blocked)
                    client.cancel(list(orphans))
                    for future in orphans:
                        why = "no worker left on the cluster" if not workers else \
                            "no worker with its resources left on the cluster"
                        record(lost_cell(futures[future].stub, f"{why} for {no_worker_s:g} s"))
                    pending -= orphans
                    stuck_since = None
            else:
                stuck_since = None
    finally:
        if pending:
            with contextlib.suppress(Exception):
                client.cancel(list(pending))
        if progress is not None:
            progress.close()
    return cells


def suite_tasks(cases: list[Any], targets: list[str], options: Any) -> list[Task]:
    """One task per (case, matrix column)."""
    tasks = []
    for case in cases:
        for target in targets:
            stub = {"case": case.name, "framework": case.framework, "tags": list(case.tags),
                    "target": target, "converter": ""}
            tasks.append(Task((case.name, target, ""), suite_cell, (case, target, options), stub))
    return tasks


def run_suite(
    cases: list[Any],
    targets: list[str],
    options: Any,
    scheduler: str,
    *,
    output: Path,
    resume: bool = False,
    retries: int = 1,
    wait_s: float = 30.0,
    no_worker_s: float = NO_WORKER_S,
    stream: Any = None,
) -> list[dict[str, Any]]:
    """The suite's cells, run on the cluster at ``scheduler``; with ``resume`` the cells
    already in the journal beside ``output`` are kept and not run again."""
    stream = stream if stream is not None else sys.stderr
    parse_scheduler(scheduler)  # a bad value fails before anything is touched
    tasks = suite_tasks(cases, targets, options)
    journal = Journal.beside(output)
    kept = journal.load() if resume else {}
    kept = {key: cell for key, cell in kept.items() if key in {t.key for t in tasks}}
    todo = [t for t in tasks if t.key not in kept]
    if kept:
        print(f"conformance: resuming: {len(kept)} cells from {journal.path}, "
              f"{len(todo)} to run", file=stream)
    journal.start(keep=resume)
    cells = list(kept.values())
    if todo:
        client, cluster = connect(scheduler)
        try:
            wait_for_workers(client, scheduler, wait_s)
            count = len(_workers(client))
            print(f"conformance: {len(todo)} cells on {scheduler} ({count} workers), "
                  "one task per cell, each in an isolated subprocess", file=stream)
            cells += run_cells(client, todo, journal=journal,
                               progress=CellProgress(len(todo), stream), retries=retries,
                               no_worker_s=no_worker_s)
        finally:
            close(client, cluster)
    if not any(c["verdict"] == LOST for c in cells):
        journal.remove()
    order = {case.name: i for i, case in enumerate(cases)}
    cells.sort(key=lambda c: (order.get(c["case"], len(order)), c["target"]))
    return cells


# --- the compatibility matrix (scripts/compat.py) ------------------------------------------


def compat_row(case: Any, converter: str) -> dict[str, Any]:
    """One compatibility-matrix row: ``case`` converted with ``converter`` and checked for
    parity at batch sizes 1 and 8 (``interop.testing.run_conformance``)."""
    from interop.testing import run_conformance

    started = time.perf_counter()
    (result,) = run_conformance(converter, [case], batch_sizes=(1, 8), raise_on_failure=False)
    errors = [e for per in result.max_abs_error.values() for e in per.values() if e is not None]
    return {
        "case": case.name,
        "converter": converter,
        "status": "passed" if result.passed else "failed",
        "reason": result.reason,
        "cause": result.cause,
        "max_abs_error": max(errors) if errors else None,
        "seconds": round(time.perf_counter() - started, 2),
    }


def compat_cell(case: Any, converter: str, packages: tuple[str, ...], environment: str,
                timeout_s: float = 900.0) -> dict[str, Any]:
    """A compatibility row on a worker of ``environment``, in an isolated subprocess, with the
    versions that worker actually has."""
    import platform
    from importlib import metadata

    from interop.harness.isolate import OK, call_isolated

    started = time.perf_counter()
    _allow_children()
    status, value = call_isolated(compat_row, (case, converter), timeout=timeout_s)
    if status == OK:
        row = value
    else:
        row = {"case": case.name, "converter": converter, "status": "failed",
               "reason": f"{status}: {value}", "cause": str(value), "max_abs_error": None,
               "seconds": round(time.perf_counter() - started, 2)}

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "-"

    row.update(worker_identity())
    row.update(target=converter, environment=environment, verdict=row["status"],
               python=platform.python_version(), versions={p: version(p) for p in packages})
    return row
