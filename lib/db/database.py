"""The one DuckDB file: connection, append-only migrations, one write path.

DuckDB allows a single read-write *process* per file, so the dashboard, its
worker threads and the CLI take turns; opening a file another process holds
raises :class:`DatabaseLocked` with a message that says so. Inside the process
every operation gets its own cursor (a cheap connection to the same database,
safe across threads) and every write goes through :meth:`Database.write`,
which holds one lock, so writers never conflict with each other.

Migrations (:mod:`lib.db.migrations`) are named functions appended to ``MIGRATIONS``; each
runs once and is recorded in ``schema_migrations``. Never edit one that has shipped.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import duckdb
import pandas as pd

from lib.core.errors import PromptboardError
from lib.core.fsperm import private_dir, private_file
from lib.db.migrations import MIGRATIONS

T = TypeVar("T")
log = logging.getLogger(__name__)

Cursor = duckdb.DuckDBPyConnection


_SERIALS = itertools.count(1)


class DatabaseLocked(PromptboardError, RuntimeError):
    """Another process (usually the dashboard) holds the database file."""


def one_row(cur: Cursor) -> tuple[Any, ...]:
    """The row a just-executed query must return (a count, an INSERT ... RETURNING).

    Raises a clear error instead of ``TypeError: 'NoneType' is not subscriptable``
    when it returned none.
    """
    row = cur.fetchone()
    if row is None:
        raise RuntimeError("The database returned no row where one was expected.")
    return row

_DDL = ("CREATE", "ALTER", "DROP")


class _Recording:
    """A write cursor that keeps the text of its changing statements (see cached())."""

    def __init__(self, cur: Cursor) -> None:
        self._cur = cur
        self.changes: list[str] = []  # lower-cased non-SELECT statements; "*" for DDL

    def _note(self, sql: str) -> None:
        head = sql.lstrip()[:8].upper()
        if head.startswith(("SELECT", "WITH")):
            return
        self.changes.append("*" if head.startswith(_DDL) else sql.lower())

    def touched(self, tables: set[str]) -> set[str]:
        """Which of ``tables`` (and "*" for DDL) this transaction's statements named."""
        if "*" in self.changes:
            return {"*"}
        return {t for t in tables if any(t in sql for sql in self.changes)}

    def execute(self, sql: str, params: Any = None) -> Cursor:
        self._note(sql)
        return self._cur.execute(sql, params)

    def executemany(self, sql: str, params: Any = None) -> Cursor:
        self._note(sql)
        return self._cur.executemany(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


class Database:
    """One DuckDB file shared by every thread of this process."""

    def __init__(self, path: Path | str, *, migrate: bool = True) -> None:
        self.path = Path(path)
        private_dir(self.path.parent)
        try:
            self._con = duckdb.connect(str(self.path))
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise DatabaseLocked(
                    f"Another Promptboard process (usually the dashboard) is using {self.path}. "
                    "DuckDB lets one process at a time open it: stop the dashboard, or do this "
                    "from the dashboard instead."
                ) from exc
            raise
        self._wal = self.path.with_name(self.path.name + ".wal")
        private_file(self.path)
        self._write_lock = threading.RLock()
        self._closed = False
        self.version = 0  # bumped by every committed write: a cheap key for read caches
        self.serial = next(_SERIALS)  # tells this open apart from another of the same file
        self._memo: dict[str, tuple[tuple[int, ...], Any]] = {}
        self._watched: set[str] = set()  # tables some cached() read depends on
        self._touched: dict[str, int] = {}  # table -> writes committed that named it
        if migrate:
            self.migrate()

    # -- reads ---------------------------------------------------------------------

    @contextmanager
    def cursor(self) -> Iterator[Cursor]:
        """A fresh cursor for this thread, closed afterwards."""
        cur = self._con.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query and return every row."""
        with self.cursor() as cur:
            return cur.execute(sql, list(params)).fetchall()

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """Run a read query and return its first row, or None."""
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None."""
        row = self.fetchone(sql, params)
        return row[0] if row else None

    def df(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run a read query into a DataFrame."""
        with self.cursor() as cur:
            return cur.execute(sql, list(params)).df()

    def dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a read query and return rows as dicts keyed by column name."""
        with self.cursor() as cur:
            res = cur.execute(sql, list(params))
            cols = [d[0] for d in res.description]
            return [dict(zip(cols, row, strict=True)) for row in res.fetchall()]

    def tables_version(self, *tables: str) -> tuple[int, ...]:
        """A key that changes only when a committed write names one of ``tables`` (or DDL).

        For read caches over a few tables (the gallery's images, ratings and favourites)
        that must not be thrown away by every unrelated write (job progress, say).
        """
        self._watched.update(tables)  # before reading versions: see write()
        return (self._touched.get("*", 0), *(self._touched.get(t, 0) for t in tables))

    def cached(self, key: str, load: Callable[[], T], tables: tuple[str, ...]) -> T:
        """``load()``'s result, reused until a committed write touches one of ``tables``.

        For small, hot reads (the price table, whether any budget exists). A write "touches"
        a table when a non-SELECT statement of its transaction names it; DDL touches all.
        Versions are read before loading, so a write racing the load only makes the next
        call reload. Inside ``write()`` they are current: no other write can commit meanwhile.
        """
        version = self.tables_version(*tables)
        hit = self._memo.get(key)
        if hit is not None and hit[0] == version:
            return cast(T, hit[1])
        value = load()
        self._memo[key] = (version, value)
        return value

    # -- writes --------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[Cursor]:
        """The one write path: a transaction under the process-wide write lock."""
        with self._write_lock:
            raw = self._con.cursor()
            rec = _Recording(raw)
            try:
                raw.begin()
                yield rec  # type: ignore[misc]  # a Cursor in all but name
                raw.commit()
                private_file(self._wal)  # DuckDB makes a new WAL after each checkpoint
                self.version += 1
                # Checked after the commit: a cached() load that could have missed this write
                # registered its tables before it started (see cached()).
                for table in rec.touched(self._watched):
                    self._touched[table] = self._touched.get(table, 0) + 1
            except BaseException:
                try:
                    raw.rollback()
                except duckdb.Error:
                    log.debug("rollback after a failed write also failed", exc_info=True)
                raise
            finally:
                raw.close()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the write lock across several writes (they take it again, it is reentrant):
        no other thread commits meanwhile, so a check made first still holds for them all."""
        with self._write_lock:
            yield

    def migrate(self) -> list[str]:
        """Apply migrations not yet recorded; return the names applied."""
        applied: list[str] = []
        with self.write() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "name TEXT PRIMARY KEY, applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
            )
            done = {r[0] for r in cur.execute("SELECT name FROM schema_migrations").fetchall()}
            for name, fn in MIGRATIONS:
                if name in done:
                    continue
                fn(cur)
                cur.execute("INSERT INTO schema_migrations (name) VALUES (?)", [name])
                applied.append(name)
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        return applied

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the file."""
        with self._write_lock:
            self._con.execute("CHECKPOINT")

    def close(self) -> None:
        """Close the connection; the file lock is released. A call another thread is making
        right now (a worker's progress write at shutdown) is let finish: DuckDB refuses to
        close a busy connection, so closing retries for up to 5 s."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + 5
        while True:
            try:
                self._con.close()
                return
            except duckdb.ResourceInUseException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
