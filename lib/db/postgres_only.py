"""The migrations that only PostgreSQL runs (on DuckDB they are recorded and do nothing).

DuckDB prunes a column's row groups by their min/max and sums a month of jobs in milliseconds;
PostgreSQL, a row store, needs indexes and a rollup for the same Analytics queries.
"""

from __future__ import annotations

from lib.db import rollup
from lib.db.cursor import Cursor


def _on_postgres(cur: Cursor) -> bool:
    version = cur.execute("SELECT version()").fetchone()
    return version is not None and str(version[0]).startswith("PostgreSQL")


def analytics_indexes(cur: Cursor) -> None:
    """PostgreSQL only: btree indexes the Analytics queries need there (DuckDB prunes by its
    row groups' min/max and would only pay for them on every insert). ``created_at``: a
    period's jobs without a scan of all of them (at 1M images the month's cumulative spend
    went from 225 to 22 ms); ``provider`` and ``model``: the filter choices by an index
    skip-scan (``dialect.distinct_values``: 3 ms a column instead of 280); a partial index for
    the ledger (its first page at 1M images: 1.4 s to 0.6 s)."""
    if not _on_postgres(cur):
        return
    cur.execute("CREATE INDEX IF NOT EXISTS jobs_created_idx ON jobs (created_at)")
    cur.execute("CREATE INDEX IF NOT EXISTS jobs_provider_idx ON jobs (provider)")
    cur.execute("CREATE INDEX IF NOT EXISTS jobs_model_idx ON jobs (model)")
    # the ledger's rows for jobs with deleted images: a few jobs, not a scan of all of them
    cur.execute("CREATE INDEX IF NOT EXISTS jobs_deleted_images_idx ON jobs (id) "
                "WHERE images > 0 AND images_deleted > 0")


def job_days(cur: Cursor) -> None:
    """PostgreSQL only: the jobs' daily rollup kept by a trigger (``lib/db/rollup.py``), and
    the succeeded jobs' durations in an index the quantiles read without the table."""
    if not _on_postgres(cur):
        return
    rollup.create(cur)
    cur.execute("CREATE INDEX IF NOT EXISTS jobs_succeeded_idx ON jobs (created_at) "
                "INCLUDE (user_id, provider, model, demo, status, duration_ms) "
                "WHERE status = 'succeeded'")
