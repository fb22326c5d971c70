"""Built-in converters, one module per (source -> target); each imports its framework lazily.

``interop.converters`` is both this package and the public function that lists the
registered converters: importing a submodule makes Python bind the package to that name on
``interop``, so the package itself is callable and answers like the function.
"""

from __future__ import annotations

from interop._lazy import callable_package

callable_package(__name__, "interop.registry:converter_infos")
