"""The design holds: every import points down the layers, and no two modules import each other.

The ranks, lowest first:

0. ``taskclf_core``: the pure core;
1. the libraries: ``daemon``'s top-level modules, ``daemon.config``, ``daemon.units``;
2. the running parts: ``daemon.runtime``, ``daemon.collector``, ``daemon.reporting``,
   ``daemon.ui`` (the labelling page's server);
3. the commands: ``daemon.commands.*``, each of which imports no other command;
4. the command line: ``daemon.cli`` (and ``daemon.__main__``).

An import may go to its own rank or a lower one, never up; the commands only down.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("taskclf_core", "daemon")
RANKS = ("core", "library", "running part", "command", "command line")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def rank(module: str) -> int:
    """The layer of ``module`` (an index into :data:`RANKS`)."""
    if module == "taskclf_core" or module.startswith("taskclf_core."):
        return 0
    if module in ("daemon.cli", "daemon.__main__"):
        return 4
    if module.startswith("daemon.commands."):
        return 3
    if module.startswith(
        ("daemon.runtime.", "daemon.collector.", "daemon.reporting.", "daemon.ui.")
    ):
        return 2
    return 1  # daemon, its top-level modules, daemon.config, daemon.units, package inits


def imports(root: Path = ROOT) -> dict[str, set[str]]:
    """Every project module under ``root`` and the project modules it imports (at the top,
    in a function, or for types only)."""
    modules = {
        _module_name(p, root): p for package in PACKAGES for p in (root / package).rglob("*.py")
    }
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


def wrong_way(graph: dict[str, set[str]]) -> list[str]:
    """Each import that points up a rank, or from one command to another, as a line."""
    found = []
    for module, deps in sorted(graph.items()):
        for dep in sorted(deps):
            if module.startswith(dep + "."):
                continue  # a package's __init__ is imported on the way to any of its modules
            up = rank(dep) > rank(module)
            sideways = rank(module) == rank(dep) == 3
            if up or sideways:
                found.append(f"{module} ({RANKS[rank(module)]}) imports {dep} ({RANKS[rank(dep)]})")
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    # a package's __init__ is imported on the way to any of its modules: not an edge of ours
    edges = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(edges.get(node, ())):
            if state.get(dep) == 1:
                found.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)
    return found


def test_every_import_points_down_the_layers() -> None:
    assert wrong_way(imports()) == []


def test_the_core_never_imports_the_daemon() -> None:
    graph = imports()
    leaks = {m: sorted(d for d in deps if d.startswith("daemon")) for m, deps in graph.items()}
    assert {m: d for m, d in leaks.items() if m.startswith("taskclf_core") and d} == {}


def test_there_is_no_import_cycle() -> None:
    assert cycles(imports()) == []


# --- the checker itself: it must catch what it is for --------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    """A copy of the project's module tree under ``root``, with ``files`` added or replaced."""
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            copy = root / path.relative_to(ROOT)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def _append(name: str, line: str) -> dict[str, str]:
    return {
        name: (ROOT / name).read_text(encoding="utf-8")
        + f"\n\ndef _planted() -> None:\n    {line}\n"
    }


@pytest.mark.parametrize(
    ("planted", "expected"),
    [
        (
            _append("daemon/paths.py", "from daemon.runtime.spool import Spool"),
            "daemon.paths (library) imports daemon.runtime.spool (running part)",
        ),
        (
            _append("daemon/collector/health.py", "import daemon.commands.service"),
            "daemon.collector.health (running part) imports daemon.commands.service (command)",
        ),
        (
            _append("daemon/commands/personalize.py", "from daemon.commands.label import run"),
            "daemon.commands.personalize (command) imports daemon.commands.label (command)",
        ),
        (
            _append("daemon/config/keys.py", "from daemon.cli import main"),
            "daemon.config.keys (library) imports daemon.cli (command line)",
        ),
        (
            _append("taskclf_core/ids.py", "from daemon.paths import labels_dir"),
            "taskclf_core.ids (core) imports daemon.paths (library)",
        ),
    ],
    ids=["library-to-runtime", "collector-to-command", "command-to-command", "to-cli", "core"],
)
def test_the_checker_catches_a_planted_wrong_way_import(
    tmp_path: Path, planted: dict[str, str], expected: str
) -> None:
    found = wrong_way(imports(_tree(tmp_path, planted)))
    assert found == [expected]


def test_the_checker_catches_a_planted_cycle(tmp_path: Path) -> None:
    planted = _append("daemon/fsutil.py", "from daemon.publish import write_store")
    found: Iterable[list[str]] = cycles(imports(_tree(tmp_path, planted)))
    assert ["daemon.fsutil", "daemon.publish", "daemon.fsutil"] in [c[-3:] for c in found]
