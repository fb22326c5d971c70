"""Core ML ML programs as scoped nodes, and their intermediate values from the reference
executor (``MLProgramExecutor.run(feed, keep=...)``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from interop.diagnose.scoped import Node

# coremltools appends these to an op's output name when it inserts dtype casts
SUFFIXES = ("_cast_fp16", "_cast_fp32", "_to_fp16", "_to_fp32")


def executor_of(model: Any) -> Any:
    from interop.coreml_ref import load_executor
    from interop.frameworks.coreml import quiet_coremltools

    with quiet_coremltools():
        return load_executor(model)


def program_nodes(executor: Any) -> tuple[list[Node], set[str]]:
    """The main block's ops (not constants) as nodes, and the block's output names."""
    spec = executor.spec
    if spec.WhichOneof("Type") != "mlProgram":
        return [], set()
    fn = spec.mlProgram.functions["main"]
    block = fn.block_specializations[fn.opset]
    nodes = []
    for op in block.operations:
        if op.type == "const":
            continue
        reads = tuple(
            b.name
            for arg in op.inputs.values()
            for b in arg.arguments
            if b.WhichOneof("binding") == "name"
        )
        outputs = tuple(o.name for o in op.outputs)
        nodes.append(Node(outputs[0] if outputs else op.type, reads, outputs))
    return nodes, set(block.outputs)


def run_keeping(executor: Any, feed: Mapping[str, Any]) -> Callable[[list[str]], dict]:
    return lambda names: executor.run(feed, keep=names)


def base_name(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def prefix_owner(owners: dict[str, str]) -> Callable[[Node], str | None]:
    """Op -> layer through the longest source name that the op's name starts with
    (``linear_1_cast_fp16`` -> FX node ``linear_1`` -> its module)."""
    names = sorted(owners, key=len, reverse=True)

    def owner(node: Node) -> str | None:
        base = base_name(node.name)
        for name in names:
            if base == name or base.startswith(name + "_"):
                return owners[name]
        return None

    return owner
