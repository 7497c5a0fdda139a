"""Saved comparisons that name a model its maker shuts down soon (or has shut down): which
columns, and the one-click move, a new run of the same grid on the replacement models.

A saved comparison is a record of what ran, so it is never rewritten: its images, costs and
winners stay as they were. "Run again with the replacement" starts a new comparison whose
grid names the replacement wherever the old one named a retiring model (through
``store.start``: the same budget check, confirmation for a big grid and access rules).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from lib.auth.access import Viewer
from lib.catalog import book as catalog
from lib.catalog import lifecycle
from lib.catalog.lifecycle import ShutdownWarning
from lib.compare import store
from lib.compare.grid import Column, CompareError, Grid, merged
from lib.core.context import Services


def flagged(grid: Grid, today: date, book: catalog.Book) -> list[tuple[int, ShutdownWarning]]:
    """(column index, warning) for each column whose model shuts down within 30 days or has."""
    found = []
    for i, column in enumerate(grid.columns):
        m = merged(grid, column)
        if m.provider and m.model and (
                w := lifecycle.warning(m.provider, m.model, today, book=book)) is not None:
            found.append((i, w))
    return found


def _moved(column: Column, provider: str | None, by: dict[tuple[str, str], str]) -> Column:
    """``column`` naming the replacement where it names a flagged model of ``provider`` (its
    own, or the grid's base provider for a column that sets only a model)."""
    if provider and column.model and (provider, column.model) in by:
        return replace(column, model=by[(provider, column.model)])
    return column


def moved(grid: Grid, warnings: list[tuple[int, ShutdownWarning]]) -> Grid:
    """The grid with each flagged model replaced, in its columns and its base."""
    by = {(w.provider, w.model): w.replacement for _, w in warnings}
    return replace(grid, columns=tuple(_moved(c, merged(grid, c).provider, by)
                                       for c in grid.columns),
                   base=_moved(grid.base, grid.base.provider, by))


def run_on_replacements(engine: Services, viewer: Viewer, comp: store.Comparison,
                        confirmed: bool = False) -> str:
    """Start the comparison again on the replacement models; returns the new id (the old
    one stays as it was). Raises ``CompareError`` when nothing needs moving."""
    warnings = flagged(comp.grid, engine.clock.now().date(), catalog.book(engine.db))
    if not warnings:
        raise CompareError("No model of this comparison is being shut down.")
    names = ", ".join(sorted({w.replacement for _, w in warnings}))
    return store.start(engine, viewer, moved(comp.grid, warnings),
                       f"{comp.title} (on {names})"[:200], confirmed=confirmed,
                       token=f"move:{comp.id}")  # a double click is one new comparison
