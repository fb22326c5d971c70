"""One interop-convert run's surroundings: log level and handler, quiet libraries, environment,
all restored afterwards so that ``main`` is re-entrant.

Imports only io, os and sys at module level; logging is imported when a run starts.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from typing import Any

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Libraries that log or warn chattily at WARNING; quiet unless the user asks for -v.
NOISY_LOGGERS = ("py.warnings", "tensorflow", "absl", "tf2onnx", "keras", "coremltools",
                 "onnxscript", "torch", "h5py", "skl2onnx")


class Session:
    """Sets up logging and the environment for ``args``; ``restore`` undoes all of it."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.saved_env: dict[str, str | None] = {}
        self.saved_levels: dict[str, int] = {}
        self.handler: Any = None

    def setup(self) -> None:
        import logging

        args = self.args
        if args.no_plugins:
            self._setenv("INTEROP_DISABLE_PLUGIN_AUTOLOAD", "1")
            refresh_registry()
        if not args.debug and not args.verbose:
            self._setenv("TF_CPP_MIN_LOG_LEVEL", os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
        level, bad_env = log_level(args)
        self.handler = logging.StreamHandler(sys.stderr)
        self.handler.setFormatter(logging.Formatter("[%(levelname)s] %(name)s: %(message)s"))
        root = logging.getLogger()
        self.saved_levels[""] = root.level
        root.addHandler(self.handler)
        root.setLevel(level)
        logging.captureWarnings(True)
        if level >= logging.WARNING and not args.debug:
            for name in NOISY_LOGGERS:
                logger = logging.getLogger(name)
                self.saved_levels[name] = logger.level
                logger.setLevel(logging.ERROR)
        if bad_env:
            logging.getLogger("interop.cli").warning(
                "ignoring INTEROP_LOG_LEVEL=%r (use one of %s)", bad_env, ", ".join(LOG_LEVELS)
            )

    def _setenv(self, key: str, value: str) -> None:
        self.saved_env.setdefault(key, os.environ.get(key))
        os.environ[key] = value

    def restore(self) -> None:
        import logging

        for key, value in self.saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if self.args.no_plugins:
            refresh_registry()
        if self.handler is not None:
            logging.getLogger().removeHandler(self.handler)
            logging.captureWarnings(False)
        for name, level in self.saved_levels.items():
            logging.getLogger(name or None).setLevel(level)


def refresh_registry() -> None:
    # Discovery is cached per process; re-read it so the environment change takes effect.
    if "interop.registry" in sys.modules:
        registry = sys.modules["interop.registry"]
        registry.CONVERTERS.refresh()
        registry.RUNTIMES.refresh()


def log_level(args: argparse.Namespace) -> tuple[int, str]:
    """(the level to log at, an INTEROP_LOG_LEVEL value that was ignored as invalid)."""
    import logging

    if args.log_level:
        return getattr(logging, args.log_level), ""
    if args.quiet:
        return logging.ERROR, ""
    if args.verbose:
        return (logging.INFO if args.verbose == 1 else logging.DEBUG), ""
    env = os.environ.get("INTEROP_LOG_LEVEL", "").strip()
    if env:
        if env.upper() in LOG_LEVELS:
            return getattr(logging, env.upper()), ""
        return logging.WARNING, env
    return logging.WARNING, ""


def interactive(args: argparse.Namespace) -> bool:
    """Whether to draw progress: both streams are terminals and no --json/--quiet."""
    if args.json or args.quiet:
        return False
    try:
        return sys.stdout.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class LogWriter(io.TextIOBase):
    """A text stream that sends each line written to it to the log at INFO.

    Frameworks print progress to stdout and partial graphs to stderr; during a conversion
    both are redirected here, so stdout carries results only. Libraries may keep a reference
    to it (a handler made while it was sys.stderr), so it is a real io.TextIOBase that stays
    usable after the run. A handler that writes to it while it is logging (one that looks up
    sys.stderr when it emits) gets ``fallback`` instead of a loop.
    """

    def __init__(self, name: str, fallback: Any) -> None:
        import logging
        import threading

        super().__init__()
        self.log = logging.getLogger(name)
        self.fallback = fallback
        self.pending = ""
        self.busy = threading.local()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if getattr(self.busy, "on", False):
            return int(self.fallback.write(text) or 0)
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        self.busy.on = True
        try:
            for line in lines:
                if line.strip():
                    self.log.info("%s", line.rstrip())
        finally:
            self.busy.on = False
        return len(text)

    def flush(self) -> None:
        text, self.pending = self.pending, ""
        if text.strip():
            self.write(text + "\n")
