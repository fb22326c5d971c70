"""interop.optimize: faster variants of a conversion, each checked against the original.

``optimize(model, conversion, profile="fp32")`` builds the variants the profile allows (graph
rewrites; fp16; int8), checks every one against the original framework model, times those
that pass against the plain conversion in paired rounds, and returns the fastest as an
``Optimization``. Names load lazily: importing this package imports no framework.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interop._lazy import callable_package, lazy_getattr

_LAZY = {
    "optimize": "interop.optimize.search",
    "builtin_candidates": "interop.optimize.catalog",
    "Optimization": "interop.optimize.result",
    "Candidate": "interop.optimize.result",
    "CandidateResult": "interop.optimize.result",
    "BuildContext": "interop.optimize.result",
    "NotApplicable": "interop.optimize.result",
    "PROFILES": "interop.optimize.profiles",
}

__all__ = [
    "PROFILES",
    "BuildContext",
    "Candidate",
    "CandidateResult",
    "NotApplicable",
    "Optimization",
    "builtin_candidates",
    "candidate_table",
    "optimize",
]

if TYPE_CHECKING:
    from interop.optimize.catalog import builtin_candidates
    from interop.optimize.profiles import PROFILES
    from interop.optimize.result import (
        BuildContext,
        Candidate,
        CandidateResult,
        NotApplicable,
        Optimization,
    )
    from interop.optimize.search import optimize


def candidate_table(optimization: Any) -> str:
    """The candidate table as text, for ``interop-convert --optimize PROFILE`` to print."""
    from interop.optimize.render import text_table

    return text_table(optimization)


callable_package(__name__, "interop.optimize.search:optimize")
__getattr__ = lazy_getattr(__name__, _LAZY)
