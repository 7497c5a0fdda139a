"""Worker leases (lib/jobs/leases.py), on both backends: a claim leases the job, a heartbeat
renews it, a job whose lease ran out is taken back with its attempt counted, and the worker
that lost it can no longer move it (the attempt is the fencing token)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from lib import jobs
from lib.core import config
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.jobs import cleanup, leases, store
from lib.jobs.claim import claim
from lib.jobs.context import DbJobContext
from lib.jobs.pipeline import Generated, call_provider, process, store_images
from tests.helpers import run_next


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(clock: FakeClock) -> Iterator[Engine]:
    eng = Engine(config.load(), clock=clock)
    yield eng
    eng.close()


def _lease(engine: Engine, job_id: str) -> object:
    return engine.db.scalar("SELECT lease_until FROM jobs WHERE id = ?", [job_id])


def _images(engine: Engine, job_id: str) -> int:
    return int(engine.db.scalar("SELECT images FROM jobs WHERE id = ?", [job_id]))


def _queued(engine: Engine, prompt: str = "a lighthouse") -> str:
    return jobs.submit(engine, "ann", jobs.JobSpec(prompt=prompt, width=64, height=64))


def test_a_claim_leases_the_job_and_a_heartbeat_renews_it(
    engine: Engine, clock: FakeClock
) -> None:
    job_id = _queued(engine)
    assert claim(engine, "w1-0") is not None
    lease = timedelta(seconds=engine.settings.lease_s)
    assert _lease(engine, job_id) == clock.now() + lease
    clock.advance(engine.settings.lease_s * 0.6)
    assert leases.beat(engine, "w1", threads=2) == 1  # its one running job
    assert _lease(engine, job_id) == clock.now() + lease
    clock.advance(engine.settings.lease_s * 0.6)  # past the first lease, within the renewed one
    assert leases.reap(engine) == 0
    assert jobs.get(engine, job_id).status == jobs.RUNNING  # type: ignore[union-attr]
    assert leases.beat(engine, "w2", threads=1) == 0  # another process's beat holds nothing


def test_a_job_whose_lease_ran_out_is_taken_back_with_its_attempt_counted(
    engine: Engine, clock: FakeClock
) -> None:
    job_id = _queued(engine)
    assert claim(engine, "w1-0") is not None
    engine.storage.put(f"img/{job_id}/half.png", b"half-stored", "image/png")
    clock.advance(engine.settings.lease_s + 1)  # w1 was killed: no beat renewed it
    assert leases.reap(engine) == 1
    job = jobs.get(engine, job_id)
    assert job is not None and job.status == jobs.QUEUED and job.attempts == 1
    assert job.worker_id is None and _lease(engine, job_id) is None
    assert jobs.events(engine, job_id)[-1][3] == "requeued after its worker stopped answering"
    assert cleanup.owed(engine) == [f"img/{job_id}/"]  # the rerun deletes it first
    cleanup.settle(engine)
    assert cleanup.owed(engine) == [f"img/{job_id}/"]  # not while the job may run again
    assert run_next(engine) == jobs.SUCCEEDED
    job = jobs.get(engine, job_id)
    assert job is not None and job.attempts == 2 and _images(engine, job_id) == 1
    assert not any(k.endswith("half.png") for k in engine.storage.list_keys(f"img/{job_id}/"))
    assert cleanup.owed(engine) == [] and _lease(engine, job_id) is None


def test_out_of_tries_the_job_fails_and_what_it_stored_is_deleted_at_once(
    engine: Engine, clock: FakeClock
) -> None:
    job_id = _queued(engine)
    with engine.db.write() as cur:  # its last try
        cur.execute("UPDATE jobs SET max_attempts = 1 WHERE id = ?", [job_id])
    assert claim(engine, "w1-0") is not None
    engine.storage.put(f"img/{job_id}/half.png", b"half-stored", "image/png")
    clock.advance(engine.settings.lease_s + 1)
    assert leases.reap(engine) == 1
    job = jobs.get(engine, job_id)
    assert job is not None and job.status == jobs.FAILED and job.error_type == "interrupted"
    assert "Its worker stopped while this job ran, 1 times" in (job.error_message or "")
    assert engine.storage.list_keys(f"img/{job_id}/") == [] and cleanup.owed(engine) == []


def test_the_worker_that_lost_its_job_cannot_finish_it_or_leave_anything(
    engine: Engine, clock: FakeClock
) -> None:
    """A worker froze (SIGSTOP) past its lease; another took the job and runs it. When the
    first wakes up and finishes its provider call, its writes are refused and what it stored
    is deleted; the job ends once, by the second attempt."""
    job_id = _queued(engine)
    stale = claim(engine, "w1-0")
    assert stale is not None
    answered = call_provider(engine, stale)  # the provider answered, then w1 froze
    assert isinstance(answered, Generated)
    clock.advance(engine.settings.lease_s + 1)
    assert leases.reap(engine) == 1
    current = claim(engine, "w2-0")
    assert current is not None and current.attempts == 2

    DbJobContext(engine, stale).report_progress(0.9, "stale")  # ignored: not its attempt
    with pytest.raises(jobs.IllegalTransition, match="another attempt than 1"):
        store_images(engine, answered)
    assert engine.storage.list_keys(f"img/{job_id}/") == []  # the stale images were deleted
    job = jobs.get(engine, job_id)
    assert job is not None and job.status == jobs.RUNNING and job.progress_note != "stale"

    assert process(engine, current) == jobs.SUCCEEDED
    job = jobs.get(engine, job_id)
    assert job is not None and _images(engine, job_id) == 1 and job.attempts == 2
    assert len(engine.storage.list_keys(f"img/{job_id}/")) == 2  # original and thumbnail
    ends = [e for e in jobs.events(engine, job_id) if e[2] in jobs.TERMINAL]
    assert len(ends) == 1


def test_a_stopping_worker_lets_its_leases_go_and_leaves_the_workers_list(
    engine: Engine, clock: FakeClock
) -> None:
    job_id = _queued(engine)
    assert claim(engine, "w1-0") is not None
    leases.beat(engine, "w1", threads=3)
    assert [w[0] for w in leases.workers(engine)] == ["w1"]
    assert leases.workers(engine)[0][3] == 3
    leases.release(engine, "w1")
    assert leases.workers(engine) == []
    assert leases.reap(engine) == 1  # no need to wait a whole lease
    assert jobs.get(engine, job_id).status == jobs.QUEUED  # type: ignore[union-attr]


def test_a_worker_not_seen_for_ten_leases_is_forgotten(engine: Engine, clock: FakeClock) -> None:
    leases.beat(engine, "gone", threads=1)
    clock.advance(engine.settings.lease_s * leases.FORGET_AFTER + 1)
    leases.beat(engine, "alive", threads=1)
    assert [w[0] for w in leases.workers(engine)] == ["alive"]


def test_a_lease_renewed_after_it_was_read_as_expired_is_not_taken(
    engine: Engine, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reaper reads expired leases, then re-checks each under the write lock: a worker
    that renewed in between (it was only slow) keeps its job."""
    job_id = _queued(engine)
    assert claim(engine, "w1-0") is not None
    clock.advance(engine.settings.lease_s + 1)
    read = store.expire_leases

    def renewed_meanwhile(cur: object, now: object) -> list[tuple[str, int, int]]:
        found = read(cur, now)  # type: ignore[arg-type]
        monkeypatch.setattr(store, "expire_leases", read)
        leases.beat(engine, "w1", threads=1)  # w1's heartbeat lands between read and re-check
        return found

    monkeypatch.setattr(store, "expire_leases", renewed_meanwhile)
    assert leases.reap(engine) == 0
    assert jobs.get(engine, job_id).status == jobs.RUNNING  # type: ignore[union-attr]


def test_the_pool_registers_renews_and_releases(engine: Engine, clock: FakeClock) -> None:
    pool = engine.start_workers(threads=1)
    assert pool is not None
    assert [w[0] for w in leases.workers(engine)] == [pool.id]
    pool.stop()
    engine.pool = None
    assert leases.workers(engine) == []
