"""The layering rules of docs/architecture.md, read from the source with ``ast``.

Every ``import`` and ``from ... import`` counts, deferred ones inside functions included;
imports under ``if TYPE_CHECKING:`` do not run and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_LINES = 600

# Layers that must never reach up or sideways: module prefix -> prefixes it may not import.
FORBIDDEN = {
    "interop.converters": ("interop.runtimes", "interop.api", "interop.cli", "interop.harness"),
    "interop.runtimes": ("interop.converters", "interop.api", "interop.cli", "interop.harness"),
    "interop.frameworks": (
        "interop.converters",
        "interop.runtimes",
        "interop.harness",
        "interop.api",
        "interop.cli",
        "interop.registry",
        "interop.loaders",
    ),
    "interop.types": ("interop.harness", "interop.api", "interop.registry"),
    "interop.errors": ("interop.",),
}
# The harness's numerical parts compare arrays; they never import a framework.
FRAMEWORK_FREE = ("interop.harness.compare", "interop.harness.timing", "interop.harness.inputs")
FRAMEWORKS = ("torch", "tensorflow", "keras", "sklearn", "coremltools", "onnxruntime", "onnx")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _drop_type_checking(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []


def imported_names(source: str, module: str, is_package: bool) -> set[str]:
    """Absolute module names (and ``module.attr`` candidates) that ``source`` imports."""
    tree = ast.parse(source)
    _drop_type_checking(tree)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph(root: Path, package: str) -> tuple[dict[str, set[str]], dict[str, int]]:
    """Module -> the package's modules it imports; and module -> its line count."""
    files = {module_name(p, root): p for p in (root / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    sizes: dict[str, int] = {}
    for module, path in files.items():
        text = path.read_text(encoding="utf-8")
        sizes[module] = text.count("\n") + 1
        edges = set()
        for name in imported_names(text, module, path.name == "__init__.py"):
            while name and name not in files:  # "pkg.mod.attr" -> "pkg.mod"
                name = name.rpartition(".")[0]
            if name and name != module:
                edges.add(name)
        graph[module] = edges
    # Importing a submodule runs its package's __init__ first; that is an edge only when the
    # __init__ itself imports something of ours.
    for module, edges in graph.items():
        for dep in list(edges):
            if module.startswith(dep + ".") and not graph.get(dep):
                edges.discard(dep)
    return graph, sizes


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def layering_problems(graph: dict[str, set[str]], sizes: dict[str, int]) -> list[str]:
    problems = [f"import cycle: {' <-> '.join(c)}" for c in cycles(graph)]
    for module, edges in sorted(graph.items()):
        for prefix, banned in FORBIDDEN.items():
            if module == prefix or module.startswith(prefix + "."):
                problems += [
                    f"{module} imports {dep} (the {prefix} layer must not)"
                    for dep in sorted(edges)
                    if any(dep == b or dep.startswith(b if b.endswith(".") else b + ".")
                           for b in banned)
                ]
    problems += [
        f"{module}: {n} lines (limit {MAX_LINES})"
        for module, n in sorted(sizes.items())
        if n > MAX_LINES
    ]
    return problems


def test_src_interop_keeps_its_layers() -> None:
    graph, sizes = import_graph(SRC, "interop")
    assert len(graph) > 40, "the walk found too few modules; is SRC right?"
    assert layering_problems(graph, sizes) == []


def test_harness_numerics_import_no_framework() -> None:
    for module in FRAMEWORK_FREE:
        path = SRC / (module.replace(".", "/") + ".py")
        names = imported_names(path.read_text(encoding="utf-8"), module, False)
        roots = {n.split(".")[0] for n in names}
        assert not roots & set(FRAMEWORKS), f"{module} imports {sorted(roots & set(FRAMEWORKS))}"


def test_nothing_in_src_imports_conformance_or_plugins() -> None:
    for path in (SRC / "interop").rglob("*.py"):
        module = module_name(path, SRC)
        names = imported_names(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
        roots = {n.split(".")[0] for n in names}
        assert not roots & {"conformance", "interop_boosting", "interop_tflite"}, module


# -- the checker itself can fail: planted trees ------------------------------------------------
def _plant(tmp_path: Path, files: dict[str, str]) -> tuple[dict[str, set[str]], dict[str, int]]:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return import_graph(tmp_path, "interop")


def test_a_deferred_import_cycle_is_found(tmp_path: Path) -> None:
    graph, sizes = _plant(
        tmp_path,
        {
            "interop/__init__.py": "",
            "interop/a.py": "from interop.b import x\n",
            "interop/b.py": "def f():\n    from interop import a\n",
        },
    )
    assert layering_problems(graph, sizes) == ["import cycle: interop.a <-> interop.b"]


def test_type_checking_imports_do_not_count(tmp_path: Path) -> None:
    graph, sizes = _plant(
        tmp_path,
        {
            "interop/__init__.py": "",
            "interop/a.py": "from interop.b import x\n",
            "interop/b.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from interop.a import y\n",
        },
    )
    assert layering_problems(graph, sizes) == []


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("interop/converters/x.py", "interop.runtimes.y"),
        ("interop/runtimes/y.py", "interop.converters.x"),
    ],
)
def test_a_converter_runtime_import_is_found(tmp_path: Path, importer: str, imported: str) -> None:
    graph, sizes = _plant(
        tmp_path,
        {
            "interop/__init__.py": "",
            "interop/converters/__init__.py": "",
            "interop/runtimes/__init__.py": "",
            "interop/converters/x.py": "",
            "interop/runtimes/y.py": "",
            importer: f"def f():\n    import {imported}\n",
        },
    )
    problems = layering_problems(graph, sizes)
    assert len(problems) == 1 and f"imports {imported}" in problems[0]


def test_a_long_module_is_found(tmp_path: Path) -> None:
    graph, sizes = _plant(
        tmp_path, {"interop/__init__.py": "", "interop/big.py": "x = 1\n" * MAX_LINES}
    )
    assert layering_problems(graph, sizes) == [f"interop.big: {MAX_LINES + 1} lines (limit 600)"]
