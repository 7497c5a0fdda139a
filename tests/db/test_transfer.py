"""``db copy``: a whole database from DuckDB to PostgreSQL and back, checked, for real."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lib import jobs
from lib.core import config
from lib.core.clock import FakeClock
from lib.db import transfer
from lib.db.database import Database
from lib.engine import Engine
from tests.builders import add_history
from tests.helpers import ROOT


def _filled(path: Path) -> None:
    """A DuckDB file with users, prices, styles, jobs with events, images and a price audit."""
    eng = Engine(config.load(), clock=FakeClock(datetime(2026, 11, 20, 12)))
    try:
        add_history(eng.db)
        ids = [jobs.submit(eng, "alice", jobs.JobSpec(prompt=f"fox {i}", width=64, height=64))
               for i in range(3)]
        jobs.cancel(eng, ids[0], "alice")  # a job event (the sequence's ids)
        with eng.db.write() as cur:
            cur.execute("INSERT INTO budgets VALUES ('team', 'team', 10, 0.8, 'x', ?)",
                        [datetime(2026, 11, 1)])
    finally:
        eng.close()
    assert config.load().db_path == path


def _everything(db: Database) -> dict[str, list[Any]]:
    return {t: sorted(db.fetchall(f'SELECT * FROM "{t}"'), key=repr)
            for t in transfer.tables(db)}


def test_duckdb_to_postgresql_and_back_gives_the_same_rows(postgres_url: str,
                                                           tmp_path: Path) -> None:
    source_path = config.load().db_path
    _filled(source_path)
    source = Database(source_path)
    target = Database(postgres_url)
    back = Database(tmp_path / "back.duckdb")
    try:
        report = transfer.copy(source, target)
        assert report.rows["jobs"] >= 9 and report.rows["job_events"] > 0
        assert report.sums["jobs.cost_usd"] > 0
        transfer.copy(target, back)
        original = _everything(source)
        assert _everything(target) == original
        assert _everything(back) == original
        # The sequences were set past the copied ids: the next rows get new ones.
        for db in (target, back):
            top = db.scalar("SELECT max(id) FROM job_events")
            with db.write() as cur:
                cur.execute("INSERT INTO job_events (job_id, \"at\", from_status, to_status) "
                            "VALUES ('j1', now(), NULL, 'queued')")
            assert db.scalar("SELECT max(id) FROM job_events") > top
    finally:
        for db in (source, target, back):
            db.close()


def test_a_target_with_rows_is_refused_unless_forced(postgres_url: str) -> None:
    _filled(config.load().db_path)
    source, target = Database(config.load().db_path), Database(postgres_url)
    try:
        with target.write() as cur:
            cur.execute("INSERT INTO claim_turns VALUES ('someone', 1)")
        with pytest.raises(transfer.CopyError, match="already holds rows.*--force"):
            transfer.copy(source, target)
        assert target.scalar("SELECT count(*) FROM jobs") == 0  # nothing half-copied
        transfer.copy(source, target, force=True)
        assert target.scalar("SELECT count(*) FROM claim_turns WHERE user_id = 'someone'") == 0
        assert transfer.counts(target) == transfer.counts(source)
    finally:
        source.close()
        target.close()


def test_the_cli_copies_and_says_what_it_copied(postgres_url: str) -> None:
    _filled(config.load().db_path)
    done = subprocess.run([sys.executable, "-m", "lib.cli", "db", "copy", "--from",
                           str(config.load().db_path), "--to", postgres_url],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["tables"]["jobs"] >= 9 and summary["copied_rows"] > 0
    assert "copied jobs:" in done.stderr
    again = subprocess.run([sys.executable, "-m", "lib.cli", "db", "copy", "--from",
                            str(config.load().db_path), "--to", postgres_url],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "--force" in again.stdout + again.stderr


def test_a_copy_that_does_not_match_says_which_table(postgres_url: str) -> None:
    _filled(config.load().db_path)
    source, target = Database(config.load().db_path), Database(postgres_url)
    try:
        transfer.copy(source, target)
        with target.write() as cur:
            cur.execute("DELETE FROM budgets")
            cur.execute("UPDATE images SET cost_usd = cost_usd + 1 WHERE id = "
                        "(SELECT min(id) FROM images)")
        with pytest.raises(transfer.CopyError, match=r"budgets \(1 → 0\).*images.cost_usd"):
            transfer.verify(source, target)
    finally:
        source.close()
        target.close()
