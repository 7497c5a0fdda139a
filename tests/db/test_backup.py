"""Online backups of the embedded database (lib/db/backup.py): made while jobs run and are
submitted, checked, and restoring to an identical database."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lib import jobs
from lib.core import config
from lib.core.clock import utcnow
from lib.db import backup, transfer
from lib.db.database import Database
from lib.engine import Engine
from tests.helpers import wait_until


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("PROMPTBOARD_SANDBOX_LATENCY", "0.05")
    eng = Engine(config.load())
    yield eng
    eng.close()


def _rows(db: Database, table: str) -> list[tuple[object, ...]]:
    return sorted(db.fetchall(f'SELECT * FROM "{table}"'), key=repr)


def test_a_backup_made_while_jobs_run_restores_to_an_identical_database(
    engine: Engine, tmp_path: Path
) -> None:
    engine.start_workers(threads=2)
    stop = threading.Event()

    def keep_submitting() -> None:
        i = 0
        while not stop.is_set():
            jobs.submit(engine, f"user{i % 3}", jobs.JobSpec(prompt=f"b{i}", width=64,
                                                            height=64))
            i += 1

    submitter = threading.Thread(target=keep_submitting)
    submitter.start()
    try:
        wait_until(lambda: engine.db.scalar(
            "SELECT count(*) FROM jobs WHERE status = 'succeeded'") >= 5, what="some images")
        made = backup.backup(engine.db, tmp_path / "bk", engine.clock.now())
    finally:
        stop.set()
        submitter.join()
    assert made.path.name.startswith("promptboard-") and made.path.suffix == ".duckdb"
    assert stat.S_IMODE(made.path.stat().st_mode) == 0o600
    assert made.rows["jobs"] > 0 and made.rows["images"] > 0 and made.bytes > 0
    assert backup.list_backups(tmp_path / "bk") == [(made.path, made.bytes)]
    assert not list((tmp_path / "bk").glob("*.partial"))

    engine.close()  # what a restore needs: the dashboard stopped, the copy put in place
    live = engine.settings.db_path
    os.replace(live, tmp_path / "before-restore.duckdb")
    live.with_name(live.name + ".wal").unlink(missing_ok=True)
    live.write_bytes(made.path.read_bytes())
    restored = Engine(config.load())
    try:
        assert transfer.counts(restored.db) == made.rows  # the moment the backup was taken
        assert transfer.sums(restored.db) == made.sums
        # ids keep counting from where they were: a new event does not collide
        job_id = jobs.submit(restored, "ann", jobs.JobSpec(prompt="after", width=64, height=64))
        assert jobs.get(restored, job_id) is not None
    finally:
        restored.close()


def test_the_backup_equals_the_database_row_for_row(engine: Engine, tmp_path: Path) -> None:
    for i in range(6):
        jobs.submit(engine, "ann", jobs.JobSpec(prompt=f"r{i}", width=64, height=64))
    engine.start_workers(threads=2)
    wait_until(lambda: not engine.db.scalar(
        "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')"), what="the queue")
    engine.close()
    engine.db = Database(engine.settings.db_path)
    made = backup.backup(engine.db, tmp_path, engine.clock.now())
    copy = Database(made.path, migrate=False)
    try:
        names = transfer.tables(engine.db) + ["schema_migrations"]
        assert names == transfer.tables(copy) + ["schema_migrations"]
        for table in names:
            assert _rows(copy, table) == _rows(engine.db, table), table
        seqs = "SELECT sequence_name, last_value FROM duckdb_sequences() ORDER BY 1"
        assert copy.fetchall(seqs) == engine.db.fetchall(seqs)
        idx = "SELECT index_name FROM duckdb_indexes() ORDER BY 1"
        assert copy.fetchall(idx) == engine.db.fetchall(idx)
    finally:
        copy.close()


def test_a_folder_that_cannot_be_written_is_refused_and_nothing_is_left(
    engine: Engine, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(backup.BackupError, match="cannot be used"):
        backup.backup(engine.db, blocker / "bk", engine.clock.now())


def test_postgresql_is_sent_to_pg_dump(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        with pytest.raises(backup.BackupError, match="pg_dump"):
            backup.backup(db, Path("/nonexistent"), utcnow())
    finally:
        db.close()
