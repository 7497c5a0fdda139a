"""The database on both backends (DuckDB and PostgreSQL): migrations run once, writes roll back
on error, caches follow committed writes; the DuckDB file is opened by one process at a time."""

from __future__ import annotations

import pytest

from lib.core import config
from lib.db.database import MIGRATIONS, Database, one_row
from tests.helpers import ROOT


@pytest.fixture(autouse=True)
def _on_each_backend(backend: str) -> str:
    return backend


def test_migrations_are_recorded_and_run_once() -> None:
    path = config.load().database
    db = Database(path)
    names = [r[0] for r in db.fetchall("SELECT name FROM schema_migrations ORDER BY name")]
    assert names == [m[0] for m in MIGRATIONS]
    assert db.migrate() == []
    db.close()
    again = Database(path)
    assert again.migrate() == []
    again.close()


def test_a_failed_write_rolls_back() -> None:
    db = Database(config.load().database)
    try:
        with pytest.raises(RuntimeError), db.write() as cur:
            cur.execute("INSERT INTO budgets VALUES ('team', 'all', 10, 0.8, 'x', now())")
            raise RuntimeError("boom")
        assert db.scalar("SELECT count(*) FROM budgets") == 0
    finally:
        db.close()


def test_one_row_returns_the_row_or_says_there_was_none() -> None:
    db = Database(config.load().database)
    try:
        with db.cursor() as cur:
            assert one_row(cur.execute("SELECT count(*) FROM budgets")) == (0,)
            with pytest.raises(RuntimeError, match="no row"):
                one_row(cur.execute("SELECT 1 FROM budgets WHERE false"))
    finally:
        db.close()


@pytest.mark.duckdb_only
def test_a_second_process_is_told_the_dashboard_holds_the_file() -> None:
    import subprocess
    import sys

    db = Database(config.load().db_path)
    try:
        code = (
            "from lib.core import config\nfrom lib.db.database import Database, DatabaseLocked\n"
            "try:\n    Database(config.load().db_path)\nexcept DatabaseLocked as e:\n"
            "    print(e)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                             text=True, timeout=60).stdout
        assert "Another Promptboard process" in out and "promptboard.duckdb" in out
    finally:
        db.close()


def test_every_committed_write_bumps_the_data_version_and_a_rollback_does_not() -> None:
    db = Database(config.load().database)
    try:
        v0 = db.version
        with db.write() as cur:
            cur.execute("INSERT INTO budgets VALUES ('team', 'team', 10, 0.8, 'x', now())")
        assert db.version == v0 + 1
        with pytest.raises(RuntimeError), db.write() as cur:
            cur.execute("DELETE FROM budgets")
            raise RuntimeError("boom")
        assert db.version == v0 + 1
    finally:
        db.close()


def test_a_cached_read_reloads_only_after_a_committed_write_names_its_table() -> None:
    db = Database(config.load().database)
    loads: list[int] = []

    def count() -> int:
        loads.append(1)
        return int(db.scalar("SELECT count(*) FROM budgets"))

    try:
        assert db.cached("n", count, ("budgets",)) == 0
        with db.write() as cur:  # another table: the cached answer still holds
            cur.execute("INSERT INTO claim_turns VALUES ('u', 1)")
        with db.write() as cur:  # a SELECT of the table inside a write changes nothing
            cur.execute("SELECT count(*) FROM budgets").fetchone()
        assert db.cached("n", count, ("budgets",)) == 0 and len(loads) == 1
        with pytest.raises(RuntimeError), db.write() as cur:  # rolled back: still valid
            cur.execute("INSERT INTO budgets VALUES ('team', 'team', 10, 0.8, 'x', now())")
            raise RuntimeError("boom")
        assert db.cached("n", count, ("budgets",)) == 0 and len(loads) == 1
        with db.write() as cur:
            cur.execute("INSERT INTO budgets VALUES ('team', 'team', 10, 0.8, 'x', now())")
        assert db.cached("n", count, ("budgets",)) == 1 and len(loads) == 2
        with db.write() as cur:  # DDL may change anything
            cur.execute("CREATE TABLE scratch (x INTEGER)")
        assert db.cached("n", count, ("budgets",)) == 1 and len(loads) == 3
    finally:
        db.close()


def test_a_tables_version_moves_only_with_writes_that_name_its_tables() -> None:
    db = Database(config.load().database)
    try:
        before = db.tables_version("favourites")
        with db.write() as cur:
            cur.execute("INSERT INTO claim_turns VALUES ('u', 1)")
        assert db.tables_version("favourites") == before
        with db.write() as cur:
            cur.execute("INSERT INTO favourites VALUES ('img', 'u', now())")
        assert db.tables_version("favourites") != before
    finally:
        db.close()


def test_migration_008_counts_each_jobs_existing_images() -> None:
    """A database from before jobs.images gets every job's count from its image rows."""
    db = Database(config.load().database, migrate=False)
    try:
        with db.write() as cur:
            cur.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, "
                        "applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)")
            for name, fn in MIGRATIONS[:7]:
                fn(cur)
                cur.execute("INSERT INTO schema_migrations (name) VALUES (?)", [name])
            for job, n in (("two", 2), ("none", 0)):
                cur.execute("INSERT INTO jobs (id, user_id, provider, model, prompt, n, status, "
                            "next_run_at, created_at, updated_at) VALUES "
                            "(?, 'ann', 'sandbox', 'm', 'p', ?, 'succeeded', now(), now(), "
                            "now())", [job, max(n, 1)])
                for idx in range(n):
                    cur.execute("INSERT INTO images (id, job_id, idx, user_id, provider, model, "
                                "prompt, width, height, original_key, thumb_key, bytes, "
                                "created_at) VALUES (?, ?, ?, 'ann', 'sandbox', 'm', 'p', 8, 8, "
                                "'o', 't', 1, now())",
                                [f"{job}-{idx}", job, idx])
        assert db.migrate() == [name for name, _ in MIGRATIONS[7:]]  # 008 and those after
        assert db.fetchall("SELECT id, images FROM jobs ORDER BY id") == [("none", 0),
                                                                           ("two", 2)]
        # 009: jobs made before it have no deleted images, and no deleted cost
        assert db.fetchall("SELECT DISTINCT images_deleted, deleted_cost_usd FROM jobs") == [
            (0, None)]
    finally:
        db.close()
