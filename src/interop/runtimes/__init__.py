"""Built-in runtimes, one module per way of running a model; frameworks load on first use.

``interop.runtimes`` is both this package and the public function that lists the
registered runtimes (see ``interop.converters`` for why the package is callable).
"""

from __future__ import annotations

from interop._lazy import callable_package

callable_package(__name__, "interop.registry:runtime_infos")
