"""The few SQL fragments that must differ between DuckDB and PostgreSQL, by name.

Everything else is written once, in the forms both engines run alike (``docs/postgres-plan.md``
lists them); a query that needs one of these asks for it with ``db.kind``.
"""

from __future__ import annotations

DUCKDB, POSTGRES = "duckdb", "postgres"


def json_array_rows(kind: str, expr: str, alias: str) -> str:
    """A FROM item with one row per element of the JSON array text ``expr`` (column ``alias``
    of the result, text on PostgreSQL: cast it), e.g. ``jobs.price_ids = '[3, 7]'``."""
    if kind == POSTGRES:
        return f"jsonb_array_elements_text(CAST({expr} AS jsonb)) AS {alias}"
    return f"unnest(CAST({expr} AS JSON)::BIGINT[]) AS {alias}"


def skip_locked(kind: str) -> str:
    """What ends a queue's row read: on PostgreSQL ``FOR UPDATE SKIP LOCKED`` (a row another
    transaction holds is passed over, not waited for); DuckDB has one writer and no row locks."""
    return " FOR UPDATE SKIP LOCKED" if kind == POSTGRES else ""


def distinct_values(kind: str, table: str, column: str) -> str:
    """A scalar subquery: the array of ``column``'s distinct non-NULL values in ``table``. On
    PostgreSQL an index skip-scan (one index probe per value, for a column with a btree index:
    3 ms instead of a 280 ms scan of a million jobs); DuckDB scans, fast as a column store."""
    if kind == POSTGRES:
        return (f"(WITH RECURSIVE t AS (SELECT min({column}) AS v FROM {table} UNION ALL "
                f"SELECT (SELECT min({column}) FROM {table} WHERE {column} > t.v) FROM t "
                f"WHERE t.v IS NOT NULL) SELECT array_agg(v) FROM t WHERE v IS NOT NULL)")
    return f"(SELECT array_agg(DISTINCT {column}) FROM {table})"
