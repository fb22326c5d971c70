"""The versions a report records: Python, platform, interop and the frameworks involved."""

from __future__ import annotations

import contextlib
import platform
from importlib import metadata

# distributions worth naming in a report, per source or format
DISTRIBUTIONS = {
    "torch": ("torch", "onnxscript"),
    "tensorflow": ("tensorflow-cpu", "tensorflow", "keras", "tf2onnx"),
    "sklearn": ("scikit-learn", "skl2onnx"),
    "onnx": ("onnx", "onnxruntime"),
    "coreml": ("coremltools",),
}


def environment(*names: str) -> dict[str, str]:
    """Python, platform, interop and the installed versions of the frameworks involved.

    ``names`` are sources or formats (``"torch"``, ``"onnx"``) or distribution names; the
    versions come from package metadata, so nothing is imported.
    """
    from interop import __version__

    env = {
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "interop": __version__,
    }
    with contextlib.suppress(metadata.PackageNotFoundError):
        env["numpy"] = metadata.version("numpy")
    for name in names:
        for dist in DISTRIBUTIONS.get(name, (name,)):
            try:
                env[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                continue
    return env
