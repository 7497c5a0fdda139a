"""The PostgreSQL backend: a psycopg 3 connection pool behind :class:`lib.db.database.Database`.

Chosen by ``PROMPTBOARD_DATABASE_URL=postgresql://…``. The queries are the DuckDB backend's,
character for character: :mod:`lib.db.sqltext` turns their ``?`` into ``$n`` (run on a
``psycopg.RawCursor``, server-side binding) and DuckDB's DDL type names into PostgreSQL's.

- **Reads** run on a pooled connection in autocommit, one snapshot per statement, as DuckDB
  cursors do.
- **Writes** keep the embedded backend's meaning, "one writer at a time", across every
  process on the database: :meth:`PgBackend.transaction` takes the in-process lock (so this
  process's threads queue without holding pool connections), then, inside the transaction,
  ``pg_advisory_xact_lock(ns, 1)``, released by COMMIT or ROLLBACK. ``ns`` is a hash of the
  database and schema, so two Promptboards (or two test schemas) on one server never share
  a lock.
- :meth:`PgBackend.exclusive` holds that lock across several writes: a session-level
  advisory lock on a connection pinned to the thread, which the writes inside reuse (a
  second connection would wait for the first forever).
- The connection's ``TimeZone`` is UTC, so ``current_timestamp`` into a ``TIMESTAMP`` column
  means what it does on DuckDB.
- :meth:`PgBackend.df` builds the frame DuckDB's ``.df()`` would: the same dtypes per column
  type (numeric → float64, nullable integers → ``Int32``/``Int64``, dates and timestamps →
  ``datetime64[us]``, nullable booleans → ``boolean``, text → ``str``).

The URL's password never reaches a log or a message: :attr:`PgBackend.label` drops it.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from lib.db import pgcopy
from lib.db.listen import Listener
from lib.db.sqltext import ddl, numbered

WRITE_KEY = 1  # pg_advisory_*lock(ns, WRITE_KEY): the one-writer-at-a-time lock
POOL_TIMEOUT_S = 30.0
# A process that stops between two statements of a write (SIGSTOP, a debugger, a swap storm)
# would hold the database's write lock, and so every process's writes, for as long as it is
# stopped: the server ends such a session after this long idle inside its transaction (its
# lock goes with it, its writes are rolled back, and its next statement fails). Our writes
# never wait on anything but their own statements; keep it well under PROMPTBOARD_LEASE_S.
IDLE_IN_TRANSACTION_S = 5.0
# Memory a sort or hash may use before it spills to disk (the server's default is 4 MB): the
# duration quantiles of a month at 1M images sort ~70k rows twice (bench.analytics). JIT is
# off: it compiled for 8 s of a 12 s export at 1M images and helps no query of ours.
WORK_MEM = "32MB"
# PostgreSQL type OIDs -> the dtype DuckDB's .df() gives the same SQL type (with, without NULLs)
_INTS = {21: ("int16", "Int16"), 23: ("int32", "Int32"), 20: ("int64", "Int64")}
_FLOATS = {700, 701, 1700}  # float4, float8, numeric (DuckDB's DECIMAL → float64)
_TIMES = {1082, 1114}  # date, timestamp
_TEXTS = {25, 1043, 1042, 19}  # text, varchar, bpchar, name
_BOOL = 16


def session_options(url: str, ours: str) -> str:
    """``options`` for a connection: the URL's own (a schema's ``-csearch_path=…``, say) and
    then ours. Given as a keyword, ``options`` replaces the URL's, so both go in one."""
    theirs = str(conninfo_to_dict(url).get("options") or "")
    return f"{theirs} {ours}".strip()


def redacted(url: str) -> str:
    """The URL without its password (for logs, messages and cache keys)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


NUL_REFUSED = ("Text with an invisible NUL character (U+0000) can't be stored or searched in "
               "PostgreSQL: delete it (retyping the text removes it) and try again.")


def _storable(params: Sequence[Any]) -> list[Any]:
    """The parameters, refusing text PostgreSQL cannot hold with a message that says so (the
    pages' own checks refuse it before a write; this covers every other door)."""
    values = list(params)
    if any(isinstance(v, str) and "\x00" in v for v in values):
        raise ValueError(NUL_REFUSED)
    return values


class PgCursor:
    """A psycopg ``RawCursor`` that takes the DuckDB backend's SQL text (``?`` placeholders,
    DuckDB's DDL type names) and answers like a DuckDB cursor (``execute`` returns it)."""

    def __init__(self, raw: psycopg.RawCursor[Any]) -> None:
        self._raw = raw

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgCursor:
        if params:
            self._raw.execute(numbered(ddl(sql)), _storable(params))
        else:  # no parameters: several statements in one text are allowed (migrations)
            self._raw.execute(ddl(sql).encode())
        return self

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> PgCursor:
        self._raw.executemany(numbered(sql), [list(p) for p in params])
        return self

    def copy_rows(self, table: str, columns: Sequence[str],
                  rows: Iterable[Sequence[Any]]) -> int:
        """Load ``rows`` into ``table`` by ``COPY … FROM STDIN`` (the bulk path: some ten times
        the rows per second of batched INSERTs); returns how many."""
        listed = ", ".join(f'"{c}"' for c in columns)
        done = 0
        with self._raw.copy(f'COPY "{table}" ({listed}) FROM STDIN'.encode()) as copy:
            for row in rows:
                copy.write_row(row)
                done += 1
        return done

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._raw.fetchone()

    def fetchmany(self, size: int) -> list[tuple[Any, ...]]:
        return self._raw.fetchmany(size)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._raw.fetchall() if self._raw.description is not None else []

    @property
    def description(self) -> Any:
        return self._raw.description

    @property
    def rowcount(self) -> int:
        return self._raw.rowcount

    def close(self) -> None:
        self._raw.close()


def frame(cur: PgCursor) -> pd.DataFrame:
    """The rows of an executed query as DuckDB's ``.df()`` would give them."""
    desc = cur.description or []
    rows = cur.fetchall()
    columns: dict[str, pd.Series] = {}
    for i, d in enumerate(desc):
        values = [r[i] for r in rows]
        has_null = any(v is None for v in values)
        oid = d.type_code
        if oid in _INTS:
            series = pd.Series(values, dtype=_INTS[oid][1 if has_null else 0])
        elif oid in _FLOATS:
            series = pd.Series([None if v is None else float(v) for v in values],
                               dtype="float64")
        elif oid in _TIMES:
            series = pd.Series(pd.to_datetime(pd.Series(values, dtype=object)),
                               dtype="datetime64[us]")
        elif oid == _BOOL:
            series = pd.Series(values, dtype="boolean" if has_null else "bool")
        elif oid in _TEXTS:
            series = pd.Series(values, dtype="str")
        else:
            series = pd.Series(values, dtype=object)
        columns[d.name] = series
    return pd.DataFrame(columns, columns=[d.name for d in desc])


class PgBackend:
    """One PostgreSQL database (and schema, from the URL's ``options``) for this process."""

    kind = "postgres"

    def __init__(self, url: str, *, max_size: int = 20) -> None:
        self.url = url
        self.label = redacted(url)
        self._local = threading.local()  # .conn: the connection a write/exclusive() pinned
        self._write_lock = threading.RLock()
        self.pool = ConnectionPool(
            url, min_size=1, max_size=max_size, open=False, name="promptboard",
            kwargs={"autocommit": True, "cursor_factory": psycopg.RawCursor,
                    "options": session_options(url, (
                        "-c TimeZone=UTC -c jit=off -c work_mem=" + WORK_MEM
                        + f" -c idle_in_transaction_session_timeout="
                          f"{int(IDLE_IN_TRANSACTION_S * 1000)}")),
                    "application_name": "promptboard"},
            check=ConnectionPool.check_connection)
        self.pool.open(wait=True, timeout=POOL_TIMEOUT_S)
        with self.pool.connection() as conn:
            row = conn.execute("SELECT current_database() || '.' || current_schema()").fetchone()
        # int4 for pg_advisory_lock(int, int)
        self.ns = zlib.crc32(str(row[0] if row else "").encode()) - (1 << 31)

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        pinned = getattr(self._local, "conn", None)
        if pinned is not None:  # inside this thread's write or exclusive(): the same one
            yield pinned
            return
        try:
            with self.pool.connection(timeout=POOL_TIMEOUT_S) as conn:
                yield conn
        except PoolTimeout as exc:
            raise psycopg.OperationalError(
                f"No database connection came free within {POOL_TIMEOUT_S:g} s "
                f"({self.label}).") from exc

    @contextmanager
    def cursor(self) -> Iterator[PgCursor]:
        with self._connection() as conn:
            cur = PgCursor(cast("psycopg.RawCursor[Any]", conn.cursor()))
            try:
                yield cur
            finally:
                cur.close()

    def df(self, sql: str, params: Sequence[Any]) -> pd.DataFrame:
        with self.cursor() as cur:
            return frame(cur.execute(sql, params))

    @contextmanager
    def transaction(self, committed: Callable[[], None]) -> Iterator[PgCursor]:
        """A transaction holding the write lock (this process's, then the database's);
        ``committed()`` runs after the COMMIT, still under this process's lock."""
        with self._write_lock, self._connection() as conn:
            outer = getattr(self._local, "conn", None)
            self._local.conn = conn
            try:
                with conn.transaction():
                    cur = PgCursor(cast("psycopg.RawCursor[Any]", conn.cursor()))
                    try:
                        cur.execute("SELECT pg_advisory_xact_lock(?, ?)", [self.ns, WRITE_KEY])
                        yield cur
                    finally:
                        cur.close()
                committed()
            finally:
                self._local.conn = outer

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the write lock across several writes (they reuse this connection)."""
        with self._write_lock, self._connection() as conn:
            outer = getattr(self._local, "conn", None)
            self._local.conn = conn
            conn.execute("SELECT pg_advisory_lock($1, $2)", [self.ns, WRITE_KEY])
            try:
                yield
            finally:
                try:
                    conn.execute("SELECT pg_advisory_unlock($1, $2)", [self.ns, WRITE_KEY])
                finally:
                    self._local.conn = outer

    def copy_out(self, sql: str, params: Sequence[Any], path: Path, fmt: str) -> int:
        """The query's rows into a CSV or Parquet file on this machine (lib/db/pgcopy.py)."""
        with self._connection() as conn:
            write = pgcopy.csv if fmt == "csv" else pgcopy.parquet
            return write(conn, sql, list(params), path)

    # -- other processes' writes (lib/db/listen.py) ----------------------------------

    announces = True

    def start_listening(self, heard: Callable[[set[str] | None], None]) -> None:
        self.listener = Listener(self.url, self.ns, heard, {
            "options": session_options(self.url, "-c TimeZone=UTC"),
            "application_name": "promptboard-listen"})

    @property
    def in_sync(self) -> bool:
        listener = getattr(self, "listener", None)
        return listener is None or listener.in_sync

    def announce(self, cur: PgCursor, tables: set[str]) -> None:
        """Tell the other processes what this transaction wrote (sent at its COMMIT)."""
        listener = getattr(self, "listener", None)
        if tables and listener is not None:
            cur.execute("SELECT pg_notify(?, ?)", [listener.channel, listener.payload(tables)])

    def checkpoint(self) -> None:
        """Nothing to fold: PostgreSQL checkpoints by itself."""

    def close(self) -> None:
        listener = getattr(self, "listener", None)
        if listener is not None:
            listener.close()
        self.pool.close(timeout=5)
