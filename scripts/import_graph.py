"""The import graph of lib/: modules, cycles and levels, as JSON.

    python scripts/import_graph.py [--root DIR]

A module imports another if it names it at the top or inside a function (a deferred import
that dodges a cycle is still an arrow). Two graphs are measured: ``runtime`` leaves out imports
under ``if TYPE_CHECKING:``; ``typed`` counts them too (a type-only arrow still ties two modules
together for a reader). For each: the cycles (strongly connected groups), and the levels: the
number of modules on the longest chain of imports once each cycle is folded into one node.
tests/test_architecture.py asserts on the same graph.
"""

from __future__ import annotations

import argparse
import ast
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path


def modules(root: Path) -> Iterator[tuple[str, Path]]:
    """(dotted name, path) of every module under ``root/lib``."""
    for path in sorted((root / "lib").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _type_checking_only(stmt: ast.AST) -> bool:
    return (isinstance(stmt, ast.If) and isinstance(stmt.test, ast.Name)
            and stmt.test.id == "TYPE_CHECKING")


def imports(name: str, path: Path, *, typed: bool = False,
            known: frozenset[str] = frozenset()) -> set[str]:
    """Every name ``name`` imports (modules and ``module.attr``); type-only ones if ``typed``.

    ``from pkg import mod`` names the module ``pkg.mod``, not ``pkg``, when ``pkg.mod`` is one
    of ``known``: the package is passed through, not used."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skipped = set() if typed else {id(n) for stmt in ast.walk(tree)
                                   if _type_checking_only(stmt) for n in ast.walk(stmt)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = {f"{base}.{alias.name}" for alias in node.names}
            found.update(names)
            if not names <= known:
                found.add(base)
    return found


def facade(path: Path) -> bool:
    """A package ``__init__`` that only re-exports (docstring, imports, ``__all__``): a door
    into the package, not a layer of it."""
    if path.name != "__init__.py":
        return False
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return all(isinstance(n, ast.Import | ast.ImportFrom)
               or (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
               or (isinstance(n, ast.Assign) and [getattr(t, "id", "") for t in n.targets]
                   == ["__all__"])
               for n in body)


def graph(root: Path, *, typed: bool = False) -> dict[str, set[str]]:
    """Module → the lib modules it imports (a submodule naming its own package is left out).

    An arrow to a re-exporting package ``__init__`` (:func:`facade`) is drawn to the modules
    that ``__init__`` imports instead, and the facade itself is left out."""
    mods = dict(modules(root))
    known = frozenset(mods)
    raw = {name: {i for i in imports(name, path, typed=typed, known=known)
                  if i in mods and i != name and not name.startswith(i + ".")}
           for name, path in mods.items()}
    doors = {name for name, path in mods.items() if facade(path)}

    def through(m: str, seen: frozenset[str] = frozenset()) -> set[str]:
        if m not in doors:
            return {m}
        return set().union(*(through(d, seen | {m}) for d in raw[m] if d not in seen), set())

    return {name: set().union(*(through(d) for d in deps), set()) - {name}
            for name, deps in raw.items() if name not in doors}


def cycles(g: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components with more than one member, or a self-import."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group: set[str] = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1 or v in g[v]:
                out.append(group)

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def levels(g: dict[str, set[str]]) -> int:
    """Modules on the longest import chain, each cycle folded into one node."""
    return len(longest_chain(g))


def longest_chain(g: dict[str, set[str]]) -> list[str]:
    """The longest import chain, top first, each cycle folded into its first member."""
    node = {m: m for m in g}
    for group in cycles(g):
        head = min(group)
        for m in group:
            node[m] = head
    folded: dict[str, set[str]] = {}
    for m, deps in g.items():
        folded.setdefault(node[m], set()).update(node[d] for d in deps if node[d] != node[m])

    @cache
    def chain(m: str) -> tuple[str, ...]:
        below = max((chain(d) for d in sorted(folded.get(m, ()))), key=len, default=())
        return (m, *below)

    return list(max((chain(m) for m in sorted(folded)), key=len, default=()))


def packages(g: dict[str, set[str]]) -> dict[str, set[str]]:
    """The same graph between packages (``lib.jobs.store`` → ``lib.jobs``; top modules stay)."""
    def pkg(m: str) -> str:
        parts = m.split(".")
        return ".".join(parts[:2])
    out: dict[str, set[str]] = {}
    for m, deps in g.items():
        out.setdefault(pkg(m), set()).update(pkg(d) for d in deps if pkg(d) != pkg(m))
    return out


def measure(root: Path) -> dict[str, object]:
    out: dict[str, object] = {"modules": len(dict(modules(root)))}
    for label, typed in (("runtime", False), ("typed", True)):
        g = graph(root, typed=typed)
        found = cycles(g)
        p = packages(g)
        out[label] = {"arrows": sum(len(d) for d in g.values()), "levels": levels(g),
                      "cycles": [sorted(c) for c in found],
                      "modules_in_cycles": sum(len(c) for c in found),
                      "longest_chain": longest_chain(g),
                      "packages": len(p), "package_levels": levels(p),
                      "package_cycles": [sorted(c) for c in cycles(p)]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    print(json.dumps(measure(parser.parse_args().root), indent=2))


if __name__ == "__main__":
    main()
