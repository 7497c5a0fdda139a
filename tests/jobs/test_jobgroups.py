"""Jobs grouped by batch for the job lists: whole-batch counts, a cap that says what it hid."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lib import jobs
from lib.core import config
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.jobs import batches
from lib.jobs import groups as jobgroups
from tests.helpers import run_next


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(clock: FakeClock) -> Iterator[Engine]:
    eng = Engine(config.load(), clock=clock)
    yield eng
    eng.close()


def _spec(prompt: str) -> jobs.JobSpec:
    return jobs.JobSpec(prompt=prompt, width=64, height=64)


def test_a_batch_is_one_group_counting_every_job_of_the_batch(
        engine: Engine, clock: FakeClock) -> None:
    batch = batches.submit_batch(engine, "ann", _spec("a fox"), 4, batches.RANDOM)
    assert run_next(engine) == jobs.SUCCEEDED  # one fox
    clock.advance(1)
    lone = jobs.submit(engine, "bob", _spec("an owl"))
    assert run_next(engine) == jobs.SUCCEEDED  # bob's turn: the owl
    # a page that holds only the still-active foxes (the Queue) still sees the whole batch
    active = [j for j in jobs.load(engine, batch) if j.status == jobs.QUEUED]
    [fox] = jobgroups.group(engine, active)
    assert fox.size == 4 and fox.done == 1 and fox.active
    assert fox.summary() == "1 of 4 done · 3 waiting"
    groups = jobgroups.group(engine, jobs.load(engine, [*batch, lone]))
    assert [len(g.jobs) for g in groups] == [4, 1]
    assert groups[1].status == jobs.SUCCEEDED and groups[1].summary() == "1 of 1 done"


def test_the_cap_reports_how_many_jobs_it_hid(engine: Engine) -> None:
    batch = batches.submit_batch(engine, "ann", _spec("a fox"), 3, batches.RANDOM)
    lone = [jobs.submit(engine, "ann", _spec(f"owl {i}")) for i in range(3)]
    groups = jobgroups.group(engine, jobs.load(engine, [*lone, *batch]))
    shown, hidden, hidden_active = jobgroups.cap(groups, 2)
    assert len(shown) == 2 and hidden == 1 + 3 and hidden_active
    assert jobgroups.cap(groups, 10)[1:] == (0, False)


def test_a_filtered_list_keeps_its_own_jobs_but_counts_the_whole_batch(engine: Engine) -> None:
    batch = batches.submit_batch(engine, "ann", _spec("a fox"), 3, batches.RANDOM)
    jobs.cancel(engine, batch[0], "ann")
    cancelled = jobs.load(engine, batch[:1])
    [only] = jobgroups.group(engine, cancelled, whole_batches=False)
    assert [j.id for j in only.jobs] == batch[:1] and only.size == 3
    [whole] = jobgroups.group(engine, cancelled)
    assert sorted(j.id for j in whole.jobs) == sorted(batch)
