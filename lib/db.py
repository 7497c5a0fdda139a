"""The one DuckDB file: connection, append-only migrations, one write path.

DuckDB allows a single read-write *process* per file, so the dashboard, its
worker threads and the CLI take turns; opening a file another process holds
raises :class:`DatabaseLocked` with a message that says so. Inside the process
every operation gets its own cursor (a cheap connection to the same database,
safe across threads) and every write goes through :meth:`Database.write`,
which holds one lock, so writers never conflict with each other.

Migrations are named functions appended to ``MIGRATIONS``; each runs once and
is recorded in ``schema_migrations``. Never edit one that has shipped: add a new one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pandas as pd

T = TypeVar("T")
log = logging.getLogger(__name__)

Cursor = duckdb.DuckDBPyConnection


class DatabaseLocked(RuntimeError):
    """Another process (usually the dashboard) holds the database file."""


def _m001_core(cur: Cursor) -> None:
    """Jobs, their events, images, prices, users and budgets."""
    cur.execute(
        """
        CREATE TABLE users (
            username TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            email TEXT,
            role TEXT NOT NULL CHECK (role IN ('admin', 'member', 'analyst')),
            password_hash TEXT,
            disabled BOOLEAN NOT NULL DEFAULT false,
            failed_logins INTEGER NOT NULL DEFAULT 0,
            locked_until TIMESTAMP,
            created_at TIMESTAMP NOT NULL
        );
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            batch_id TEXT,
            user_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            prompt TEXT NOT NULL,
            negative_prompt TEXT,
            style TEXT,
            width INTEGER,
            height INTEGER,
            aspect_ratio TEXT,
            quality TEXT,
            seed BIGINT,
            n INTEGER NOT NULL DEFAULT 1,
            reference_key TEXT,
            watermark TEXT,
            params TEXT,
            client_token TEXT,
            provider_state TEXT,
            worker_id TEXT,
            status TEXT NOT NULL
                CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL DEFAULT 4,
            next_run_at TIMESTAMP NOT NULL,
            cancel_requested BOOLEAN NOT NULL DEFAULT false,
            progress DOUBLE,
            progress_note TEXT,
            error_type TEXT,
            error_message TEXT,
            request_id TEXT,
            usage TEXT,
            estimated_cost_usd DECIMAL(18, 8),
            cost_usd DECIMAL(18, 8),
            duration_ms INTEGER,
            created_at TIMESTAMP NOT NULL,
            started_at TIMESTAMP,
            finished_at TIMESTAMP,
            demo BOOLEAN NOT NULL DEFAULT false,
            updated_at TIMESTAMP NOT NULL
        );
        CREATE INDEX jobs_status_idx ON jobs (status);
        CREATE INDEX jobs_user_idx ON jobs (user_id);
        CREATE SEQUENCE job_events_seq;
        CREATE TABLE job_events (
            id BIGINT PRIMARY KEY DEFAULT nextval('job_events_seq'),
            job_id TEXT NOT NULL,
            "at" TIMESTAMP NOT NULL,
            from_status TEXT,
            to_status TEXT NOT NULL,
            detail TEXT
        );
        CREATE INDEX job_events_job_idx ON job_events (job_id);
        CREATE TABLE images (
            id TEXT PRIMARY KEY,
            job_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            user_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            prompt TEXT NOT NULL,
            negative_prompt TEXT,
            style TEXT,
            quality TEXT,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            seed BIGINT,
            original_key TEXT NOT NULL,
            watermarked_key TEXT,
            thumb_key TEXT NOT NULL,
            bytes BIGINT NOT NULL,
            cost_usd DECIMAL(18, 8),
            duration_ms INTEGER,
            request_id TEXT,
            shared BOOLEAN NOT NULL DEFAULT false,
            demo BOOLEAN NOT NULL DEFAULT false,
            created_at TIMESTAMP NOT NULL
        );
        CREATE TABLE image_ratings (
            image_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
            rated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (image_id, user_id)
        );
        CREATE TABLE favourites (
            image_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            added_at TIMESTAMP NOT NULL,
            PRIMARY KEY (image_id, user_id)
        );
        CREATE INDEX images_job_idx ON images (job_id);
        CREATE INDEX images_user_idx ON images (user_id);
        CREATE INDEX images_created_idx ON images (created_at);
        CREATE SEQUENCE claim_turn_seq;
        CREATE TABLE claim_turns (
            user_id TEXT PRIMARY KEY,
            turn BIGINT NOT NULL
        );
        CREATE SEQUENCE prices_seq;
        CREATE TABLE prices (
            id BIGINT PRIMARY KEY DEFAULT nextval('prices_seq'),
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            variant TEXT NOT NULL DEFAULT '*',
            unit TEXT NOT NULL,
            usd_per_unit DECIMAL(18, 10) NOT NULL CHECK (usd_per_unit >= 0),
            effective_from TIMESTAMP NOT NULL,
            source TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TIMESTAMP NOT NULL
        );
        CREATE TABLE budgets (
            scope TEXT NOT NULL CHECK (scope IN ('user', 'team')),
            subject TEXT NOT NULL,
            monthly_usd DECIMAL(18, 2) NOT NULL CHECK (monthly_usd >= 0),
            warn_fraction DOUBLE NOT NULL DEFAULT 0.8,
            updated_by TEXT NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (scope, subject)
        );
        """
    )


def _m002_auth_sessions(cur: Cursor) -> None:
    """Server-side session revocation, and the last sign-in time."""
    cur.execute("ALTER TABLE users ADD COLUMN sessions_valid_after TIMESTAMP")
    cur.execute("ALTER TABLE users ADD COLUMN last_login_at TIMESTAMP")


def _m003_styles(cur: Cursor) -> None:
    """The team's styles library: prompt templates, curated by admins, proposed by members."""
    cur.execute(
        """
        CREATE TABLE styles (
            id TEXT PRIMARY KEY,
            label TEXT NOT NULL,
            template TEXT NOT NULL,
            negative TEXT NOT NULL DEFAULT '',
            settings TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL CHECK (status IN ('active', 'proposed', 'archived')),
            builtin BOOLEAN NOT NULL DEFAULT false,
            preview_key TEXT,
            created_by TEXT NOT NULL,
            created_at TIMESTAMP NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at TIMESTAMP NOT NULL
        )
        """
    )


def _m004_price_audit(cur: Cursor) -> None:
    """Which price rows priced each job, and an audit trail of price changes and recomputes."""
    cur.execute("ALTER TABLE jobs ADD COLUMN price_ids TEXT")
    cur.execute("CREATE SEQUENCE price_audit_seq")
    cur.execute(
        """
        CREATE TABLE price_audit (
            id BIGINT PRIMARY KEY DEFAULT nextval('price_audit_seq'),
            "at" TIMESTAMP NOT NULL,
            by_user TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL
        )
        """
    )


def _m005_comparisons(cur: Cursor) -> None:
    """Saved comparisons (the Compare page): axes, the job of each cell, a winner per row."""
    cur.execute(
        """
        CREATE TABLE comparisons (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            title TEXT NOT NULL,
            axes TEXT NOT NULL,
            shared BOOLEAN NOT NULL DEFAULT false,
            client_token TEXT,
            created_at TIMESTAMP NOT NULL
        );
        CREATE INDEX comparisons_owner_idx ON comparisons (owner);
        CREATE TABLE comparison_cells (
            comparison_id TEXT NOT NULL,
            row_idx INTEGER NOT NULL,
            col_idx INTEGER NOT NULL,
            job_id TEXT,
            note TEXT,
            images_shared BOOLEAN NOT NULL DEFAULT false,
            PRIMARY KEY (comparison_id, row_idx, col_idx)
        );
        CREATE TABLE comparison_winners (
            comparison_id TEXT NOT NULL,
            row_idx INTEGER NOT NULL,
            col_idx INTEGER NOT NULL,
            by_user TEXT NOT NULL,
            "at" TIMESTAMP NOT NULL,
            PRIMARY KEY (comparison_id, row_idx)
        );
        """
    )


def _m006_style_preview_jobs(cur: Cursor) -> None:
    """The job drawing a style's preview through the queue (lib.style_previews)."""
    cur.execute("ALTER TABLE styles ADD COLUMN preview_job_id TEXT")


def _m007_storage_debt(cur: Cursor) -> None:
    """Storage prefixes whose delete failed (storage down), retried until it succeeds."""
    cur.execute(
        "CREATE TABLE storage_debt (prefix TEXT PRIMARY KEY, reason TEXT NOT NULL, "
        "since TIMESTAMP NOT NULL)"
    )


MIGRATIONS: list[tuple[str, Callable[[Cursor], None]]] = [
    ("001_core", _m001_core),
    ("002_auth_sessions", _m002_auth_sessions),
    ("003_styles", _m003_styles),
    ("004_price_audit", _m004_price_audit),
    ("005_comparisons", _m005_comparisons),
    ("006_style_preview_jobs", _m006_style_preview_jobs),
    ("007_storage_debt", _m007_storage_debt),
]


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
        self.path.parent.mkdir(parents=True, exist_ok=True)
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
        self._write_lock = threading.RLock()
        self._closed = False
        self.version = 0  # bumped by every committed write: a cheap key for read caches
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

    def cached(self, key: str, load: Callable[[], T], tables: tuple[str, ...]) -> T:
        """``load()``'s result, reused until a committed write touches one of ``tables``.

        For small, hot reads (the price table, whether any budget exists). A write "touches"
        a table when a non-SELECT statement of its transaction names it; DDL touches all.
        Versions are read before loading, so a write racing the load only makes the next
        call reload. Inside ``write()`` they are current: no other write can commit meanwhile.
        """
        self._watched.update(tables)  # before reading versions: see write()
        version = (self._touched.get("*", 0), *(self._touched.get(t, 0) for t in tables))
        hit = self._memo.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]  # type: ignore[no-any-return]
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
        """Close the connection; the file lock is released."""
        if not self._closed:
            self._closed = True
            self._con.close()
