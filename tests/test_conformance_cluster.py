"""The conformance suite on a real Dask cluster on 127.0.0.1: a scheduler and two workers
as subprocesses, one worker killed with SIGKILL mid-run, a client killed mid-run, and the
same verdicts as the local runner. Nothing is mocked: real Dask, real scikit-learn and ONNX.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).parent / "dask"
# Fast scikit-learn cases, ONNX target, parity only: about 5-10 s a cell on a busy 2-core box.
CASES = ["sk_ridge", "sk_logistic_binary", "sk_decision_tree", "sk_knn_classifier",
         "sk_linear_svc"]
TARGET = "onnx"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _start_worker(address: str, name: str, logs: Path) -> subprocess.Popen:
    # --no-nanny: the process we SIGKILL is the worker itself (a nanny would restart it).
    return subprocess.Popen(
        [str(DASK), "worker", address, "--name", name, "--host", "127.0.0.1",
         "--nthreads", "1", "--no-nanny", "--no-dashboard"],
        cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
        stderr=open(logs / f"{name}.log", "w"),  # noqa: SIM115
    )


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two workers on 127.0.0.1; every process killed at the end."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs: dict[str, subprocess.Popen] = {}
    client = None
    try:
        procs["scheduler"] = subprocess.Popen(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--no-dashboard"],
            cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / "scheduler.log", "w"),  # noqa: SIM115
        )
        for name in ("worker-a", "worker-b"):
            procs[name] = _start_worker(address, name, tmp_path)
        client = distributed.Client(address, timeout="30s")
        client.wait_for_workers(2, timeout=60)
        yield address, client, procs
    finally:
        if client is not None:
            client.close()
        for proc in procs.values():
            _stop(proc)


def _conformance(address: str | None, out: Path, *extra: str, **popen) -> subprocess.Popen:
    cases = [arg for name in CASES for arg in ("--case", name)]
    where = ["--scheduler", address] if address else ["--jobs", "2"]
    return subprocess.Popen(
        [sys.executable, "-m", "conformance", *where, *cases, "--target", TARGET,
         "--no-latency", "--timeout", "300", "--output", str(out),
         "--matrix", str(out.with_suffix(".md")), *extra],
        cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        **popen,
    )


def _cells(path: Path) -> dict[tuple[str, str], dict]:
    return {(c["case"], c["target"]): c for c in json.loads(path.read_text())["cells"]}


def _wait_running(client, worker_address: str, deadline: float) -> list[str]:
    """The cell keys the worker is running, once it runs one and its subprocess has had a
    moment to start."""
    while time.monotonic() < deadline:
        keys = [str(k) for k in client.processing().get(worker_address, ())]
        if any(k.startswith("cell-") for k in keys):
            time.sleep(2.0)
            return [str(k) for k in client.processing().get(worker_address, ())]
        time.sleep(0.2)
    raise AssertionError(f"no cell started on {worker_address}")


def test_cluster_survives_a_killed_worker_and_a_killed_client(cluster, tmp_path):
    address, client, procs = cluster
    workers = {info["name"]: addr
               for addr, info in client.scheduler_info(n_workers=-1)["workers"].items()}
    started = time.monotonic()

    # 1. A distributed run; worker-a is SIGKILLed while it runs a cell.
    dist = tmp_path / "dist.json"
    run = _conformance(address, dist)
    try:
        running = _wait_running(client, workers["worker-a"], time.monotonic() + 120)
        procs["worker-a"].send_signal(signal.SIGKILL)
        procs["worker-a"].wait(timeout=10)
        output, _ = run.communicate(timeout=240)
    finally:
        _stop(run)
    assert run.returncode == 0, output
    cells = _cells(dist)
    assert set(cells) == {(case, TARGET) for case in CASES}, output
    # Every cell has a real verdict: the killed worker's cell was rerun, not lost.
    assert all(c["verdict"] in ("passed", "cannot convert") for c in cells.values()), output
    assert all(c["worker"] in workers.values() and c["host"] for c in cells.values())
    assert {c["worker_name"] for c in cells.values()} <= {"worker-a", "worker-b"}
    rerun = [c for c in cells.values() if any(k.startswith(f"cell-{c['case']}-") for k in running)]
    assert rerun and all(c["worker_name"] == "worker-b" for c in rerun), (running, output)

    # 2. A client killed mid-run leaves the cluster usable; --update resumes from the journal
    #    and runs only the cells that were missing.
    resumed = tmp_path / "resumed.json"
    run = _conformance(address, resumed)
    journal = resumed.with_name(resumed.name + ".journal")
    try:
        deadline = time.monotonic() + 120
        while not (journal.exists() and journal.read_text().count("\n") >= 1):
            assert time.monotonic() < deadline and run.poll() is None, run.communicate()[0]
            time.sleep(0.2)
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=10)
    finally:
        _stop(run)
    done_before = journal.read_text().count("\n")
    assert 1 <= done_before < len(CASES)
    run = _conformance(address, resumed, "--update")
    output, _ = run.communicate(timeout=240)
    assert run.returncode == 0, output
    assert f"resuming: {done_before} cells" in output, output
    assert f"{len(CASES) - done_before} cells on {address}" in output, output
    assert not journal.exists()  # a run with no lost cell removes its journal
    again = _cells(resumed)
    assert {k: c["verdict"] for k, c in again.items()} == \
        {k: c["verdict"] for k, c in cells.items()}

    # 3. The local runner gives the same verdicts for the same cells.
    local = tmp_path / "local.json"
    run = _conformance(None, local)
    output, _ = run.communicate(timeout=240)
    assert run.returncode == 0, output
    assert {k: c["verdict"] for k, c in _cells(local).items()} == \
        {k: c["verdict"] for k, c in cells.items()}
    print(f"cluster test body: {time.monotonic() - started:.0f} s")


def test_unreachable_scheduler_is_one_line_and_a_hint(tmp_path):
    port = _free_port()  # nothing listens there
    out = tmp_path / "x.json"
    proc = subprocess.run(
        [sys.executable, "-m", "conformance", "--scheduler", f"tcp://127.0.0.1:{port}",
         "--case", CASES[0], "--target", TARGET, "--output", str(out),
         "--matrix", str(tmp_path / "x.md")],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith(("error:", "hint:"))]
    assert [line.split(":")[0] for line in lines] == ["error", "hint"], proc.stderr
    assert f"127.0.0.1:{port}" in lines[0]
    assert not out.exists()
