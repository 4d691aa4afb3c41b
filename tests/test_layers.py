"""The package layout stays true: imports go one way between layers, and no module imports itself
back through others (type-only and function-local imports count too: they are still a dependency).

    core ← wire ← run ← {store, analysis} ← api ← notebook        local stands alone

`or_magic/__init__.py` is the lazy public surface and may name any layer; `localmodel` is the shim
that keeps `python -m or_magic.localmodel` working and may import only `local`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "or_magic"

# A layer may import the layers of lower rank; store and analysis share a rank and do not import
# each other.
RANK = {"core": 0, "wire": 1, "run": 2, "store": 3, "analysis": 3, "api": 4, "notebook": 5}
STANDALONE = {"local": {"local"}, "localmodel": {"local"}}


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, known: set[str], root: Path = PACKAGE) -> set[str]:
    """Every or_magic module that `path` imports, wherever the import statement stands."""
    this = module_name(path, root)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # `from .x import y` may import the submodule x.y or the name y of x
            targets = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in known else prefix for a in node.names]
        else:
            continue
        found.update(t for t in targets if t == "or_magic" or t.startswith("or_magic."))
    return found - {this}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    paths = sorted(package.rglob("*.py"))
    known = {module_name(p, package) for p in paths}
    edges = {module_name(p, package): imported_modules(p, known, package) for p in paths}
    # importing a.b.c runs the __init__ of a.b too, which is no dependency worth a rule
    return {m: {t for t in targets if not (t in known and m.startswith(t + "."))} for m, targets in edges.items()}


def violations(edges: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(edges.items()):
        source = layer_of(module)
        if source == "__init__":
            continue
        for target in sorted(targets):
            dest = layer_of(target)
            if source in STANDALONE or dest in STANDALONE:
                if dest not in STANDALONE.get(source, set()):
                    found.append(f"{module} -> {target}: {dest if source not in STANDALONE else source} stands alone")
                continue
            if dest == "__init__":
                found.append(f"{module} -> {target}: only the package's own __init__ may use it")
            elif dest != source and RANK[dest] >= RANK[source]:
                found.append(f"{module} -> {target}: {source} may not import {dest}")
    return found


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in edges:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_imports_follow_the_layers():
    assert violations(graph()) == []


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_every_module_sits_in_a_layer():
    top_level = {module_name(p) for p in PACKAGE.glob("*.py")}
    assert top_level <= {"or_magic", "or_magic.api", "or_magic.localmodel", "or_magic.__main__"}
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} <= set(RANK) | {"local"}


def test_the_checks_catch_a_reversed_import_and_a_cycle(tmp_path):
    """The rules above would fail on a wrong tree: build one and look."""
    bad = tmp_path / "or_magic"
    for layer in ("core", "wire"):
        (bad / layer).mkdir(parents=True)
        (bad / layer / "__init__.py").write_text("")
    (bad / "__init__.py").write_text("")
    (bad / "core" / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..wire.b import B\n")
    (bad / "wire" / "b.py").write_text("def f():\n    from ..core import a\n")
    edges = graph(bad)
    assert violations(edges) == ["or_magic.core.a -> or_magic.wire.b: core may not import wire"]
    assert cycles(edges) == [["or_magic.core.a", "or_magic.wire.b"]]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path):
    assert len(path.read_text().splitlines()) <= 300, "split the module: one job each"
