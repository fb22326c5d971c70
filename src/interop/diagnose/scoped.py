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


def owned(
    layer: str, nodes: Sequence[Node], owner: Callable[[Node], str | None], nested: bool
) -> list[Node]:
    """The nodes computing ``layer``; with ``nested`` a layer also owns its sublayers' nodes
    (torch module paths: ``encoder`` owns ``encoder.0.attn``)."""
    found = []
    for node in nodes:
        scope = owner(node)
        if scope is None:
            continue
        if scope == layer or (nested and layer and scope.startswith(layer + ".")):
            found.append(node)
    return found


def boundary(mine: Sequence[Node], nodes: Sequence[Node], graph_outputs: set[str]) -> list[str]:
    """Values ``mine`` produce that a node outside them reads, or that leave the graph."""
    inside = {id(n) for n in mine}
    read_outside = {i for n in nodes if id(n) not in inside for i in n.inputs}
    return [
        out
        for node in mine
        for out in node.outputs
        if out in read_outside or out in graph_outputs
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
    plans: list[tuple[str, list[np.ndarray], list[Node], list[str]]] = []
    for layer, originals in layers:
        mine = owned(layer, nodes, owner, nested)
        plans.append((layer, originals, mine, boundary(mine, nodes, graph_outputs)))
    wanted = list(dict.fromkeys(v for *_, values in plans for v in values))
    values = run(wanted) if wanted else {}
    probes = []
    for layer, originals, mine, names in plans:
        if not originals:
            continue
        candidates = [(n, values[n]) for n in names if n in values]
        probe = Probe(layer, [n.name for n in mine], _joined(originals))
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
