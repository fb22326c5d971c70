"""The Diagnosis: per-layer errors in execution order, the first divergence, a minimal input."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = "interop.diagnosis/1"
SUFFIXES = (".json", ".md", ".html")


@dataclass(frozen=True)
class LayerDiff:
    """One comparable layer boundary: the original's name for it, the converted nodes that
    compute it, and how far the converted value is from the original's."""

    layer: str
    nodes: tuple[str, ...]
    max_abs_error: float
    required_atol: float
    passed: bool
    value: str = ""
    shape: tuple[int, ...] = ()
    atol: float = 0.0
    rtol: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["nodes"], data["shape"] = list(self.nodes), list(self.shape)
        return {k: _finite(v) for k, v in data.items()}


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else "inf"
    return value


@dataclass
class Diagnosis:
    """Where a converted model starts to differ from its original, layer by layer."""

    source: str
    target: str
    converter: str
    layers: list[LayerDiff]
    first_divergence: LayerDiff | None
    outputs_passed: bool
    minimal_input: dict[str, Any] | None = None
    minimal_input_info: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 1
    method: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.outputs_passed and self.first_divergence is None

    def worst(self, count: int = 5) -> list[LayerDiff]:
        """The layers with the largest required atol beyond their tolerance, worst first."""
        failing = [d for d in self.layers if not d.passed]
        return sorted(failing, key=lambda d: -d.required_atol)[:count]

    @property
    def summary(self) -> str:
        head = f"{self.source} -> {self.target} ({self.converter}), {len(self.layers)} layers"
        if self.first_divergence is not None:
            d = self.first_divergence
            nodes = ", ".join(d.nodes[:3]) + (" ..." if len(d.nodes) > 3 else "")
            return (
                f"{head}: first divergence at {d.layer!r} (max abs error "
                f"{d.max_abs_error:.3g}, needs atol {d.required_atol:.3g} > {d.atol:g}; "
                f"nodes {nodes})"
            )
        if not self.outputs_passed:
            return f"{head}: every compared layer matches, but the outputs differ"
        return f"{head}: no divergence"

    def __str__(self) -> str:
        return self.summary

    def to_dict(self) -> dict[str, Any]:
        minimal = None
        if self.minimal_input is not None:
            minimal = {k: _list(v) for k, v in self.minimal_input.items()}
        return {
            "schema": SCHEMA,
            "passed": self.passed,
            "summary": self.summary,
            "source": self.source,
            "target": self.target,
            "converter": self.converter,
            "method": self.method,
            "batch_size": self.batch_size,
            "outputs_passed": self.outputs_passed,
            "first_divergence": (
                self.first_divergence.to_dict() if self.first_divergence else None
            ),
            "layers": [d.to_dict() for d in self.layers],
            "minimal_input": minimal,
            "minimal_input_info": dict(self.minimal_input_info),
            "notes": list(self.notes),
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the diagnosis; the format follows the suffix (.json .md .html)."""
        from interop.diagnose.render import to_html, to_markdown
        from interop.errors import InvalidInput
        from interop.types import atomic_write

        target = Path(path)
        suffix = target.suffix.lower()
        if suffix not in SUFFIXES:
            raise InvalidInput(
                f"cannot tell the diagnosis format from {target.name!r}",
                "use a path ending in " + ", ".join(SUFFIXES),
            )
        data = self.to_dict()
        if suffix == ".json":
            text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        else:
            text = (to_markdown if suffix == ".md" else to_html)(data)

        def write(tmp: Path) -> None:
            tmp.write_text(text, encoding="utf-8")

        return atomic_write(target, write)


def _list(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else value
