"""Saved comparisons: run one as a batch of jobs, who may see it, its cells, winners, retries.

A comparison row keeps its axes (the :class:`~lib.compare.grid.Grid` as JSON); each cell points
at the job it ran (the jobs' ``batch_id`` is the comparison id), or carries the reason it
was not queued. Visibility is decided in one place, :func:`_visible_where`::

    role      sees                               may share / mark winners / retry
    admin     every comparison                   share, winners (retry: the owner only)
    member    own ones + those shared with team  own ones
    analyst   none: analysts have no Compare page, so the rule fails closed

A comparison someone may not see reads exactly like one that does not exist. Images inside a
shared comparison follow the gallery's rule (``lib.gallery.queries.visible_where``): sharing a
comparison shares its images, once per cell, including those that finish later.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lib import jobs
from lib.audit import Action, record
from lib.auth import accounts as auth
from lib.auth.access import Viewer
from lib.catalog import book as catalog
from lib.compare.grid import (
    Cell,
    CompareError,
    Grid,
    NeedsConfirmation,
    confirm_cells,
    expand,
    needs_confirmation,
)
from lib.gallery.queries import RATINGS_SQL as gallery_ratings
from lib.jobs.model import new_id

if TYPE_CHECKING:
    from lib.core.context import Services

BLOCKED, NOT_QUEUED = "blocked", "not queued"  # cell states that are not job states
INTERRUPTED = "Not queued: the server stopped before this cell was queued. Run it again."
NOT_FOUND = "Comparison {id} was not found, or it is not shared with you."


@dataclass(frozen=True)
class Comparison:
    """One saved comparison."""

    id: str
    owner: str
    title: str
    grid: Grid
    shared: bool
    created_at: datetime

    def editable_by(self, viewer: Viewer) -> bool:
        """Owners and admins may share it and mark winners."""
        return viewer.username == self.owner or viewer.role == "admin"


@dataclass(frozen=True)
class Summary:
    """A line in the list of saved comparisons."""

    id: str
    title: str
    owner: str
    shared: bool
    created_at: datetime
    rows: int
    columns: int


@dataclass(frozen=True)
class CellState:
    """What one cell shows now: its job's state, image, cost, duration, error and ratings."""

    row: int
    col: int
    job_id: str | None
    status: str  # a job status, or BLOCKED / NOT_QUEUED
    note: str | None
    error: str | None
    cost_usd: Decimal | None
    duration_ms: int | None
    seed: int | None
    image_id: str | None
    thumb_key: str | None
    image_hidden: bool  # there is an image, but the viewer may not see it
    my_rating: int | None
    avg_rating: float | None
    ratings: int

    @property
    def retryable(self) -> bool:
        """A failed, cancelled or never-queued cell can be run again on its own."""
        return self.status in (jobs.FAILED, jobs.CANCELLED, NOT_QUEUED, BLOCKED)


def _visible_where(viewer: Viewer) -> tuple[str, list[Any]]:
    """THE visibility rule for comparisons (alias ``c``)."""
    if viewer.role == "admin":
        return "TRUE", []
    if viewer.role == "member":
        return "(c.owner = ? OR c.shared)", [viewer.username]
    return "FALSE", []


def run_token(user: str, grid: Grid, title: str) -> str:
    """The same grid run twice in a moment by one user is one comparison (double clicks)."""
    blob = f"{user}\x00{title}\x00{grid.to_json()}".encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def start(engine: Services, viewer: Viewer, grid: Grid, title: str, *, shared: bool = False,
          confirmed: bool = False, token: str | None = None) -> str:
    """Save the comparison and queue one job per runnable cell; returns the comparison id."""
    if viewer.role not in ("admin", "member"):
        raise CompareError("Only members and admins run comparisons.")
    if needs_confirmation(grid) and not confirmed:
        raise NeedsConfirmation(f"This grid makes {grid.size} images, more than "
                                f"{confirm_cells()}: confirm that you want to run them all.")
    title = (title or "").strip()[:200] or grid.rows[0][:80]
    now = engine.clock.now()
    since = now - timedelta(seconds=jobs.DEDUPE_WINDOW_S)
    cid = new_id()
    cells = list(expand(grid, cid, catalog.book(engine.db)))
    # The whole grid is checked against the budgets before anything is saved or queued, and
    # the write lock is held until every cell is queued, so no other submit slips in between.
    with engine.db.exclusive():
        auth.require_active(engine.db, viewer.username, viewer.role, error=CompareError)
        if token:
            dup = engine.db.fetchone(
                "SELECT id FROM comparisons WHERE owner = ? AND client_token = ? "
                "AND created_at >= ?", [viewer.username, token, since])
            if dup:
                return str(dup[0])
        try:
            jobs.check_batch(engine, viewer.username,
                             [c.spec for c in cells if c.spec is not None], skip_invalid=True)
        except jobs.SubmitError as exc:  # over a budget, or the account may not generate
            raise CompareError(str(exc).replace("this batch of", "this grid of")) from None
        _save_and_queue(engine, viewer, grid, title, shared, token, cid, cells, now)
    return cid


def _save_and_queue(engine: Services, viewer: Viewer, grid: Grid, title: str, shared: bool,
                    token: str | None, cid: str, cells: list[Cell], now: datetime) -> None:
    with engine.db.write() as cur:
        cur.execute("INSERT INTO comparisons (id, owner, title, axes, shared, client_token, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [cid, viewer.username, title, grid.to_json(), shared, token, now])
        # Every cell exists before any job is queued: if the process dies part-way, the cells
        # not queued yet say so and can be run from the page (none is silently missing).
        cur.executemany("INSERT INTO comparison_cells (comparison_id, row_idx, col_idx, job_id, "
                        "note) VALUES (?, ?, ?, NULL, ?)",
                        [[cid, c.row, c.col, c.blocked or INTERRUPTED] for c in cells])
    for cell in cells:
        if cell.spec is None:
            continue
        try:
            job_id: str | None = jobs.submit(engine, viewer.username, cell.spec)
            note = "; ".join(cell.notes) or None
        except jobs.SubmitError as exc:
            job_id, note = None, f"Not queued: {exc}"
        with engine.db.write() as cur:
            cur.execute("UPDATE comparison_cells SET job_id = ?, note = ? "
                        "WHERE comparison_id = ? AND row_idx = ? AND col_idx = ?",
                        [job_id, note, cid, cell.row, cell.col])


def get(engine: Services, viewer: Viewer, comparison_id: str) -> Comparison | None:
    """The comparison if this viewer may see it, else None (the same for a missing one)."""
    where, params = _visible_where(viewer)
    row = engine.db.fetchone(
        f"SELECT id, owner, title, axes, shared, created_at FROM comparisons c "
        f"WHERE c.id = ? AND {where}", [comparison_id, *params])
    if row is None:
        return None
    return Comparison(row[0], row[1], row[2], Grid.from_json(row[3]), bool(row[4]), row[5])


def list_for(engine: Services, viewer: Viewer, limit: int = 100) -> list[Summary]:
    """Comparisons this viewer may open, newest first."""
    where, params = _visible_where(viewer)
    rows = engine.db.fetchall(
        f"SELECT id, title, owner, shared, created_at, axes FROM comparisons c WHERE {where} "
        "ORDER BY created_at DESC, id LIMIT ?", [*params, limit])
    out = []
    for r in rows:
        grid = Grid.from_json(r[5])
        out.append(Summary(r[0], r[1], r[2], bool(r[3]), r[4], len(grid.rows), len(grid.columns)))
    return out


# Ratings of this grid's images only: the grid polls while it runs.
_THIS_GRIDS_IMAGES = ("WHERE image_id IN (SELECT i2.id FROM images i2 JOIN comparison_cells c2 "
                      "ON i2.job_id = c2.job_id WHERE c2.comparison_id = ?)")
_CELLS = f"""
    SELECT c.row_idx, c.col_idx, c.job_id, c.note, j.status, j.error_message,
           coalesce(i.cost_usd, j.cost_usd), j.duration_ms, coalesce(i.seed, j.seed),
           i.id, i.thumb_key, i.user_id, i.shared, mr.rating, r.avg_rating, r.ratings
    FROM comparison_cells c
    LEFT JOIN jobs j ON j.id = c.job_id
    LEFT JOIN images i ON i.job_id = c.job_id AND i.idx = 0
    LEFT JOIN ({gallery_ratings.format(where=_THIS_GRIDS_IMAGES)}) r ON r.image_id = i.id
    LEFT JOIN image_ratings mr ON mr.image_id = i.id AND mr.user_id = ?
    WHERE c.comparison_id = ?
    ORDER BY c.row_idx, c.col_idx
"""


def cell_states(engine: Services, viewer: Viewer, comp: Comparison) -> list[CellState]:
    """Every cell as it is now, row-major; images the viewer may not see are withheld."""
    if comp.shared:
        _share_images(engine, comp)
    out = []
    for r in engine.db.fetchall(_CELLS, [comp.id, viewer.username, comp.id]):
        (row, col, job_id, note, status, error, cost, duration, seed, image_id, thumb,
         image_owner, image_shared, mine, avg, count) = r
        visible = image_id is not None and (
            viewer.sees_all or image_owner == viewer.username or bool(image_shared))
        if status is None:
            status = NOT_QUEUED if job_id is None and note and note.startswith("Not queued") \
                else (BLOCKED if job_id is None else jobs.FAILED)
        out.append(CellState(
            row, col, job_id, status, note, error, cost, duration, seed,
            image_id if visible else None, thumb if visible else None,
            image_id is not None and not visible, mine if visible else None,
            avg if visible else None, int(count or 0) if visible else 0))
    return out


def any_active(states: list[CellState]) -> bool:
    """True while any cell's job is queued or running (the grid keeps polling)."""
    return any(s.status in jobs.ACTIVE for s in states)


def winners(engine: Services, comparison_id: str) -> dict[int, int]:
    """Row -> winning column."""
    return {r: c for r, c in engine.db.fetchall(
        "SELECT row_idx, col_idx FROM comparison_winners WHERE comparison_id = ?",
        [comparison_id])}


def _editable(engine: Services, viewer: Viewer, comparison_id: str) -> Comparison:
    auth.require_active(engine.db, viewer.username, viewer.role, error=CompareError)
    comp = get(engine, viewer, comparison_id)
    if comp is None:
        raise CompareError(NOT_FOUND.format(id=comparison_id))
    if not comp.editable_by(viewer):
        raise CompareError("Only the owner of this comparison (or an admin) can change it.")
    return comp


def set_winner(engine: Services, viewer: Viewer, comparison_id: str, row: int,
               col: int | None) -> None:
    """Mark the winning column of a row, or clear it with None (owner or admin)."""
    comp = _editable(engine, viewer, comparison_id)
    if not 0 <= row < len(comp.grid.rows) or (
            col is not None and not 0 <= col < len(comp.grid.columns)):
        raise CompareError("That row or column is not part of this comparison.")
    with engine.db.write() as cur:
        cur.execute("DELETE FROM comparison_winners WHERE comparison_id = ? AND row_idx = ?",
                    [comparison_id, row])
        if col is not None:
            cur.execute("INSERT INTO comparison_winners VALUES (?, ?, ?, ?, ?)",
                        [comparison_id, row, col, viewer.username, engine.clock.now()])


def set_shared(engine: Services, viewer: Viewer, comparison_id: str, shared: bool) -> None:
    """Share the comparison (and its images) with the team, or make it private again."""
    comp = _editable(engine, viewer, comparison_id)
    with engine.db.write() as cur:
        cur.execute("UPDATE comparisons SET shared = ? WHERE id = ?", [shared, comparison_id])
        record(cur, Action.COMPARISON_SHARE, comparison_id, {"shared": shared},
               at=engine.clock.now(), actor=viewer.username)
    if shared:
        _share_images(engine, replace(comp, shared=True))


def cancel_active(engine: Services, viewer: Viewer, comparison_id: str) -> int:
    """Cancel the comparison's queued and running cells (owner or admin); how many."""
    comp = _editable(engine, viewer, comparison_id)
    active = [s.job_id for s in cell_states(engine, viewer, comp)
              if s.status in jobs.ACTIVE and s.job_id]
    for job_id in active:
        try:
            jobs.cancel(engine, job_id, viewer.username, admin=viewer.role == "admin")
        except jobs.IllegalTransition:
            pass  # it finished (or was cancelled) in the meantime: nothing to stop
    return len(active)


def _share_images(engine: Services, comp: Comparison) -> None:
    """Share the owner's images of finished cells of a shared comparison, once per cell.

    Sharing the comparison is the owner's consent to share its images, including those that
    finish later; a cell is shared once, so an image its owner made private again in the
    gallery stays private (and is withheld from the team's view of the comparison).
    """
    jobs_done = [r[0] for r in engine.db.fetchall(
        "SELECT c.job_id FROM comparison_cells c JOIN jobs j ON j.id = c.job_id "
        "WHERE c.comparison_id = ? AND NOT c.images_shared AND j.status = 'succeeded'",
        [comp.id])]
    if not jobs_done:
        return
    with engine.db.write() as cur:
        cur.execute("UPDATE images SET shared = true WHERE user_id = ? AND NOT shared "
                    "AND job_id IN (SELECT unnest(?::VARCHAR[]))", [comp.owner, jobs_done])
        cur.execute("UPDATE comparison_cells SET images_shared = true WHERE comparison_id = ? "
                    "AND job_id IN (SELECT unnest(?::VARCHAR[]))", [comp.id, jobs_done])


def retry(engine: Services, viewer: Viewer, comparison_id: str, row: int, col: int) -> str:
    """Run one failed (or never queued) cell again, alone; the cell points at the new job."""
    auth.require_active(engine.db, viewer.username, viewer.role, error=CompareError)
    comp = get(engine, viewer, comparison_id)
    if comp is None:
        raise CompareError(NOT_FOUND.format(id=comparison_id))
    if comp.owner != viewer.username:
        raise CompareError("Only the owner of this comparison can retry its cells.")
    state = next((s for s in cell_states(engine, viewer, comp)
                  if (s.row, s.col) == (row, col)), None)
    if state is None:
        raise CompareError("That cell is not part of this comparison.")
    if not state.retryable:
        raise CompareError("Only a failed, cancelled or unqueued cell can be retried.")
    if state.job_id is not None:
        new_id = jobs.resubmit(engine, viewer.username, state.job_id)
    else:
        cell = next(c for c in expand(comp.grid, comp.id, catalog.book(engine.db))
                    if (c.row, c.col) == (row, col))
        if cell.spec is None:
            raise CompareError(cell.blocked or "This cell cannot run.")
        new_id = jobs.submit(engine, viewer.username, replace(cell.spec, client_token=None))
    with engine.db.write() as cur:
        cur.execute("UPDATE comparison_cells SET note = CASE WHEN job_id IS NULL THEN NULL "
                    "ELSE note END, images_shared = false, job_id = ? "
                    "WHERE comparison_id = ? AND row_idx = ? AND col_idx = ?",
                    [new_id, comparison_id, row, col])
    return new_id
