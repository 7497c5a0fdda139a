"""The jobs' daily rollup on PostgreSQL (``lib/db/rollup.py``): the trigger keeps it equal to a
fresh grouping of ``jobs`` through every write the product makes, ``db copy`` rebuilds it, and
the check that says so fails when the trigger is off."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest

from lib import jobs
from lib.auth.access import Viewer
from lib.core import config
from lib.core.clock import FakeClock
from lib.db import rollup, transfer
from lib.db.database import Database
from lib.engine import Engine
from lib.gallery.queries import delete_images
from lib.jobs import repricing
from lib.reporting import analytics
from tests.builders import NOV, add_history, add_job
from tests.helpers import run_next

NOW = datetime(2026, 11, 20, 12)


@pytest.fixture
def pg_engine(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("PROMPTBOARD_DATABASE_URL", postgres_url)
    eng = Engine(config.load(), clock=FakeClock(NOW))
    yield eng
    eng.close()


def _differences(db: Database) -> list[object]:
    with db.write() as cur:
        return rollup.differences(cur)


def _kept(db: Database) -> tuple[int, Decimal]:
    row = db.fetchone(f"SELECT sum(n_jobs), sum(spend) FROM {rollup.TABLE}")
    assert row is not None
    return int(row[0] or 0), Decimal(row[1] or 0)


def test_the_rollup_follows_every_write_the_product_makes(pg_engine: Engine) -> None:
    db = pg_engine.db
    add_history(db)  # inserted jobs and images, of every status
    assert _differences(db) == [] and _kept(db)[0] == db.scalar("SELECT count(*) FROM jobs")
    ids = [jobs.submit(pg_engine, "alice", jobs.JobSpec(prompt=f"fox {i}", width=64, height=64,
                                                        n=2)) for i in range(3)]
    assert _differences(db) == []  # queued
    assert run_next(pg_engine) == "succeeded"  # queued -> running -> succeeded, priced
    assert _differences(db) == []
    # the three share a timestamp: which ran first is the claim's choice, so ask
    done = db.scalar("SELECT id FROM jobs WHERE status = 'succeeded' AND id IN (?, ?, ?)", ids)
    waiting = sorted(set(ids) - {done})
    jobs.cancel(pg_engine, waiting[0], "alice")
    assert _differences(db) == []
    run_next(pg_engine)
    image = db.scalar("SELECT min(id) FROM images WHERE job_id = ?", [done])
    delete_images(db, pg_engine.storage, Viewer("alice", "member"), [image])
    assert db.scalar("SELECT images_deleted FROM jobs WHERE id = ?", [done]) == 1
    assert _differences(db) == []
    with db.write() as cur:  # a price change, then a recompute of the month's costs
        cur.execute("UPDATE prices SET usd_per_unit = usd_per_unit * 2 + 0.01")
    assert repricing.recompute(db, "admin", NOV.start, NOV.end, NOW).changed > 0
    assert _differences(db) == []
    with db.write() as cur:  # a job moved to another user, and one deleted outright
        cur.execute("UPDATE jobs SET user_id = 'bob' WHERE id = ?", [waiting[1]])
        cur.execute("DELETE FROM jobs WHERE id = ?", [waiting[0]])
    assert _differences(db) == []
    count, spend = _kept(db)
    assert count == db.scalar("SELECT count(*) FROM jobs")
    assert spend == db.scalar("SELECT sum(cost_usd) FROM jobs")


def test_updates_the_rollup_does_not_read_leave_it_alone(pg_engine: Engine) -> None:
    add_job(pg_engine.db, "j1", "alice")
    before = pg_engine.db.fetchall(f"SELECT * FROM {rollup.TABLE}")
    with pg_engine.db.write() as cur:  # progress, leases, notes: no trigger call at all
        cur.execute("UPDATE jobs SET progress = 0.5, progress_note = 'x', "
                    "lease_until = now() WHERE id = 'j1'")
    assert pg_engine.db.fetchall(f"SELECT * FROM {rollup.TABLE}") == before


def test_the_check_fails_when_the_trigger_is_off(pg_engine: Engine) -> None:
    db = pg_engine.db
    add_job(db, "j1", "alice", status="failed", cost=None, error_type="Timeout")
    with db.write() as cur:
        rollup.pause(cur, True)
        cur.execute("UPDATE jobs SET status = 'succeeded', cost_usd = 1 WHERE id = 'j1'")
        rollup.pause(cur, False)
    assert len(_differences(db)) == 2  # the failed row kept, the succeeded one missing
    with db.write() as cur:
        rollup.rebuild(cur)
    assert _differences(db) == []


def test_db_copy_rebuilds_the_rollup_and_leaves_the_trigger_on(postgres_url: str) -> None:
    source = Engine(config.load(), clock=FakeClock(NOW))
    add_history(source.db)
    target = Database(postgres_url)
    try:
        transfer.copy(source.db, target)
        assert _differences(target) == [] and _kept(target)[0] > 0
        viewer = Viewer("admin", "admin")
        ours, theirs = (analytics.summary(d, viewer, NOV) for d in (source.db, target))
        assert ours == theirs
        add_job(target, "after-copy", "alice")  # the trigger is on again
        assert _differences(target) == []
        assert _kept(target)[0] == target.scalar("SELECT count(*) FROM jobs")
    finally:
        source.close()
        target.close()
