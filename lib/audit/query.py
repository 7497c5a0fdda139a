"""Reading the audit log (Admin → Audit, ``GET /api/v1/audit``), its CSV, and the retention prune.

There is no verb here, nor anywhere, that edits a row or deletes one, but :func:`prune`, which
deletes rows older than ``PROMPTBOARD_AUDIT_RETENTION_DAYS`` (0: keep them forever); the
engine runs it at every start. Reading is for admins only: the page and the route check the
role, and this module takes no viewer (it is not a member's view of anything).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lib.audit.log import Action
from lib.core import csvsafe
from lib.db import audit_tables
from lib.db.database import Database

PAGE = 100  # rows a page or a call shows by default
MAX_PAGE = 1000
CSV_LIMIT = 100_000  # a download stops here (the filter narrows it)
COLUMNS = ("at", "actor", "action", "target", "detail", "via")


@dataclass(frozen=True)
class Filter:
    """What to show: each part optional; ``text`` is a case-blind substring of the actor,
    target, detail or via; ``since`` inclusive, ``until`` exclusive (naive UTC)."""

    actor: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None
    text: str = ""


@dataclass(frozen=True)
class Entry:
    """One row of the log."""

    id: str
    at: datetime
    actor: str
    action: str
    target: str
    detail: str
    via: str

    def details(self) -> dict[str, Any]:
        """The detail as a dict (empty when there is none)."""
        value = json.loads(self.detail) if self.detail else {}
        return value if isinstance(value, dict) else {"detail": value}


def _where(f: Filter) -> tuple[str, list[object]]:
    parts: list[str] = []
    params: list[object] = []
    if f.actor.strip():
        parts.append("actor = ?")
        params.append(f.actor.strip())
    if f.action.strip():
        parts.append("action = ?")
        params.append(Action(f.action.strip()).value)  # ValueError: not an action
    if f.since is not None:
        parts.append("occurred_at >= ?")
        params.append(f.since)
    if f.until is not None:
        parts.append("occurred_at < ?")
        params.append(f.until)
    if f.text.strip():
        parts.append("strpos(lower(actor || ' ' || target || ' ' || detail || ' ' || via), "
                     "?) > 0")
        params.append(f.text.strip().lower())
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def search(db: Database, f: Filter, *, limit: int = PAGE,
           after: tuple[datetime, str] | None = None) -> list[Entry]:
    """The filtered rows, newest first; ``after`` (a row's time and id) starts past that row."""
    where, params = _where(f)
    if after is not None:
        where += (" AND " if where else " WHERE ") + (
            "(occurred_at < ? OR (occurred_at = ? AND id < ?))")
        params += [after[0], after[0], after[1]]
    rows = db.fetchall("SELECT id, occurred_at, actor, action, target, detail, via FROM audit_log"
                       f"{where} ORDER BY occurred_at DESC, id DESC LIMIT ?",
                       [*params, max(1, min(limit, CSV_LIMIT))])
    return [Entry(*r) for r in rows]


def actors(db: Database) -> list[str]:
    """Every actor the log names, for the page's filter."""
    return [str(r[0]) for r in db.fetchall(
        "SELECT DISTINCT actor FROM audit_log ORDER BY actor")]


def to_csv(entries: list[Entry]) -> str:
    """The rows as CSV text, every text cell guarded against spreadsheet formulas."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for e in entries:
        writer.writerow([e.at.isoformat(sep=" "), *(csvsafe.cell(v) for v in (
            e.actor, e.action, e.target, e.detail, e.via))])
    return out.getvalue()


def prune(db: Database, now: datetime, days: int) -> int:
    """Delete rows older than ``days`` (0 or less: none); returns how many went."""
    if days <= 0:
        return 0
    cutoff = now - timedelta(days=days)
    with db.write() as cur:
        if db.kind == "postgres":  # its trigger refuses any other DELETE
            cur.execute(audit_tables.ALLOW_DELETE)
        gone = cur.execute("SELECT count(*) FROM audit_log WHERE occurred_at < ?",
                           [cutoff]).fetchone()
        cur.execute("DELETE FROM audit_log WHERE occurred_at < ?", [cutoff])
    return int(gone[0]) if gone else 0
