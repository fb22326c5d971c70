"""Core ML lowerings interop adds to coremltools' torch frontend: one table, one register().

coremltools 9's torch.export frontend lacks ops that Hugging Face models use (``new_ones``,
``diff``, ``where.ScalarOther``, bitwise ops on int masks, ...). Each lowering lives in its
own module here and is named in ``LOWERINGS``; nothing is imported, and nothing touches
coremltools' registry, until :func:`register` runs (the torch -> Core ML converter calls it).

Registration is process-wide, since coremltools keeps one op registry. It is idempotent and
thread-safe (a lock and a flag), and it never replaces a lowering the user registered under
the same name: only a name that is missing, or that coremltools itself lowers wrongly (marked
``replaces_builtin``), gets interop's lowering.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Lowering:
    """Registry names (as coremltools sanitises them) lowered by ``module:lower``."""

    names: tuple[str, ...]
    module: str
    replaces_builtin: bool = False
    why: str = ""


LOWERINGS: tuple[Lowering, ...] = (
    Lowering(("new_ones",), "new_ones", why="BERT, DistilBERT, CLIP text, GPT-2, Llama, T5"),
    Lowering(("alias",), "alias", why="GPT-2, Llama, Mistral (causal-mask views)"),
    Lowering(("diff",), "diff", why="GPT-2, Llama (packed-sequence detection)"),
    Lowering(("where.scalarother", "where.scalar"), "where_scalar", why="T5 (position buckets)"),
    # torch.export names the operators "__and__" ...; coremltools checks that exact name
    # when it reads the graph, then looks the lowering up as "and"
    Lowering(("and", "or", "xor", "__and__", "__or__", "__xor__"), "bitwise",
             replaces_builtin=True,
             why="attention masks combined with & | ^ on int or bool tensors"),
    Lowering(("scaled_dot_product_attention",), "sdpa", replaces_builtin=True,
             why="GPT-2, Llama, CLIP text: fully masked rows are zeros in torch"),
    Lowering(("int", "bool"), "item_cast", replaces_builtin=True,
             why="jit.trace route: coremltools' int()/bool() of a 1-element constant fails on "
                 "numpy >= 2.4"),
)

MARK = "_interop_lowering"

_lock = threading.Lock()
_registered = False
_kept: list[str] = []


def lowering_function(lowering: Lowering) -> Callable[..., Any]:
    """The ``lower(context, node)`` function of a lowering (imports its module)."""
    module = importlib.import_module(f"{__name__}.{lowering.module}")
    return module.lower  # type: ignore[no-any-return]


def _is_coremltools_own(func: Any) -> bool:
    return str(getattr(func, "__module__", "")).startswith("coremltools.")


def _named(func: Callable[..., Any], name: str) -> Callable[..., Any]:
    """A wrapper whose ``__name__`` is the registry name (register_torch_op keys by it)."""

    def lowered(context: Any, node: Any) -> Any:
        return func(context, node)

    lowered.__name__ = name
    lowered.__qualname__ = f"interop:{name}"
    lowered.__module__ = func.__module__
    setattr(lowered, MARK, True)
    return lowered


def register() -> list[str]:
    """Register interop's lowerings with coremltools once per process.

    Returns the names whose lowering was left as the user registered it (empty when every
    name got interop's). Safe to call from several threads and any number of times.
    """
    global _registered
    if _registered:
        return list(_kept)
    with _lock:
        if _registered:
            return list(_kept)
        from coremltools.converters.mil.frontend.torch.torch_op_registry import (
            _TORCH_OPS_REGISTRY,
            register_torch_op,
        )

        mapping = _TORCH_OPS_REGISTRY.name_to_func_mapping
        for lowering in LOWERINGS:
            func = lowering_function(lowering)
            for name in lowering.names:
                existing = mapping.get(name)
                ours = existing is not None and getattr(existing, MARK, False)
                theirs = existing is not None and not ours and not _is_coremltools_own(existing)
                if theirs:
                    _kept.append(name)  # the user's own lowering wins
                    continue
                if existing is not None and not ours and not lowering.replaces_builtin:
                    continue  # coremltools lowers it already (a newer release)
                lowered = _named(func, name)
                if name.endswith("_"):
                    # register_torch_op refuses names ending in "_" (it takes them for
                    # in-place ops); "__and__" is the name the graph reader checks
                    _TORCH_OPS_REGISTRY.set_func_by_name(lowered, name)
                else:
                    register_torch_op(lowered, override=existing is not None)
        _registered = True
        return list(_kept)


def is_registered() -> bool:
    return _registered


__all__ = ["LOWERINGS", "Lowering", "is_registered", "lowering_function", "register"]
