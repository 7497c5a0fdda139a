"""History, the queue in run order with estimated starts, progress estimates, resubmit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest

from lib import jobs
from lib.core import config
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.jobs import activity
from lib.jobs import repricing as pricing
from tests.helpers import run_next


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("PROMPTBOARD_WORKERS", "1")
    eng = Engine(config.load(), clock=clock)
    yield eng
    eng.close()


def submit(engine: Engine, user: str, prompt: str = "p", **kw: object) -> str:
    return jobs.submit(engine, user, jobs.JobSpec(prompt=prompt, width=64, height=64, **kw))


def test_queue_lists_jobs_in_the_order_the_workers_will_take_them(
    engine: Engine, clock: FakeClock
) -> None:
    ids = {}
    for user, n in (("ann", 3), ("bob", 1), ("cy", 1)):
        for i in range(n):
            ids[(user, i)] = submit(engine, user, f"{user}{i}")
            clock.advance(1)
    rows = activity.queue(engine)
    assert [r.job.user_id for r in rows] == ["ann", "bob", "cy", "ann", "ann"]
    assert [r.position for r in rows] == [1, 2, 3, 4, 5]
    # one worker, no history: each job is expected to take the default duration
    starts = [(r.estimated_start - clock.now()).total_seconds() for r in rows]  # type: ignore[operator]
    assert starts == [0, 20, 40, 60, 80]
    # and the workers really do take them in that order
    while (state := run_next(engine)) is not None:
        assert state == jobs.SUCCEEDED
    claimed = engine.db.fetchall(
        "SELECT e.job_id FROM job_events e WHERE e.to_status = 'running' ORDER BY e.id")
    assert [c[0] for c in claimed] == [r.job.id for r in rows]


def test_typical_duration_comes_from_history(engine: Engine, clock: FakeClock) -> None:
    for _ in range(3):
        submit(engine, "ann")
        assert run_next(engine) == jobs.SUCCEEDED
    with engine.db.write() as cur:
        cur.execute("UPDATE jobs SET duration_ms = 4000")
    typical = activity.typical_seconds(engine)
    assert typical[("sandbox", "sandbox-v1")] == pytest.approx(4.0)


def test_progress_is_real_when_reported_and_labelled_estimate_otherwise(
    engine: Engine, clock: FakeClock
) -> None:
    job_id = submit(engine, "ann")
    from lib.jobs.claim import claim

    job = claim(engine, "w")
    assert job is not None
    clock.advance(10)
    est = activity.progress_of(job, {("sandbox", "sandbox-v1"): 20.0}, clock.now())
    assert est.estimated and est.fraction == pytest.approx(0.5) and "estimate" in est.label
    clock.advance(100)
    capped = activity.progress_of(job, {("sandbox", "sandbox-v1"): 20.0}, clock.now())
    assert capped.fraction == 0.95  # never claims to be done before it is
    with engine.db.write() as cur:
        cur.execute("UPDATE jobs SET progress = 0.4, progress_note = 'step 8/20' WHERE id = ?",
                    [job_id])
    real = activity.progress_of(jobs.get(engine, job_id), {}, clock.now())  # type: ignore[arg-type]
    assert not real.estimated and real.fraction == 0.4 and real.label == "step 8/20"


def test_history_is_per_user_newest_first_filtered_and_paged(
    engine: Engine, clock: FakeClock
) -> None:
    for i in range(7):
        submit(engine, "ann", f"cat {i}" if i % 2 else f"dog {i}")
        clock.advance(1)
    submit(engine, "bob", "cat of bob")
    failed = submit(engine, "ann", "[[fail:safety]] cat")
    while run_next(engine) is not None:
        pass
    page, total = activity.history(engine, "ann", activity.HistoryFilter(per_page=3))
    assert total == 8 and len(page) == 3 and page[0].id == failed
    cats, n = activity.history(engine, "ann", activity.HistoryFilter(text="cat"))
    assert n == 4 and all("cat" in j.prompt for j in cats)
    bad, n = activity.history(engine, "ann", activity.HistoryFilter(statuses=("failed",)))
    assert n == 1 and bad[0].error_type == "safety"
    none, n = activity.history(engine, "ann", activity.HistoryFilter(text="100%_"))
    assert n == 0 and none == []


def test_resubmit_copies_the_settings_into_a_new_job(engine: Engine) -> None:
    old = submit(engine, "ann", "[[fail:unavailable]] boat", seed=5, n=2, style="cartoon")
    new = jobs.resubmit(engine, "ann", old)
    a, b = jobs.get(engine, old), jobs.get(engine, new)
    assert a is not None and b is not None and a.id != b.id
    assert (b.prompt, b.seed, b.n, b.style, b.status) == (a.prompt, 5, 2, "cartoon", "queued")
    with pytest.raises(jobs.SubmitError):
        jobs.resubmit(engine, "bob", old)


def test_a_job_waiting_for_a_retry_starts_no_earlier_than_its_hint(
    engine: Engine, clock: FakeClock
) -> None:
    job_id = submit(engine, "ann", params={"fail": "rate_limited", "retry_after": 30,
                                           "fail_attempts": 1})
    assert run_next(engine) == jobs.QUEUED
    (row,) = activity.queue(engine)
    assert row.job.id == job_id
    assert row.estimated_start is not None
    assert row.estimated_start - clock.now() >= timedelta(seconds=30)


def test_a_failed_job_of_a_provider_priced_at_zero_shows_zero_not_unknown(
        engine: Engine, clock: FakeClock) -> None:
    failed = submit(engine, "ann", "[[fail:safety]] a cat")
    assert run_next(engine) == jobs.FAILED
    job = jobs.get(engine, failed)
    assert job is not None and job.cost_usd is None  # nothing was recorded: no usage
    assert activity.shown_cost(engine, job) == 0  # the sandbox's price is zero


def test_a_failed_job_of_a_priced_provider_stays_unknown_but_never_run_is_zero(
        engine: Engine, clock: FakeClock) -> None:
    pricing.add_price(engine.db, "root", "sandbox", "*", "*", "images", Decimal("0.04"),
                      clock.now().date(), "a test price", clock.now())
    clock.advance(1)
    failed = submit(engine, "ann", "[[fail:safety]] a cat")
    assert run_next(engine) == jobs.FAILED
    never_ran = submit(engine, "ann", "a dog")
    jobs.cancel(engine, never_ran, "ann")
    shown = {j.id: activity.shown_cost(engine, j) for j in jobs.load(engine, [failed, never_ran])}
    assert shown == {failed: None, never_ran: 0}  # it never reached the provider
    said = {j.id: activity.charge(engine, j) for j in jobs.load(engine, [failed, never_ran])}
    assert said == {failed: "cost unknown (no usage reported)",  # never "not charged" unseen
                    never_ran: "$0.00 (not charged)"}


def test_history_pages_by_group_so_a_batch_counts_once_and_is_never_split(
    engine: Engine, clock: FakeClock
) -> None:
    from lib.jobs import batches

    submit(engine, "ann", "oldest lone cat")
    clock.advance(1)
    batch = batches.submit_batch(engine, "ann", jobs.JobSpec(prompt="a batch fox", width=64,
                                                             height=64), 3)
    clock.advance(1)
    newest = submit(engine, "ann", "newest lone dog")
    page, total = activity.history(engine, "ann", activity.HistoryFilter(per_page=2))
    assert total == 3  # two lone jobs and one batch, not five jobs
    assert [j.id for j in page][0] == newest
    assert {j.id for j in page[1:]} == set(batch)  # the whole batch, on one page
    rest, total = activity.history(engine, "ann", activity.HistoryFilter(per_page=2, page=1))
    assert total == 3 and [j.prompt for j in rest] == ["oldest lone cat"]
    foxes, n = activity.history(engine, "ann", activity.HistoryFilter(text="fox"))
    assert n == 1 and len(foxes) == 3
