"""A query's rows into a CSV or Parquet file, on PostgreSQL (DuckDB has ``COPY … TO 'file'``).

PostgreSQL's ``COPY … TO 'file'`` writes on the *server's* disk and takes no parameters, so:

- **CSV**: ``COPY (query) TO STDOUT (FORMAT csv, HEADER)``, parameters bound by psycopg,
  streamed to the file in the server's chunks; the row count is COPY's own.
- **Parquet**: a server-side cursor read in batches of :data:`BATCH` rows, each written as a
  row group with one schema for the whole file, taken from the columns' SQL types (numeric as
  decimal128 with the column's precision and scale, as DuckDB writes it; timestamps in µs).

Neither holds more than one batch in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from lib.db.sqltext import pyformat

BATCH = 50_000
# An export sorts all its rows (oldest first): in memory, not in files (at 1M images the year's
# CSV took 10-13 s with the pool's 32 MB, 7-9 s with this). For this transaction only.
SORT_MEMORY = "SET LOCAL work_mem = '256MB'"
_ARROW = {16: pa.bool_(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(), 700: pa.float32(),
          701: pa.float64(), 1082: pa.date32(), 1114: pa.timestamp("us"), 25: pa.string(),
          1043: pa.string(), 1042: pa.string(), 19: pa.string(), 17: pa.binary()}


def csv(conn: psycopg.Connection[Any], sql: str, params: list[Any], path: Path) -> int:
    """Write the rows as CSV with a header line; returns how many rows."""
    with conn.transaction(), conn.cursor() as cur, path.open("wb") as out:
        cur.execute(SORT_MEMORY)
        with cur.copy(pyformat(f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER)"),
                      params or None) as copy:
            for chunk in copy:
                out.write(chunk)
        return max(0, cur.rowcount)


def _arrow_type(column: Any) -> pa.DataType:
    if column.type_code == 1700:  # numeric(p, s); unconstrained: DuckDB's DECIMAL(18, 3)
        precision, scale = column.precision or 38, column.scale or 0
        return pa.decimal128(min(precision, 38), scale) if column.precision else pa.float64()
    return _ARROW.get(column.type_code, pa.string())


def parquet(conn: psycopg.Connection[Any], sql: str, params: list[Any], path: Path) -> int:
    """Write the rows as zstd Parquet; returns how many rows."""
    rows = 0
    with conn.transaction(), conn.cursor(name="promptboard_export") as cur:
        conn.execute(SORT_MEMORY)
        cur.itersize = BATCH
        cur.execute(pyformat(sql), params or None)
        schema = pa.schema([(c.name, _arrow_type(c)) for c in cur.description or []])
        with pq.ParquetWriter(path, schema, compression="zstd") as writer:
            while batch := cur.fetchmany(BATCH):
                columns = list(zip(*batch, strict=True))
                writer.write_table(pa.Table.from_arrays(
                    [pa.array(col, type=field.type) for col, field in zip(columns, schema,
                                                                          strict=True)],
                    schema=schema))
                rows += len(batch)
            if rows == 0:
                writer.write_table(schema.empty_table())
    return rows
