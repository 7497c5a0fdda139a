"""The embedded backend: one DuckDB file, opened by one process at a time (the default).

DuckDB allows a single read-write *process* per file, so the dashboard, its worker threads
and the CLI take turns; opening a file another process holds raises
:class:`~lib.db.database.DatabaseLocked` with a message that says so. Inside the process every
operation gets its own cursor (a cheap connection to the same database, safe across threads)
and every write holds one lock, so writers never conflict with each other.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from lib.core.errors import PromptboardError
from lib.core.fsperm import private_dir, private_file

log = logging.getLogger(__name__)


class DatabaseLocked(PromptboardError, RuntimeError):
    """Another process (usually the dashboard) holds the database file."""


class DuckBackend:
    """One DuckDB file shared by every thread of this process."""

    kind = "duckdb"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = str(path)
        private_dir(path.parent)
        try:
            self._con = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise DatabaseLocked(
                    f"Another Promptboard process (usually the dashboard) is using {path}. "
                    "DuckDB lets one process at a time open it: stop the dashboard, or do this "
                    "from the dashboard instead."
                ) from exc
            raise
        self._wal = path.with_name(path.name + ".wal")
        private_file(path)
        self._write_lock = threading.RLock()

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self._con.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def df(self, sql: str, params: Sequence[Any]) -> pd.DataFrame:
        with self.cursor() as cur:
            return cur.execute(sql, list(params)).df()

    @contextmanager
    def transaction(self, committed: Callable[[], None]) -> Iterator[duckdb.DuckDBPyConnection]:
        """A transaction under the process-wide write lock; ``committed()`` runs after the
        COMMIT, still under the lock."""
        with self._write_lock:
            raw = self._con.cursor()
            try:
                raw.begin()
                yield raw
                raw.commit()
                committed()
                private_file(self._wal)  # DuckDB makes a new WAL after each checkpoint
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
        with self._write_lock:
            yield

    def copy_out(self, sql: str, params: Sequence[Any], path: Path, fmt: str) -> int:
        """The query's rows into a CSV (with a header) or zstd Parquet file, by DuckDB's COPY
        (streamed, never all in memory); returns how many rows."""
        options = "FORMAT csv, HEADER" if fmt == "csv" else "FORMAT parquet, COMPRESSION zstd"
        target = str(path).replace("'", "''")  # the path is ours; quotes doubled all the same
        with self.cursor() as cur:
            row = cur.execute(f"COPY ({sql}) TO '{target}' ({options})", list(params)).fetchone()
        return int(row[0]) if row else 0

    def backup_to(self, path: Path) -> None:
        """Copy the whole database (tables, rows, indexes, sequences) into the new DuckDB
        file ``path`` (DuckDB's ``COPY FROM DATABASE``), under the write lock: a consistent
        snapshot while readers go on."""
        target = str(path).replace("'", "''")  # the path is ours; quotes doubled all the same
        with self._write_lock, self.cursor() as cur:
            name = cur.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
            cur.execute(f"ATTACH '{target}' AS pb_backup")
            try:
                cur.execute(f'COPY FROM DATABASE "{name}" TO pb_backup')
            finally:
                cur.execute("DETACH pb_backup")

    announces = False  # one process: its own writes are all there are
    in_sync = True

    def start_listening(self, heard: Callable[[set[str] | None], None]) -> None:
        """Nothing to hear: no other process opens the file."""

    def announce(self, cur: Any, tables: set[str]) -> None:
        """Nobody to tell."""

    def checkpoint(self) -> None:
        with self._write_lock:
            self._con.execute("CHECKPOINT")

    def close(self) -> None:
        """Close the connection; the file lock is released. A call another thread is making
        right now (a worker's progress write at shutdown) is let finish: DuckDB refuses to
        close a busy connection, so closing retries for up to 5 s."""
        deadline = time.monotonic() + 5
        while True:
            try:
                self._con.close()
                return
            except duckdb.ResourceInUseException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
