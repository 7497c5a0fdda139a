"""Migration 023: the audit log (``lib/audit`` writes and reads it).

One row per security- or money-relevant action: when, who, what (an action name from
``lib.audit.Action``), on what, a small JSON detail, and through which session or token.
Append-only: nothing but ``lib.audit.prune`` (the retention setting) deletes a row, and
nothing updates one (``tests/test_architecture.py`` checks that no other module writes the
table). On PostgreSQL a trigger holds it too, for anyone with SQL: an UPDATE is refused, and
a DELETE unless the transaction said ``SET LOCAL promptboard.audit_prune = 'on'`` first
(:data:`ALLOW_DELETE`: the prune, and ``db copy --force`` replacing a target's rows).
"""

from __future__ import annotations

from lib.db.cursor import Cursor

ALLOW_DELETE = "SET LOCAL promptboard.audit_prune = 'on'"  # PostgreSQL, this transaction only


def create_tables(cur: Cursor) -> None:
    """Migration 023: ``audit_log`` and its index by time (newest first, retention)."""
    cur.execute(
        "CREATE TABLE audit_log (id TEXT PRIMARY KEY, occurred_at TIMESTAMP NOT NULL, "
        "actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', "
        "detail TEXT NOT NULL DEFAULT '', via TEXT NOT NULL DEFAULT '')"
    )
    cur.execute("CREATE INDEX audit_log_at_idx ON audit_log (occurred_at)")
    version = cur.execute("SELECT version()").fetchone()
    if version is None or not str(version[0]).startswith("PostgreSQL"):
        return
    cur.execute(
        "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN IF TG_OP = 'DELETE' AND "
        "coalesce(current_setting('promptboard.audit_prune', true), '') = 'on' THEN "
        "RETURN OLD; END IF; "
        "RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP; END $$")
    cur.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()")
