"""Layers matched to converted nodes by scope: the nodes a layer owns, and its boundary value.

A layer's converted value is a value its nodes produce and something outside the layer
consumes (or a graph output), lined up with the original's output by shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from interop.diagnose.probes import Probe, pick


@dataclass(frozen=True)
class Node:
    """A converted node or op: its name, the value names it reads and those it writes."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def owned(layer: str, scopes: Sequence[str | None], nested: bool) -> list[int]:
    """Indices of the nodes computing ``layer`` (``scopes[i]`` is node i's owner); with
    ``nested`` a layer also owns its sublayers' nodes (torch module paths: ``encoder``
    owns ``encoder.0.attn``)."""
    prefix = layer + "."
    return [
        i for i, scope in enumerate(scopes)
        if scope is not None and (scope == layer or (nested and layer and scope.startswith(prefix)))
    ]


def boundary(
    mine: Sequence[int], nodes: Sequence[Node], readers: dict[str, set[int]],
    graph_outputs: set[str],
) -> list[str]:
    """Values the nodes ``mine`` produce that a node outside them reads, or that leave
    the graph."""
    inside = set(mine)
    return [
        out
        for i in mine
        for out in nodes[i].outputs
        if out in graph_outputs or (readers.get(out, set()) - inside)
    ]


def scope_probes(
    layers: Sequence[tuple[str, list[np.ndarray]]],
    nodes: Sequence[Node],
    owner: Callable[[Node], str | None],
    graph_outputs: set[str],
    run: Callable[[list[str]], dict[str, Any]],
    *,
    nested: bool = False,
) -> list[Probe]:
    """One probe per layer that owns nodes: the original's leaves against the converted
    boundary values, read in one run of the converted model."""
    scopes = [owner(node) for node in nodes]  # once: owners may parse node metadata
    readers: dict[str, set[int]] = {}
    for i, node in enumerate(nodes):
        for name in node.inputs:
            readers.setdefault(name, set()).add(i)
    plans: list[tuple[str, list[np.ndarray], list[Node], list[str]]] = []
    for layer, originals in layers:
        mine = owned(layer, scopes, nested)
        plans.append((
            layer, originals, [nodes[i] for i in mine],
            boundary(mine, nodes, readers, graph_outputs),
        ))
    wanted = list(dict.fromkeys(v for *_, values in plans for v in values))
    values = run(wanted) if wanted else {}
    probes = []
    for layer, originals, owned_nodes, names in plans:
        if not originals:
            continue
        candidates = [(n, values[n]) for n in names if n in values]
        probe = Probe(layer, [n.name for n in owned_nodes], _joined(originals))
        # every output the converted graph exposes is compared; the first one must be
        # (an RNN's final state may be folded into its sequence output)
        matched = [(o, pick(o, candidates)) for o in originals]
        found = [(o, m) for o, m in matched if m is not None]
        if mine and matched[0][1] is not None:
            probe.original = _joined([o for o, _ in found])
            probe.converted = _joined([m[1] for _, m in found])
            probe.value = ", ".join(m[0] for _, m in found)
        probes.append(probe)
    return probes


def _joined(arrays: Sequence[np.ndarray]) -> np.ndarray:
    if len(arrays) == 1:
        return np.asarray(arrays[0], dtype=np.float64)
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])
