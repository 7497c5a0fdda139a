"""Migration 021: the audit log (``lib/audit`` writes and reads it).

One row per security- or money-relevant action: when, who, what (an action name from
``lib.audit.Action``), on what, a small JSON detail, and through which session or token.
Append-only by convention of the code: nothing but ``lib.audit.prune`` (the retention
setting) deletes a row, and nothing updates one (``tests/test_architecture.py`` checks that
no other module writes the table).
"""

from __future__ import annotations

from lib.db.cursor import Cursor


def create_tables(cur: Cursor) -> None:
    """Migration 021: ``audit_log`` and its index by time (newest first, retention)."""
    cur.execute(
        "CREATE TABLE audit_log (id TEXT PRIMARY KEY, occurred_at TIMESTAMP NOT NULL, "
        "actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', "
        "detail TEXT NOT NULL DEFAULT '', via TEXT NOT NULL DEFAULT '')"
    )
    cur.execute("CREATE INDEX audit_log_at_idx ON audit_log (occurred_at)")
