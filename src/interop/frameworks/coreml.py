"""coremltools, imported and run quietly: its warnings, log records and progress bars are kept
out of the terminal and collected for Conversion.warnings (converters) or dropped (runtimes).
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from typing import Any

from interop.frameworks import locks

log = logging.getLogger("interop.coreml")


class Captured:
    """Warnings and log records coremltools emitted while a block ran."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, message: str) -> None:
        message = message.strip()
        if message and message not in self.messages:
            self.messages.append(message)


class _ListHandler(logging.Handler):
    def __init__(self, captured: Captured) -> None:
        super().__init__(logging.WARNING)
        self.captured = captured

    def emit(self, record: logging.LogRecord) -> None:
        self.captured.add(record.getMessage())


@contextlib.contextmanager
def quiet_coremltools() -> Iterator[Captured]:
    """Route coremltools' warnings, log records and progress bars away from the terminal.

    Warnings and warning-level log records are collected (for Conversion.warnings);
    progress bars written to stderr go to the debug log.
    """
    captured = Captured()
    handler = _ListHandler(captured)
    loggers = [logging.getLogger(name) for name in ("coremltools", "root")]
    ct_logger = loggers[0]
    # sys.stderr, the warning filters and this logger are the process's: one thread at a time
    stdio = locks.hold("stdio", "quiet coremltools")
    stdio.__enter__()
    previous_propagate = ct_logger.propagate
    ct_logger.addHandler(handler)
    ct_logger.propagate = False
    stderr = io.StringIO()
    try:
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(stderr):
            warnings.simplefilter("always")
            yield captured
        for w in caught:
            captured.add(str(w.message))
    finally:
        ct_logger.removeHandler(handler)
        ct_logger.propagate = previous_propagate
        stdio.__exit__(None, None, None)
        if stderr.getvalue().strip():
            log.debug("coremltools stderr: %s", stderr.getvalue().strip()[-2000:])


_IMPORT_MESSAGES: list[str] = []


def import_coremltools(captured: Captured | None = None) -> Any:
    """Import coremltools, keeping its import-time chatter out of the terminal.

    What it says on import (its untested-version notes) is kept and added to ``captured``
    on every call, so each Conversion carries it, not only the first one in a process.
    """
    import sys

    if "coremltools" not in sys.modules:
        with quiet_coremltools() as inner:
            import coremltools  # noqa: F401
        _IMPORT_MESSAGES.extend(inner.messages)
    import coremltools as ct

    if captured is not None:
        for message in _IMPORT_MESSAGES:
            captured.add(message)
    return ct
