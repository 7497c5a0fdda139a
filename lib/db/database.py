"""The database: the embedded DuckDB file by default, or PostgreSQL; one write path.

:class:`Database` is what every other module uses, with the same verbs on both backends:
``fetchall/fetchone/scalar/dicts/df`` to read, ``write()`` (one transaction, one writer at a
time) and ``exclusive()`` (several writes with no other writer between them) to write,
``cached()`` for small hot reads. ``Database(path)`` opens a DuckDB file
(:mod:`lib.db.duck`: one process at a time, :class:`DatabaseLocked` otherwise);
``Database("postgresql://…")`` a PostgreSQL database through a connection pool
(:mod:`lib.db.pg`: any number of processes). Queries are written once, with ``?``
placeholders; the few places the dialects differ are named in ``docs/postgres-plan.md``.

Migrations (:mod:`lib.db.migrations`) are named functions appended to ``MIGRATIONS``; each
runs once and is recorded in ``schema_migrations``, on either backend. Never edit one that
has shipped.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import duckdb
import pandas as pd
import psycopg

from lib.db.cursor import Cursor
from lib.db.duck import DatabaseLocked, DuckBackend
from lib.db.migrations import MIGRATIONS

T = TypeVar("T")
log = logging.getLogger(__name__)

__all__ = ["DRIVER_ERRORS", "Cursor", "Database", "DatabaseLocked", "is_url", "one_row"]

# What either driver raises for a failed statement (a full disk, a refused write, a lost server)
DRIVER_ERRORS: tuple[type[Exception], ...] = (duckdb.Error, psycopg.Error)
_SERIALS = itertools.count(1)


class Backend(Protocol):
    """What :class:`Database` needs of a backend (``lib/db/duck.py``, ``lib/db/pg.py``)."""

    kind: str
    label: str

    def cursor(self) -> AbstractContextManager[Any]: ...

    def df(self, sql: str, params: Sequence[Any]) -> pd.DataFrame: ...

    def transaction(self, committed: Callable[[], None]) -> AbstractContextManager[Any]: ...

    def exclusive(self) -> AbstractContextManager[None]: ...

    def checkpoint(self) -> None: ...

    def close(self) -> None: ...

    def copy_out(self, sql: str, params: Sequence[Any], path: Path, fmt: str) -> int: ...

    announces: bool  # its writes must tell other processes what they named

    @property
    def in_sync(self) -> bool: ...  # False while other processes' writes cannot be heard

    def start_listening(self, heard: Callable[[set[str] | None], None]) -> None: ...

    def announce(self, cur: Any, tables: set[str]) -> None: ...


def is_url(target: Path | str) -> bool:
    """Does ``target`` name a PostgreSQL server (``postgresql://…``) rather than a file?"""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


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
    """The one database of this process, on whichever backend ``target`` names."""

    def __init__(self, target: Path | str, *, migrate: bool = True) -> None:
        self._backend: Backend
        if is_url(target):
            from lib.db.pg import PgBackend

            self._backend = PgBackend(str(target))
            self.path: Path | None = None
        else:
            self.path = Path(target)
            self._backend = DuckBackend(self.path)
        self.kind: str = self._backend.kind  # "duckdb" or "postgres"
        self.label: str = self._backend.label  # file path, or the URL without its password
        self._closed = False
        self.version = 0  # bumped by every committed write: a cheap key for read caches
        self.serial = next(_SERIALS)  # tells this open apart from another of the same file
        self._memo: dict[str, tuple[tuple[int, ...], Any]] = {}
        self._watched: set[str] = set()  # tables some cached() read depends on
        self._touched: dict[str, int] = {}  # table -> writes committed that named it
        self._bumps = threading.Lock()  # writers and the listener thread bump the same counters
        self._hearers: list[Callable[[set[str] | None], None]] = []
        if migrate:
            self.migrate()
        self._backend.start_listening(self._heard)

    # -- reads ---------------------------------------------------------------------

    @contextmanager
    def cursor(self) -> Iterator[Cursor]:
        """A fresh cursor for this thread, closed afterwards."""
        with self._backend.cursor() as cur:
            yield cast(Cursor, cur)

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
        return self._backend.df(sql, list(params))

    def copy_out(self, sql: str, params: Sequence[Any], path: Path, fmt: str) -> int:
        """Write a read query's rows to the file ``path`` on this machine, as ``fmt`` ("csv",
        with a header line, or "parquet"), streamed; returns how many rows."""
        if fmt not in ("csv", "parquet"):
            raise ValueError(f"copy_out writes csv or parquet, not {fmt!r}.")
        return self._backend.copy_out(sql, list(params), path, fmt)

    def backup_to(self, path: Path) -> None:
        """The embedded database, copied whole into the new DuckDB file ``path`` while it is in
        use (``lib.db.backup``); PostgreSQL is backed up with ``pg_dump`` (TypeError here)."""
        if not isinstance(self._backend, DuckBackend):
            raise TypeError("backup_to copies the embedded DuckDB file; use pg_dump")
        self._backend.backup_to(path)

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
        if not self._backend.in_sync:  # other processes' writes unheard: a key never seen
            self._bump({"*"})
        return (self._touched.get("*", 0), *(self._touched.get(t, 0) for t in tables))

    def cached(self, key: str, load: Callable[[], T], tables: tuple[str, ...]) -> T:
        """``load()``'s result, reused until a committed write touches one of ``tables``.

        For small, hot reads (the price table, whether any budget exists). A write "touches"
        a table when a non-SELECT statement of its transaction names it; DDL touches all.
        Versions are read before loading, so a write racing the load only makes the next
        call reload. Inside ``write()`` they are current: no other write can commit meanwhile.
        """
        if not self._backend.in_sync:  # other processes' writes unheard: nothing is current
            return load()
        version = self.tables_version(*tables)
        hit = self._memo.get(key)
        if hit is not None and hit[0] == version:
            return cast(T, hit[1])
        value = load()
        self._memo[key] = (version, value)
        return value

    def _heard(self, tables: set[str] | None) -> None:
        """Another process committed a write naming ``tables`` (None: anything may have
        changed): the same bumps as a write of this process's own."""
        self._bump(tables if tables is not None else {"*"})
        for hearer in list(self._hearers):
            hearer(tables)

    def on_heard(self, hearer: Callable[[set[str] | None], None]) -> Callable[[], None]:
        """Call ``hearer(tables)`` on the listener thread whenever another process commits a
        write (PostgreSQL; ``None``: anything may have changed); returns the undo."""
        self._hearers.append(hearer)
        return lambda: self._hearers.remove(hearer) if hearer in self._hearers else None

    def _bump(self, tables: Iterable[str]) -> None:
        """A committed write (or an unheard gap) named ``tables``: bump them and the version."""
        with self._bumps:
            self.version += 1
            for table in tables:
                self._touched[table] = self._touched.get(table, 0) + 1

    def _tables(self) -> set[str]:
        """Every table of the schema (what a write's notice may name), re-read after DDL."""
        return self.cached("db.tables", lambda: {str(r[0]) for r in self.fetchall(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema()")}, ())

    # -- writes --------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[Cursor]:
        """The one write path: a transaction holding the write lock (this process's; on
        PostgreSQL, the database's too, so one writer at a time across every process)."""
        rec: _Recording | None = None

        def committed() -> None:  # after COMMIT, before the lock is let go
            # Checked after the commit: a cached() load that could have missed this write
            # registered its tables before it started (see cached()).
            self._bump(rec.touched(self._watched) if rec is not None else ())

        with self._backend.transaction(committed) as raw:
            rec = _Recording(cast(Cursor, raw))
            yield cast(Cursor, rec)  # a Cursor in all but name
            if self._backend.announces:  # before COMMIT: the notice is sent with it
                self._backend.announce(raw, rec.touched(self._tables()))

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the write lock across several writes (they take it again, it is reentrant):
        no other writer commits meanwhile, so a check made first still holds for them all."""
        with self._backend.exclusive():
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
        """Fold DuckDB's write-ahead log into the file (nothing to do on PostgreSQL)."""
        self._backend.checkpoint()

    def close(self) -> None:
        """Close the connection (DuckDB: the file lock is released) or the pool."""
        if self._closed:
            return
        self._closed = True
        self._backend.close()
