"""A spinner per CLI stage on a terminal; elsewhere stage timings go to the log only."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

log = logging.getLogger("interop.cli")

FRAMES = "|/-\\"


class Progress:
    """Draws ``<frame> <stage>...`` on ``stream`` while a stage runs, then ``done``/``failed``.

    Disabled (no drawing at all) unless ``enabled``; the CLI enables it only when both stdout
    and stderr are terminals, so piped output carries nothing but results.
    """

    def __init__(self, stream: TextIO, enabled: bool, interval: float = 0.1) -> None:
        self.stream = stream
        self.enabled = enabled
        self.interval = interval
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        stop = threading.Event()
        drawer = None
        if self.enabled:
            drawer = threading.Thread(target=self._spin, args=(name, stop), daemon=True)
            drawer.start()
        ok = False
        try:
            yield
            ok = True
        finally:
            elapsed = time.perf_counter() - start
            self.timings[name] = round(elapsed, 4)
            stop.set()
            if drawer is not None:
                drawer.join()
                mark = "done" if ok else "failed"
                self.stream.write(f"\r\033[K{name:<9} {mark} in {elapsed:.1f} s\n")
                self.stream.flush()
            log.info("%s %s in %.2f s", name, "done" if ok else "failed", elapsed)

    def _spin(self, name: str, stop: threading.Event) -> None:
        start = time.perf_counter()
        for frame in itertools.cycle(FRAMES):
            elapsed = time.perf_counter() - start
            self.stream.write(f"\r\033[K{frame} {name}... {elapsed:.1f} s")
            self.stream.flush()
            if stop.wait(self.interval):
                return
