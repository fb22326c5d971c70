"""TensorFlow's native log lines kept off the user's terminal: at import and while converting.

TensorFlow 2.21 logs through absl before absl is initialised, so ``TF_CPP_MIN_LOG_LEVEL``
does not stop every line. Measured here: importing it wrote "WARNING: All log messages before
absl::InitializeLog() ..." and the oneDNN "I0000 ... port.cc" line, and each grappler run
inside tf2onnx or coremltools wrote "devices.cc ... Number of eligible GPUs" and
"single_machine.cc ... Starting new session", all to file descriptor 2. ``quiet_native``
points fd 2 at a temporary file for a block and sends its text to the debug log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from interop.frameworks import locks

log = logging.getLogger("interop.frameworks.tensorflow")


@contextlib.contextmanager
def quiet_native(what: str) -> Iterator[None]:
    """File descriptor 2 into a temporary file for the block; its text to the debug log.

    The descriptor is the process's: the ``stdio`` lock lets one thread redirect it at a time.
    """
    with locks.hold("stdio", what):
        try:
            saved = os.dup(2)
        except OSError:  # no real descriptor (an embedded interpreter): nothing to capture
            yield
            return
        with tempfile.TemporaryFile() as sink:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                with contextlib.suppress(Exception):
                    sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                text = sink.read().decode("utf-8", "replace").strip()
                if text:
                    log.debug("%s: TensorFlow wrote to stderr:\n%s", what, text)


def import_tensorflow() -> Any:
    """``import tensorflow``, with its start-up lines sent to the debug log."""
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with quiet_native("import tensorflow"):
            import tensorflow  # noqa: F401
    import tensorflow as tf

    return tf
