"""A progress line for runs counted in cells: done, failed, left and an ETA.

On a terminal it is one line rewritten in place; elsewhere (CI logs, pipes) it prints one
line per finished cell, so a log still shows what ran where.
"""

from __future__ import annotations

import sys
import time
from typing import Any

# Verdicts that are not failures of the converter under test.
GOOD = ("passed", "cannot convert", "n/a")


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class CellProgress:
    """Counts finished cells; ``step(cell)`` after each one, ``close()`` at the end."""

    def __init__(self, total: int, stream: Any = None, *, tty: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.total, self.done, self.failed = total, 0, 0
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else tty
        self.started = time.perf_counter()
        self._width = 0

    def line(self) -> str:
        """``12/40 done, 1 failed, 28 left, 35s, ETA 1m22s``: the ETA assumes the cells left
        take as long on average as those done (with the same number of workers)."""
        elapsed = time.perf_counter() - self.started
        left = self.total - self.done
        eta = "ETA ?" if not self.done else f"ETA {_duration(elapsed / self.done * left)}"
        return (
            f"{self.done}/{self.total} done, {self.failed} failed, {left} left, "
            f"{_duration(elapsed)}, {eta}"
        )

    def step(self, cell: dict[str, Any]) -> None:
        self.done += 1
        if cell.get("verdict") not in GOOD:
            self.failed += 1
        if self.tty:
            text = self.line()
            pad = max(0, self._width - len(text))
            self._width = len(text)
            self.stream.write("\r" + text + " " * pad)
        else:
            where = cell.get("worker_name") or cell.get("worker") or ""
            env = f" [{cell['environment']}]" if cell.get("environment") else ""
            self.stream.write(
                f"[{self.done}/{self.total}] {cell.get('case')} -> {cell.get('target')}{env}: "
                f"{cell.get('verdict')}" + (f" on {where}" if where else "") + "\n"
            )
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.done:
            self.stream.write("\n")
            self.stream.flush()
