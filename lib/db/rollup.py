"""The jobs' daily rollup: what the Analytics page sums, one row per day and kind of job.

``job_days`` holds, per UTC day of a job's creation, user, provider, model, status, error type
and demo flag, how many jobs there are and the sums the spend figures need (images, deleted
images, spend, images of priced jobs, unpriced successes, ledger rows). The period's totals,
the spend per day, the breakdowns and the failure rates are sums of these rows: at 1M images
a month is a few thousand rows instead of seventy thousand jobs.

- **PostgreSQL** keeps the table (migration 017) by a row trigger on ``jobs``: each insert,
  delete or update of a column the rollup reads takes the row's old contribution away and adds
  its new one, in the same transaction as the write, so the rollup is never behind the ledger
  and no code path can forget it. A bulk load (``db copy``) pauses the trigger and rebuilds.
- **DuckDB** has no triggers and needs none: a column store sums a month of jobs in a few
  milliseconds, so :func:`source` there gives each job's contribution as a row of the same
  columns. Both read the contributions from :data:`MEASURES`, so they cannot disagree.

Durations are not here: their quantiles need every duration (see ``lib.reporting.analytics``).
"""

from __future__ import annotations

from typing import Any

from lib.db.cursor import Cursor
from lib.db.dialect import POSTGRES

TABLE = "job_days"
TRIGGER = "job_days_sync"
# The key: the columns the Analytics filters narrow by and the figures split by. error_type is
# '' for "none" (a key column cannot be NULL in a primary key).
KEYS = {"day": "CAST({r}.created_at AS DATE)", "user_id": "{r}.user_id",
        "provider": "{r}.provider", "model": "{r}.model", "status": "{r}.status",
        "error_type": "coalesce({r}.error_type, '')", "demo": "{r}.demo"}
# One job's contribution to each sum (``{r}``: the row).
MEASURES = {
    "n_jobs": "1",
    "n_images": "coalesce({r}.images, 0)",
    "n_deleted": "coalesce({r}.images_deleted, 0)",
    "spend": "coalesce({r}.cost_usd, 0)",
    "priced_images": "CASE WHEN {r}.cost_usd IS NOT NULL "
                     "THEN coalesce({r}.images, 0) + coalesce({r}.images_deleted, 0) ELSE 0 END",
    "n_unpriced": "CASE WHEN {r}.status = 'succeeded' AND {r}.cost_usd IS NULL THEN 1 ELSE 0 END",
    "n_ledger": "greatest(coalesce({r}.images, 0), 1) + CASE WHEN coalesce({r}.images, 0) > 0 "
                "AND coalesce({r}.images_deleted, 0) > 0 THEN 1 ELSE 0 END",
}
_TYPES = {"day": "DATE", "demo": "BOOLEAN", "spend": "DECIMAL(18, 8)"}  # the rest TEXT/BIGINT
# The jobs columns the rollup reads: an update touching none of them leaves it alone.
READS = ("created_at", "user_id", "provider", "model", "status", "error_type", "demo", "images",
         "images_deleted", "cost_usd")


def _exprs(columns: dict[str, str], r: str) -> list[str]:
    return [e.format(r=r) for e in columns.values()]


def source(kind: str, jobs_where: str) -> str:
    """DuckDB: a FROM item (alias it) with the rollup's columns, one row per job matching
    ``jobs_where`` (over alias ``j``): sums over it equal sums over the rollup, and a column
    store adds up a month of jobs faster than it would first group them (grouping them by day
    here cost DuckDB's default view a third more time). On PostgreSQL filter ``job_days``."""
    if kind == POSTGRES:
        raise ValueError("On PostgreSQL the rollup is the job_days table: filter it.")
    cols = {**KEYS, **MEASURES}
    named = ", ".join(f"{e} AS {k}" for k, e in zip(cols, _exprs(cols, "j"), strict=True))
    return f"(SELECT {named} FROM jobs j WHERE {jobs_where})"


def _upsert(r: str, sign: str) -> str:
    """PL/pgSQL: add (or, ``sign='-'``, take away) row ``r``'s contribution."""
    cols = [*KEYS, *MEASURES]
    values = [*_exprs(KEYS, r), *(f"{sign}({e})" for e in _exprs(MEASURES, r))]
    sets = ", ".join(f"{m} = {TABLE}.{m} + EXCLUDED.{m}" for m in MEASURES)
    return (f"INSERT INTO {TABLE} ({', '.join(cols)}) VALUES ({', '.join(values)}) "
            f"ON CONFLICT ({', '.join(KEYS)}) DO UPDATE SET {sets};")


def create(cur: Cursor) -> None:
    """PostgreSQL: the table, filled from today's jobs, and the trigger that keeps it."""
    columns = [f"{k} {_TYPES.get(k, 'TEXT')} NOT NULL" for k in KEYS]
    columns += [f"{m} {_TYPES.get(m, 'BIGINT')} NOT NULL" for m in MEASURES]
    cur.execute(f"CREATE TABLE {TABLE} ({', '.join(columns)}, "
                f"PRIMARY KEY ({', '.join(KEYS)}))")
    cur.execute(f"""
        CREATE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            IF TG_OP <> 'INSERT' THEN {_upsert("OLD", "-")} END IF;
            IF TG_OP <> 'DELETE' THEN {_upsert("NEW", "")} END IF;
            RETURN NULL;
        END $fn$""")
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in READS)
    cur.execute(f"CREATE TRIGGER {TRIGGER}_write AFTER INSERT OR DELETE ON jobs "
                f"FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()")
    cur.execute(f"CREATE TRIGGER {TRIGGER}_update AFTER UPDATE ON jobs FOR EACH ROW "
                f"WHEN ({changed}) EXECUTE FUNCTION {TRIGGER}()")
    rebuild(cur)


def _grouped() -> str:
    """The rollup's rows computed from ``jobs``, in the table's column order."""
    keys = ", ".join(f"{e} AS {k}" for k, e in zip(KEYS, _exprs(KEYS, "j"), strict=True))
    sums = ", ".join(f"sum({e}) AS {m}" for m, e in zip(MEASURES, _exprs(MEASURES, "j"),
                                                        strict=True))
    group = ", ".join(str(i + 1) for i in range(len(KEYS)))
    return f"SELECT {keys}, {sums} FROM jobs j GROUP BY {group}"


def rebuild(cur: Cursor) -> None:
    """PostgreSQL: the rollup recomputed from ``jobs`` (after a bulk load)."""
    cur.execute(f"DELETE FROM {TABLE}")
    cur.execute(f"INSERT INTO {TABLE} ({', '.join([*KEYS, *MEASURES])}) {_grouped()}")


def pause(cur: Cursor, paused: bool) -> None:
    """PostgreSQL: stop (or restart) the trigger for this transaction's bulk load; the caller
    rebuilds before it commits."""
    verb = "DISABLE" if paused else "ENABLE"
    for name in ("write", "update"):
        cur.execute(f"ALTER TABLE jobs {verb} TRIGGER {TRIGGER}_{name}")


def differences(cur: Cursor) -> list[Any]:
    """PostgreSQL: rows where the rollup and a fresh grouping of ``jobs`` disagree (none, if
    the trigger did its work); for the tests and for an operator's check."""
    fresh = _grouped()
    kept = f"SELECT * FROM {TABLE} WHERE n_jobs <> 0"
    return cur.execute(f"({fresh} EXCEPT ALL {kept}) UNION ALL ({kept} EXCEPT ALL {fresh})"
                       ).fetchall()
