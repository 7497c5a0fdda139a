"""Figures the reliability suite reports: JSON under ``artifacts/reliability/`` and a table.

A test adds what it measured to a named section; at the end of the run the conftest
writes every section to ``artifacts/reliability/<section>.json`` (git-ignored) and prints
it as a compact table in the terminal summary, so no ``-s`` is needed::

    from tests.reliability import report

    report.row("faults", provider="openai", fault="timeout", status="succeeded", attempts=2)
    report.figures("crash_restart", kills=20, jobs=50, requeued=17)

Rows make a table (one line per row, columns from the union of their keys); figures are
one ``key=value`` line. Values must be JSON-safe. Sections live in this process only.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "reliability"
_MAX_CELL = 48

_lock = threading.Lock()
_rows: dict[str, list[dict[str, Any]]] = {}
_figures: dict[str, dict[str, Any]] = {}


def row(section: str, **values: Any) -> None:
    """Add one row to a section's table."""
    with _lock:
        _rows.setdefault(section, []).append(values)


def tally(section: str, key: dict[str, Any], **counts: int) -> None:
    """Add ``counts`` to the row of ``section`` that holds ``key`` (a new row at first), so a
    test run many times (hypothesis examples, pages) reports one line."""
    with _lock:
        table = _rows.setdefault(section, [])
        found = next((r for r in table if all(r.get(k) == v for k, v in key.items())), None)
        if found is None:
            found = {**key, **dict.fromkeys(counts, 0)}
            table.append(found)
        for name, n in counts.items():
            found[name] = found.get(name, 0) + n


def figures(section: str, **values: Any) -> None:
    """Set headline figures of a section (later calls add or overwrite keys)."""
    with _lock:
        _figures.setdefault(section, {}).update(values)


def rows(section: str) -> list[dict[str, Any]]:
    """A copy of a section's rows so far."""
    with _lock:
        return [dict(r) for r in _rows.get(section, [])]


def sections() -> list[str]:
    """Names of the sections that have anything, sorted."""
    with _lock:
        return sorted(set(_rows) | set(_figures))


def write(directory: Path = ARTIFACTS) -> list[Path]:
    """Write one JSON file per section; returns the paths written."""
    written = []
    directory.mkdir(parents=True, exist_ok=True)
    for name in sections():
        with _lock:
            data = {"figures": dict(_figures.get(name, {})), "rows": list(_rows.get(name, []))}
        path = directory / f"{name}.json"
        path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
        written.append(path)
    return written


def _cell(value: Any) -> str:
    text = "-" if value is None else str(value)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def render(name: str) -> list[str]:
    """A section as text lines: its figures, then its rows as an aligned table."""
    with _lock:
        figs = dict(_figures.get(name, {}))
        rows = list(_rows.get(name, []))
    lines = [f"[{name}]"]
    if figs:
        lines.append("  " + "  ".join(f"{k}={_cell(v)}" for k, v in figs.items()))
    if rows:
        columns: list[str] = []
        for r in rows:
            columns.extend(k for k in r if k not in columns)
        cells = [[_cell(r.get(c)) for c in columns] for r in rows]
        widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
        lines.extend("  " + "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True))
                     for line in cells)
    return lines


def clear() -> None:
    """Forget everything (for tests of this module)."""
    with _lock:
        _rows.clear()
        _figures.clear()
