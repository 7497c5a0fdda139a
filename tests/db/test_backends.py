"""The two backends behind ``Database``: the SQL text translation, one writer at a time across
processes on PostgreSQL, frames with DuckDB's dtypes, and a URL whose password never shows."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from lib.core import config
from lib.db import dialect, sqltext
from lib.db.database import Database, is_url
from lib.db.pg import redacted


@pytest.mark.parametrize(("sql", "want"), [
    ("SELECT ?", "SELECT $1"),
    ("SELECT * FROM t WHERE a = ? AND b IN (?, ?)",
     "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)"),
    ("SELECT 'what?', ? -- why?\n, ?", "SELECT 'what?', $1 -- why?\n, $2"),
    ("SELECT 'it''s ?', \"col?\", ? /* ? */ , ?", "SELECT 'it''s ?', \"col?\", $1 /* ? */ , $2"),
    ("SELECT a - ? / ?", "SELECT a - $1 / $2"),
    ("SELECT x FROM t WHERE p LIKE 'demo-%' AND y = ?",
     "SELECT x FROM t WHERE p LIKE 'demo-%' AND y = $1"),
    ("SELECT ?::TEXT IS NULL", "SELECT $1::TEXT IS NULL"),
])
def test_question_marks_become_numbered_outside_literals_names_and_comments(
        sql: str, want: str) -> None:
    assert sqltext.numbered(sql) == want


def test_duckdb_type_names_become_postgresql_s_in_ddl_only() -> None:
    assert sqltext.ddl("CREATE TABLE t (x DOUBLE, b BLOB, y DOUBLE PRECISION)") == (
        "CREATE TABLE t (x DOUBLE PRECISION, b BYTEA, y DOUBLE PRECISION)")
    assert sqltext.ddl("ALTER TABLE jobs ADD COLUMN p DOUBLE") == (
        "ALTER TABLE jobs ADD COLUMN p DOUBLE PRECISION")
    assert sqltext.ddl("SELECT 'DOUBLE'") == "SELECT 'DOUBLE'"


def test_the_url_s_password_never_shows() -> None:
    url = "postgresql://pb:s3cr3t@db.example:5433/promptboard?sslmode=require"
    assert redacted(url) == "postgresql://pb@db.example:5433/promptboard?sslmode=require"
    assert "s3cr3t" not in redacted(url)
    assert redacted("postgresql://pb@host/db") == "postgresql://pb@host/db"
    assert is_url(url) and not is_url("/data/promptboard.duckdb")


def test_the_database_url_must_be_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTBOARD_DATABASE_URL", "mysql://x@y/z")
    with pytest.raises(ValueError, match="PROMPTBOARD_DATABASE_URL must start with postgresql"):
        config.load()
    monkeypatch.setenv("PROMPTBOARD_DATABASE_URL", "postgresql://pb@host/db")
    assert config.load().database == "postgresql://pb@host/db"
    monkeypatch.delenv("PROMPTBOARD_DATABASE_URL")
    assert config.load().database == config.load().db_path


def test_types_come_back_the_same_on_both(backend: str) -> None:
    db = Database(config.load().database)
    try:
        assert db.kind == backend
        with db.write() as cur:
            cur.execute("INSERT INTO budgets VALUES (?, ?, ?, ?, ?, ?)",
                        ["team", "team", Decimal("12.50"), 0.8, "ada",
                         datetime(2026, 1, 2, 3, 4, 5, 678901)])
        row = db.fetchone("SELECT scope, monthly_usd, warn_fraction, updated_at, "
                          "CAST(updated_at AS DATE), count(*) OVER () FROM budgets")
        assert row == ("team", Decimal("12.50"), 0.8, datetime(2026, 1, 2, 3, 4, 5, 678901),
                       date(2026, 1, 2), 1)
        assert db.dicts("SELECT scope AS s FROM budgets") == [{"s": "team"}]
    finally:
        db.close()


def test_frames_have_duckdb_s_dtypes_on_both(backend: str) -> None:
    db = Database(config.load().database)
    try:
        frame = db.df("""
            SELECT * FROM (VALUES
                (1, CAST(NULL AS INTEGER), CAST(2 AS BIGINT), CAST(1.5 AS DECIMAL(18, 8)),
                 DATE '2026-01-01', TIMESTAMP '2026-01-01 10:00:00', true,
                 CAST(NULL AS BOOLEAN), 'x', CAST(1.5 AS DOUBLE PRECISION)),
                (2, 3, CAST(4 AS BIGINT), NULL, NULL, NULL, false, true, NULL, NULL)
            ) AS t(a, b, c, d, e, f, g, h, i, j) ORDER BY a""")
        assert {k: str(v) for k, v in frame.dtypes.items()} == {
            "a": "int32", "b": "Int32", "c": "int64", "d": "float64", "e": "datetime64[us]",
            "f": "datetime64[us]", "g": "bool", "h": "boolean", "i": "str", "j": "float64"}
        assert frame["d"].iloc[0] == 1.5 and pd.isna(frame["d"].iloc[1])
        assert frame["f"].iloc[0] == pd.Timestamp("2026-01-01 10:00:00")
    finally:
        db.close()


def test_exclusive_keeps_a_second_process_s_writes_out_on_postgresql(postgres_url: str) -> None:
    """Two Database objects on one PostgreSQL database are two processes as far as the
    server can tell: while one holds exclusive(), the other's write waits."""
    first, second = Database(postgres_url), Database(postgres_url)
    order: list[str] = []
    try:
        with first.exclusive():
            with first.write() as cur:
                cur.execute("INSERT INTO claim_turns VALUES ('a', 1)")

            def other() -> None:
                with second.write() as cur:
                    # what it counts tells when it ran: after 'a' and 'c', it sees both
                    cur.execute("INSERT INTO claim_turns SELECT 'b', count(*) FROM claim_turns")
                order.append("second")

            t = threading.Thread(target=other)
            t.start()
            time.sleep(0.5)  # long enough for the other write to reach the lock and wait
            order.append("first done")
            with first.write() as cur:  # reentrant inside exclusive(): no self-deadlock
                cur.execute("INSERT INTO claim_turns VALUES ('c', 3)")
        t.join(timeout=30)
        assert order == ["first done", "second"]
        assert second.scalar("SELECT turn FROM claim_turns WHERE user_id = 'b'") == 2
    finally:
        first.close()
        second.close()


def test_writes_of_two_processes_never_interleave_on_postgresql(postgres_url: str) -> None:
    """Read-then-write under db.write() (the budget check, the dedupe) stays correct with
    two processes: 2 × 4 threads × 10 increments of one counter lose none."""
    dbs = [Database(postgres_url), Database(postgres_url)]
    try:
        with dbs[0].write() as cur:
            cur.execute("INSERT INTO claim_turns VALUES ('n', 0)")

        def bump(db: Database) -> None:
            for _ in range(10):
                with db.write() as cur:
                    row = cur.execute("SELECT turn FROM claim_turns WHERE user_id = 'n'").fetchone()
                    assert row is not None
                    cur.execute("UPDATE claim_turns SET turn = ? WHERE user_id = 'n'",
                                [row[0] + 1])

        threads = [threading.Thread(target=bump, args=(db,)) for db in dbs for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert dbs[1].scalar("SELECT turn FROM claim_turns WHERE user_id = 'n'") == 80
    finally:
        for db in dbs:
            db.close()


def test_migrations_run_once_when_two_processes_start_together(postgres_url: str) -> None:
    opened: list[Database] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            opened.append(Database(postgres_url))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert errors == [] and len(opened) == 3
        names = opened[0].fetchall("SELECT name, count(*) FROM schema_migrations GROUP BY name")
        assert names and all(n == 1 for _, n in names)
    finally:
        for db in opened:
            db.close()


def test_text_postgresql_cannot_hold_is_refused_with_a_clear_message(backend: str) -> None:
    db = Database(config.load().database)
    try:
        if backend == "postgres":
            with pytest.raises(ValueError, match="NUL character"):
                db.fetchall("SELECT count(*) FROM users WHERE username = ?", ["a\x00b"])
        else:  # DuckDB holds it, and finds nothing
            assert db.fetchall("SELECT count(*) FROM users WHERE username = ?", ["a\x00b"]) == [
                (0,)]
    finally:
        db.close()


def test_a_process_stopped_inside_a_write_does_not_hold_every_writer(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the SIGSTOP soak (tests/reliability/test_pg_workers.py): a worker frozen between
    two statements of a write held the database's write lock, so no other process could claim,
    renew a lease or take the frozen worker's jobs back. The server now ends a session idle
    inside its transaction: the lock goes, the stalled write is rolled back and fails."""
    from lib.db import pg

    monkeypatch.setattr(pg, "IDLE_IN_TRANSACTION_S", 0.5)
    frozen, other = Database(postgres_url), Database(postgres_url)
    inside = threading.Event()
    errors: list[BaseException] = []

    def stalled_write() -> None:
        try:
            with frozen.write() as cur:
                cur.execute("INSERT INTO meta (key, value) VALUES ('frozen', 'x')")
                inside.set()
                time.sleep(2.0)  # "stopped" between two statements, holding the lock
                cur.execute("SELECT 1")
        except BaseException as exc:  # noqa: BLE001 - what the stalled writer sees
            errors.append(exc)

    stalled = threading.Thread(target=stalled_write)
    try:
        stalled.start()
        assert inside.wait(10)
        with other.write() as cur:  # waits for the lock only until the server ends the stall
            cur.execute("INSERT INTO meta (key, value) VALUES ('other', 'y')")
        stalled.join(10)
        assert errors and "terminat" in str(errors[0]).lower(), errors
        assert other.fetchall("SELECT key FROM meta WHERE key IN ('frozen', 'other')") == [
            ("other",)]
        with frozen.write() as cur:  # the pool replaced the ended connection
            cur.execute("INSERT INTO meta (key, value) VALUES ('after', 'z')")
    finally:
        stalled.join(10)
        frozen.close()
        other.close()


def test_the_analytics_indexes_are_made_on_postgresql_only(postgres_url: str,
                                                             tmp_path: Path) -> None:
    """DuckDB prunes by row-group min/max and would only pay for these on every insert."""
    wanted = {"jobs_created_idx", "jobs_provider_idx", "jobs_model_idx",
              "jobs_deleted_images_idx", "jobs_succeeded_idx"}
    pg = Database(postgres_url)
    try:
        made = {r[0] for r in pg.fetchall(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'jobs'")}
        assert wanted <= made
        plan = "\n".join(r[0] for r in pg.fetchall(
            "EXPLAIN SELECT " + dialect.distinct_values(pg.kind, "jobs", "model")))
        assert "jobs_model_idx" in plan  # a skip-scan, not a scan of every job
    finally:
        pg.close()
    duck = Database(tmp_path / "d.duckdb")
    try:
        assert not wanted & {r[0] for r in duck.fetchall(
            "SELECT index_name FROM duckdb_indexes() WHERE table_name = 'jobs'")}
    finally:
        duck.close()


def test_the_url_s_schema_option_is_kept_beside_our_session_settings(postgres_url: str) -> None:
    """README: ``?options=-csearch_path%3Dpromptboard`` puts the tables in that schema (our own
    ``-c`` settings once replaced the URL's options, and the tables landed in public)."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA promptboard")
    db = Database(postgres_url + "?options=-csearch_path%3Dpromptboard")
    try:
        assert db.scalar("SELECT current_schema()") == "promptboard"
        assert db.scalar("SHOW jit") == "off"  # ours, beside the URL's
        assert db.scalar("SELECT count(*) FROM information_schema.tables WHERE "
                         "table_schema = 'promptboard' AND table_name = 'jobs'") == 1
        assert db.scalar("SELECT count(*) FROM information_schema.tables WHERE "
                         "table_schema = 'public'") == 0
    finally:
        db.close()
