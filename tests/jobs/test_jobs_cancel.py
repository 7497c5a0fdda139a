"""Cancelling many jobs at once: a batch, a list, or everything the canceller may cancel."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lib import jobs
from lib.core import config
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.jobs import batches
from lib.jobs.claim import claim
from tests.helpers import run_next


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine(config.load(), clock=FakeClock())  # no workers: jobs move only when told
    yield eng
    eng.close()


def _job(engine: Engine, user: str, prompt: str = "a kite", **kw: Any) -> str:
    return jobs.submit(engine, user, jobs.JobSpec(prompt=prompt, width=64, height=64, **kw))


def _batch(engine: Engine, user: str, count: int) -> list[str]:
    return batches.submit_batch(engine, user, jobs.JobSpec(prompt="a fox", width=64, height=64),
                                count, batches.RANDOM)


def _statuses(engine: Engine, ids: list[str]) -> list[str]:
    return [j.status for j in jobs.load(engine, ids)]


def test_cancelling_a_batch_cancels_its_queued_jobs_and_no_other(engine: Engine) -> None:
    batch = _batch(engine, "ann", 3)
    other = _job(engine, "ann")
    batch_id = jobs.get(engine, batch[0]).batch_id  # type: ignore[union-attr]
    done = jobs.cancel_many(engine, "ann", batch_id=batch_id)
    assert sorted(done.cancelled) == sorted(batch) and not done.cancelling
    assert _statuses(engine, batch) == [jobs.CANCELLED] * 3
    assert _statuses(engine, [other]) == [jobs.QUEUED]
    # through the one cancel path: each job has its transition event
    events = [e for e in jobs.events(engine, batch[0]) if e[2] == jobs.CANCELLED]
    assert events and events[0][3] == "cancelled by ann"


def test_a_member_cannot_cancel_another_members_jobs_in_any_scope(engine: Engine) -> None:
    theirs = _batch(engine, "bob", 2)
    lone = _job(engine, "bob")
    batch_id = jobs.get(engine, theirs[0]).batch_id  # type: ignore[union-attr]
    mine = _job(engine, "ann")
    assert jobs.cancel_many(engine, "ann", batch_id=batch_id).count == 0
    refused = jobs.cancel_many(engine, "ann", job_ids=[lone, *theirs])
    assert refused.count == 0 and refused.skipped == 3
    everything = jobs.cancel_many(engine, "ann", everything=True)
    assert everything.cancelled == [mine]
    assert _statuses(engine, [*theirs, lone]) == [jobs.QUEUED] * 3


def test_an_admin_cancels_everyones_jobs(engine: Engine) -> None:
    ids = [_job(engine, "ann"), _job(engine, "bob"), *_batch(engine, "cat", 2)]
    done = jobs.cancel_many(engine, "root", admin=True, everything=True)
    assert sorted(done.cancelled) == sorted(ids)
    assert _statuses(engine, ids) == [jobs.CANCELLED] * 4
    assert "cancelled by root" in [e[3] for e in jobs.events(engine, ids[1])]


def test_a_running_job_gets_the_cooperative_cancel_flag_and_keeps_running(
        engine: Engine) -> None:
    ids = _batch(engine, "ann", 2)
    running = claim(engine, "w")  # the fake clock gives both one created_at: either may go first
    assert running is not None and running.id in ids
    first, second = running.id, next(i for i in ids if i != running.id)
    done = jobs.cancel_many(engine, "ann", job_ids=ids)
    assert done.cancelling == [first] and done.cancelled == [second]
    job = jobs.get(engine, first)
    assert job is not None and job.status == jobs.RUNNING and job.cancel_requested


def test_finished_jobs_are_left_untouched(engine: Engine) -> None:
    finished = _job(engine, "ann", "done already")
    assert run_next(engine) == jobs.SUCCEEDED
    before = jobs.get(engine, finished)
    done = jobs.cancel_many(engine, "ann", job_ids=[finished])
    assert done.count == 0 and done.skipped == 1
    assert jobs.get(engine, finished) == before
    assert jobs.cancel_many(engine, "ann", everything=True).count == 0


def test_cancel_many_takes_exactly_one_scope(engine: Engine) -> None:
    with pytest.raises(ValueError):
        jobs.cancel_many(engine, "ann")
    with pytest.raises(ValueError):
        jobs.cancel_many(engine, "ann", job_ids=["x"], everything=True)
