"""The shape of lib/: what may import Streamlit, who writes the job tables, and import cycles.

Read from the source with ``ast`` (nothing is imported). Two of these are ratchets for the
house issue (#13): the lists below name today's debt, may only shrink, and fail when they do
so that the list is shrunk with them.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "lib"

# The modules that write `jobs` or `job_events`: the job store (#13), and the migrations,
# which create the tables and backfill new columns of rows that exist (schema, not moves).
JOB_TABLE_WRITERS = {"lib.jobs.store", "lib.db.migrations"}
# Strongly connected groups of lib/ modules, counting imports deferred into functions (the
# workaround #13 removes). #13 takes these to none; any new cycle fails.
# (Imports under `if TYPE_CHECKING:` are left out; counted, none join either: the layers
# below the engine name `core.context.Services`, not `Engine`.)
KNOWN_CYCLES: list[set[str]] = []

_WRITE = re.compile(
    r"\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+(jobs|job_events)\b", re.I)


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(LIB.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def _imports(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports, at the top or inside a function (a deferred import that
    dodges a cycle is still a cycle), but not under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skipped = {id(n) for stmt in ast.walk(tree) if _type_checking_only(stmt)
               for n in ast.walk(stmt)}
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
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _type_checking_only(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.If) and isinstance(stmt.test, ast.Name)
            and stmt.test.id == "TYPE_CHECKING")


def test_nothing_under_lib_but_lib_ui_imports_streamlit() -> None:
    offenders = sorted(
        name for name, path in _modules()
        if not name.startswith("lib.ui")
        and any(i == "streamlit" or i.startswith("streamlit.")
                for i in _imports(name, path)))
    assert offenders == []


def test_only_the_known_modules_write_the_job_tables() -> None:
    writers = {name for name, path in _modules() if _WRITE.search(path.read_text("utf-8"))}
    assert not writers - JOB_TABLE_WRITERS, "new writers of jobs/job_events"
    assert not JOB_TABLE_WRITERS - writers, "no longer writing them: shrink JOB_TABLE_WRITERS"


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
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
        for w in graph[v]:
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
            if len(group) > 1 or v in graph[v]:
                out.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _graph() -> dict[str, set[str]]:
    modules = dict(_modules())
    return {name: {i for i in _imports(name, path) if i in modules and i != name
                   and not name.startswith(i + ".")}  # a submodule importing its package's names
            for name, path in modules.items()}


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_lib_has_no_new_import_cycles() -> None:
    found = _cycles(_graph())
    new = [c for c in found if c not in KNOWN_CYCLES]
    assert new == [], f"new import cycles in lib/: {new}"
    gone = [c for c in KNOWN_CYCLES if c not in found]
    assert gone == [], f"cycles gone (shrink KNOWN_CYCLES): {gone}"


# Files over the house limit today; #13 splits them. New ones fail, and so does a stale entry.
LONG_FILES: set[str] = set()


def test_no_new_file_under_lib_is_over_400_lines() -> None:
    long = {str(path.relative_to(ROOT)) for _, path in _modules()
            if len(path.read_text("utf-8").splitlines()) > 400}
    assert not long - LONG_FILES, "split these"
    assert not LONG_FILES - long, "now short enough: shrink LONG_FILES"


# Screens stay thin (#13: none over 120 lines).
LONG_SCREENS: set[str] = set()


def test_no_new_screen_is_over_120_lines() -> None:
    long = {str(p.relative_to(ROOT)) for p in (ROOT / "screens").glob("*.py")
            if len(p.read_text("utf-8").splitlines()) > 120}
    assert not long - LONG_SCREENS, "move logic into lib/ui"
    assert not LONG_SCREENS - long, "now thin enough: shrink LONG_SCREENS"
