"""The design holds: the core never imports the daemon, and no two modules import each other."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("taskclf_core", "daemon")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    """Every project module and the project modules it imports (at the top or in a function)."""
    modules = {_module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from pkg import mod` names a module too
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            found.update(t for t in targets if t in modules and t != name)
        graph[name] = found
    return graph


def test_the_core_never_imports_the_daemon() -> None:
    graph = _imports()
    leaks = {m: sorted(d for d in deps if d.startswith("daemon")) for m, deps in graph.items()}
    assert {m: d for m, d in leaks.items() if m.startswith("taskclf_core") and d} == {}


def test_there_is_no_import_cycle() -> None:
    graph = _imports()
    # a package's __init__ is imported on the way to any of its modules: not an edge of ours
    edges = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(edges.get(node, ())):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)
    assert cycles == []
