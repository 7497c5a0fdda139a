"""The retry decision as a value, and the job store's guard on the moves it makes."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from lib import jobs
from lib.core import config
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.jobs import store
from lib.jobs.claim import claim
from lib.jobs.retry import Fail, Retry, RetryPolicy
from lib.providers.base import RateLimited, Rejected

POLICY = RetryPolicy(base_s=2.0, cap_s=120.0, jitter=0.0)


def test_a_retryable_error_is_retried_after_the_backoff() -> None:
    assert POLICY.decide(RateLimited("busy"), 1, 3) == Retry(2.0)
    assert POLICY.decide(RateLimited("busy"), 2, 3) == Retry(4.0)


def test_the_providers_hint_wins_over_the_backoff() -> None:
    assert POLICY.decide(RateLimited("busy", retry_after=30), 1, 3) == Retry(30.0)


def test_a_hint_longer_than_the_limit_fails_and_says_how_long() -> None:
    decision = POLICY.decide(RateLimited("quota", retry_after=3600), 1, 3)
    assert decision == Fail("quota (the provider asked to wait 3600 s; try later)")


def test_the_last_attempt_fails_and_an_unretryable_error_fails_at_once() -> None:
    assert POLICY.decide(RateLimited("busy"), 3, 3) == Fail("busy (gave up after 3 attempts)")
    assert POLICY.decide(Rejected("bad size"), 1, 3) == Fail("bad size")


def test_jitter_stays_within_its_bounds() -> None:
    policy = RetryPolicy(base_s=10.0, jitter=0.1)
    delays = {policy.decide(RateLimited("busy"), 1, 3, random.Random(i)) for i in range(50)}
    assert all(isinstance(d, Retry) and 9.0 <= d.delay_s <= 11.0 for d in delays)


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine(config.load(), clock=FakeClock(), retry_policy=POLICY)
    yield eng
    eng.close()


def test_the_store_applies_a_retry_and_a_cancel_request_leaves_its_event(
    engine: Engine,
) -> None:
    job_id = jobs.submit(engine, "ann", jobs.JobSpec(prompt="a red fox", width=128, height=128))
    job = claim(engine, "w")
    assert job is not None and job.id == job_id and job.attempts == 1
    with engine.db.write() as cur:
        store.request_cancel(cur, job_id, "ann", engine.clock.now())
    again = jobs.get(engine, job_id)
    assert again is not None and again.status == jobs.RUNNING and again.cancel_requested
    state = store.apply_retry(engine.db, job_id, RateLimited("busy"), Retry(5.0),
                              engine.clock.now(), again.attempts)
    assert state == jobs.QUEUED
    assert [e[1:3] for e in jobs.events(engine, job_id)] == [
        (None, jobs.QUEUED), (jobs.QUEUED, jobs.RUNNING), (jobs.RUNNING, jobs.RUNNING),
        (jobs.RUNNING, jobs.QUEUED)]
    with pytest.raises(jobs.IllegalTransition), engine.db.write() as cur:
        store.request_cancel(cur, job_id, "ann", engine.clock.now())  # not running any more
