"""Copy a whole database between the backends: ``python -m lib.cli db copy --from … --to …``.

Either end is a DuckDB file path or a ``postgresql://`` URL. Both are opened (and migrated to
the current schema, so the tables match); the target must be empty (no rows in any table but
``schema_migrations`` and the ones migrations fill) unless ``force``, which empties it first.
Every table is copied in one write transaction on the target, in batches of :data:`BATCH`
rows (into PostgreSQL by ``COPY … FROM STDIN``), so a failure leaves the target as it was.
The id sequences are set past the copied ids, so the next job event or price row does not
collide. Then the copy is checked: every
table's row count, and the sums of cost over jobs and images (the ledger's two sources),
must be equal on both ends, or :class:`CopyError` says which differ.

A DuckDB file is opened by one process at a time: stop the dashboard that uses it first.
Images are not in the database: with local storage, copy ``data/images/`` as well.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from lib.core.errors import PromptboardError
from lib.db import audit_tables, rollup
from lib.db.database import Database, is_url
from lib.db.dialect import POSTGRES

log = logging.getLogger(__name__)
BATCH = 5_000
SKIP = {"schema_migrations",  # each end has its own, written by its migrations
        rollup.TABLE}  # derived from jobs, on PostgreSQL only: rebuilt after the load
MADE_BY_MIGRATIONS = {"webhook_cursors"}  # rows a fresh database has: replaced, not "held"
SUMS = (("jobs", "cost_usd"), ("images", "cost_usd"))
# sequences the code draws from (lib/jobs/claim.py), not a column default: set past these too
DRAWN = (("claim_turns", "turn", "claim_turn_seq"),)


class CopyError(PromptboardError, RuntimeError):
    """The copy was refused or did not verify; the message says what to do."""


@dataclass(frozen=True)
class CopyReport:
    """What was copied, and the checks that passed."""

    rows: dict[str, int]
    sums: dict[str, Decimal]

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def open_end(target: str) -> Database:
    """A Database on a path or a postgresql:// URL (made and migrated if new)."""
    return Database(target if is_url(target) else Path(target).expanduser())


def tables(db: Database) -> list[str]:
    """The schema's tables, by name (minus :data:`SKIP`)."""
    return sorted(str(r[0]) for r in db.fetchall(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_type = 'BASE TABLE'") if r[0] not in SKIP)


def _columns(db: Database, table: str) -> list[str]:
    return [str(r[0]) for r in db.fetchall(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = ? ORDER BY ordinal_position", [table])]


def _sequences(db: Database) -> list[tuple[str, str, str]]:
    """(table, column, sequence) of every column whose default is a sequence's next value."""
    found = []
    for table, column, default in db.fetchall(
            "SELECT table_name, column_name, column_default FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%'"):
        name = str(default).split("'")[1].split(".")[-1].strip('"')
        found.append((str(table), str(column), name))
    return found


def counts(db: Database) -> dict[str, int]:
    return {t: int(db.scalar(f'SELECT count(*) FROM "{t}"')) for t in tables(db)}


def sums(db: Database) -> dict[str, Decimal]:
    return {f"{t}.{c}": Decimal(db.scalar(f"SELECT coalesce(sum({c}), 0) FROM {t}"))
            for t, c in SUMS}


def copy(source: Database, target: Database, *, force: bool = False,
         progress: Callable[[str, int], None] | None = None) -> CopyReport:
    """Copy every row of ``source`` into ``target``; see the module's rules."""
    names = tables(source)
    missing = [t for t in names if t not in set(tables(target))]
    if missing:
        raise CopyError(f"The target has no table {', '.join(missing)}: is it a newer "
                        "Promptboard's? Copy between the same version.")
    filled = {t: n for t, n in counts(target).items() if n and t not in MADE_BY_MIGRATIONS}
    if filled and not force:
        raise CopyError(f"The target already holds rows ({', '.join(sorted(filled))}): copy "
                        "into an empty database, or add --force to replace what it holds.")
    with target.write() as out:
        if target.kind == POSTGRES:  # one rebuild of the rollup, not a trigger call per job
            rollup.pause(out, True)
            out.execute(audit_tables.ALLOW_DELETE)  # --force replaces the audit log's rows too
        for table in names if filled else MADE_BY_MIGRATIONS:
            out.execute(f'DELETE FROM "{table}"')
        for table in names:
            cols = [c for c in _columns(source, table) if c in set(_columns(target, table))]
            listed = ", ".join(f'"{c}"' for c in cols)
            insert = (f'INSERT INTO "{table}" ({listed}) '
                      f"VALUES ({', '.join('?' * len(cols))})")
            done = 0
            bulk = getattr(out, "copy_rows", None)  # PostgreSQL: COPY FROM STDIN
            with source.cursor() as cur:
                cur.execute(f'SELECT {listed} FROM "{table}"')
                while rows := cur.fetchmany(BATCH):
                    if bulk is not None:
                        bulk(table, cols, rows)
                    else:
                        out.executemany(insert, [list(r) for r in rows])
                    done += len(rows)
            if progress is not None:
                progress(table, done)
        for table, column, sequence in [*_sequences(target), *DRAWN]:
            top = out.execute(f'SELECT max("{column}") FROM "{table}"').fetchone()
            if top is not None and top[0] is not None:
                out.execute("SELECT setval(?, ?)", [sequence, int(top[0])])
        if target.kind == POSTGRES:
            rollup.rebuild(out)
            rollup.pause(out, False)
    if target.kind == POSTGRES:  # what a bulk load wants next: the planner's statistics, and
        with target.cursor() as cur:  # the visibility map index-only scans read
            cur.execute("VACUUM (ANALYZE)")
    return verify(source, target)


def verify(source: Database, target: Database) -> CopyReport:
    """Row counts of every table and the cost sums, equal on both ends, or CopyError."""
    theirs, ours = counts(source), counts(target)
    wrong = [f"{t} ({theirs[t]:,} → {ours.get(t, 0):,})" for t in theirs
             if theirs[t] != ours.get(t, 0)]
    money_there, money_here = sums(source), sums(target)
    wrong += [f"{k} ({money_there[k]} → {money_here[k]})" for k in money_there
              if money_there[k] != money_here[k]]
    if wrong:
        raise CopyError("The copy does not match its source: " + "; ".join(wrong) + ".")
    return CopyReport(ours, money_here)
