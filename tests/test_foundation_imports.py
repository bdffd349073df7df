"""The package import graph is acyclic: module-level and function-local imports both count.

A cycle hidden behind a function-local import still ties two rooms together (and breaks the
day someone moves the import up). Edges are read from the source with ``ast``, so nothing is
imported; ``from pkg import name`` points at ``pkg.name`` when that is a module, else at ``pkg``.
Imports under ``if TYPE_CHECKING:`` are left out: they never run (annotations only).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
    "setuptools"]["package-dir"]


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of every polydiff package."""
    out = {}
    for top, folder in PACKAGE_DIR.items():
        for py in (root / folder).rglob("*.py"):
            rel = py.relative_to(root / folder)
            if "__pycache__" in rel.parts or "cache" in rel.parts:
                continue
            parts = rel.with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join((top, *parts))] = py
    return out


def import_edges(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the polydiff modules it imports anywhere in its body."""
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(), str(path))
        typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and "TYPE_CHECKING" in ast.unparse(block.test) for n in ast.walk(block)}
        for node in ast.walk(tree):
            targets: list[str] = []
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    src = ".".join(base + ([node.module] if node.module else []))
                else:
                    src = node.module or ""
                targets = [f"{src}.{a.name}" if f"{src}.{a.name}" in mods else src for a in node.names]
            for t in targets:
                while t and t not in mods:  # `import polydiff.core.x` -> the deepest known module
                    t = t.rpartition(".")[0]
                if t and t != name:
                    edges[name].add(t)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_sees_function_local_imports(tmp_path):
    """The checker itself: a cycle closed by a function-local import is found."""
    (tmp_path / "a.py").write_text("from . import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from .a import x\n")
    (tmp_path / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                   "    from .a import y\nimport polydiff.core\n")
    (tmp_path / "d.py").write_text("from . import c\n")
    mods = {f"p.{m}": tmp_path / f"{m}.py" for m in "abcd"}
    edges = import_edges(mods)
    assert edges["p.c"] == set() and edges["p.d"] == {"p.c"}
    assert cycles(edges) == [["p.a", "p.b"]]


def test_package_import_graph_is_acyclic():
    found = cycles(import_edges(modules()))
    assert not found, f"import cycles (module-level or function-local): {found}"


def test_no_bench_module_inside_a_domain_package():
    """Measurement lives in polydiff.bench; the domain packages hold the library."""
    inside = sorted(m for m in modules() if not m.startswith("polydiff.bench")
                    and m.rpartition(".")[2].startswith("bench"))
    assert not inside, f"benchmark modules inside library packages: {inside}"
