"""The shape of lib/: what may import Streamlit, who writes the job and webhook tables, no import
cycles, and files a person can read (the house issue, #13).

Read from the source with ``ast`` (nothing is imported), through the same graph that
``scripts/import_graph.py`` prints.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from scripts.import_graph import cycles, graph, imports, modules, packages

ROOT = Path(__file__).resolve().parents[1]

# The only writers of `jobs` and `job_events`: the job store, and the migrations, which
# create the tables and backfill new columns of rows that exist (schema, not moves).
JOB_TABLE_WRITERS = {"lib.jobs.store", "lib.db.migrations"}
_WRITE = re.compile(
    r"\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+(jobs|job_events)\b", re.I)
# The webhook tables (endpoints, deliveries, the outbox's cursors, what was announced) are
# written by lib/webhooks only (and created, with the cursors' first positions, by migration).
_WEBHOOK_WRITE = re.compile(
    r"\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+(webhook_\w+)\b", re.I)

# The audit log is appended to by lib/audit alone; nothing updates a row, and only the
# retention prune (lib/audit/query.py) deletes.
_AUDIT_WRITE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+audit_log\b", re.I)
_AUDIT_CHANGE = re.compile(r"\b(?:UPDATE\s+audit_log|DELETE\s+FROM\s+audit_log)\b", re.I)


def test_nothing_under_lib_but_lib_ui_imports_streamlit() -> None:
    offenders = sorted(
        name for name, path in modules(ROOT)
        if not name.startswith("lib.ui")
        and any(i == "streamlit" or i.startswith("streamlit.")
                for i in imports(name, path, typed=True)))
    assert offenders == []


def test_nothing_under_lib_but_the_engine_and_lib_ui_imports_the_engine() -> None:
    """Lower layers type against ``core.context.Services``, not the composition root."""
    offenders = sorted(
        name for name, deps in graph(ROOT, typed=True).items()
        if "lib.engine" in deps and not name.startswith("lib.ui")
        and name != "lib.cli")
    assert offenders == []


def test_only_the_job_store_writes_the_job_tables() -> None:
    writers = {name for name, path in modules(ROOT) if _WRITE.search(path.read_text("utf-8"))}
    assert writers == JOB_TABLE_WRITERS


def test_only_the_webhooks_package_writes_the_webhook_tables() -> None:
    writers = {name for name, path in modules(ROOT)
               if _WEBHOOK_WRITE.search(path.read_text("utf-8"))}
    assert "lib.webhooks.deliveries" in writers  # the rule sees the writes
    assert {w for w in writers
            if not w.startswith("lib.webhooks.") and w != "lib.db.migrations"} == set()


def test_only_the_audit_package_writes_the_audit_log_and_only_its_prune_deletes() -> None:
    writers = {name for name, path in modules(ROOT)
               if _AUDIT_WRITE.search(path.read_text("utf-8"))}
    changers = {name for name, path in modules(ROOT)
                if _AUDIT_CHANGE.search(path.read_text("utf-8"))}
    assert writers == {"lib.audit.log", "lib.audit.query"}
    assert changers == {"lib.audit.query"}
    prune_file = (ROOT / "lib" / "audit" / "query.py").read_text("utf-8")
    assert "UPDATE audit_log" not in prune_file


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_lib_has_no_import_cycles_between_modules() -> None:
    """Counting imports deferred into functions and those under ``if TYPE_CHECKING:``."""
    assert cycles(graph(ROOT)) == []
    assert cycles(graph(ROOT, typed=True)) == []


def test_lib_has_no_import_cycles_between_packages_at_run_time() -> None:
    """``jobs`` may use ``money`` and ``styles``, and ``gallery`` may use ``jobs``, but not
    back. (Counting type-only imports, ``core.context`` names the types of the parts it hands
    out, from db, storage, providers and jobs: that one knot is in annotations only.)"""
    assert cycles(packages(graph(ROOT))) == []


def test_no_file_under_lib_is_over_400_lines() -> None:
    long = {str(path.relative_to(ROOT)) for _, path in modules(ROOT)
            if len(path.read_text("utf-8").splitlines()) > 400}
    assert long == set(), "split these"


def test_no_screen_is_over_120_lines() -> None:
    long = {str(p.relative_to(ROOT)) for p in (ROOT / "screens").glob("*.py")
            if len(p.read_text("utf-8").splitlines()) > 120}
    assert long == set(), "move logic into lib/ui"


def _private_names_used_from_other_modules() -> list[str]:
    """``from lib.x import _name`` and ``x._name`` on a lib module, anywhere under lib/."""
    mods = dict(modules(ROOT))
    found = []
    for name, path in mods.items():
        tree = ast.parse(path.read_text("utf-8"))
        bound: set[str] = set()  # local names bound to a lib module
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lib"):
                for alias in node.names:
                    if alias.name.startswith("_"):
                        found.append(f"{name}: from {node.module} import {alias.name}")
                    if f"{node.module}.{alias.name}" in mods:
                        bound.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                bound.update(a.asname or a.name for a in node.names if a.name.startswith("lib"))
        found += [f"{name}:{node.lineno}: {node.value.id}.{node.attr}"
                  for node in ast.walk(tree)
                  if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                  and node.value.id in bound and node.attr.startswith("_")
                  and not node.attr.startswith("__")]
    return found


def test_no_private_name_crosses_a_module() -> None:
    assert _private_names_used_from_other_modules() == []
