"""Home's figures: per user or team, today and this month, budgets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest

from lib import jobs
from lib.core import config
from lib.core.clock import FakeClock, utcnow
from lib.engine import Engine
from lib.reporting import stats
from tests.helpers import run_next


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 20, 15, 0))


@pytest.fixture
def engine(clock: FakeClock) -> Iterator[Engine]:
    eng = Engine(config.load(), clock=clock)
    yield eng
    eng.close()


def _run(engine: Engine, user: str, prompt: str = "p", n: int = 1) -> str:
    job_id = jobs.submit(engine, user, jobs.JobSpec(prompt=prompt, width=64, height=64, n=n))
    run_next(engine)
    return job_id


def test_figures_for_a_user_and_for_the_team(engine: Engine, clock: FakeClock) -> None:
    _run(engine, "ann", n=2)
    _run(engine, "ann", "[[fail:safety]] x")
    _run(engine, "bob")
    with engine.db.write() as cur:
        cur.execute("UPDATE jobs SET cost_usd = 0.04, duration_ms = 1000 WHERE user_id = 'bob'")
    today, month = stats.today_and_month(engine, "ann")
    assert (today.images, today.jobs, today.finished, today.succeeded) == (2, 2, 2, 1)
    assert today.success_rate == 0.5 and month.images == 2
    team_today, _ = stats.today_and_month(engine, None)
    assert team_today.images == 3 and team_today.spend_usd == Decimal("0.04")


def test_yesterday_counts_for_the_month_not_for_today(engine: Engine, clock: FakeClock) -> None:
    _run(engine, "ann")
    clock.advance(24 * 3600)
    today, month = stats.today_and_month(engine, "ann")
    assert today.images == 0 and today.success_rate is None and month.images == 1


def test_budget_prefers_the_users_own_then_the_teams(engine: Engine) -> None:
    assert stats.budget(engine, "ann") is None
    with engine.db.write() as cur:
        cur.execute("INSERT INTO budgets VALUES ('team', 'team', 100, 0.8, 'root', ?)", [utcnow()])
    _run(engine, "ann")
    with engine.db.write() as cur:
        cur.execute("UPDATE jobs SET cost_usd = 30")
    team = stats.budget(engine, "ann")
    assert team is not None and team.scope == "team" and team.left_usd == Decimal(70)
    with engine.db.write() as cur:
        cur.execute("INSERT INTO budgets VALUES ('user', 'ann', 20, 0.8, 'root', ?)", [utcnow()])
    mine = stats.budget(engine, "ann")
    assert mine is not None and mine.scope == "user" and mine.left_usd == Decimal(0)


def test_cancelled_jobs_are_not_failures(engine: Engine) -> None:
    _run(engine, "ann")
    _run(engine, "ann", "[[fail:safety]] x")
    for i in range(3):  # three cancelled before they ran
        jobs.cancel(engine, jobs.submit(engine, "ann", jobs.JobSpec(
            prompt=f"never {i}", width=64, height=64)), "ann")
    today, _ = stats.today_and_month(engine, "ann")
    assert (today.finished, today.succeeded, today.cancelled) == (2, 1, 3)
    assert today.success_rate == 0.5


def test_every_budget_that_applies_is_listed_the_users_own_first(engine: Engine) -> None:
    assert stats.budget_limits(engine, "ann") == []
    with engine.db.write() as cur:
        cur.execute("INSERT INTO budgets VALUES ('team', 'team', 100, 0.8, 'root', ?)", [utcnow()])
        cur.execute("INSERT INTO budgets VALUES ('user', 'ann', 20, 0.8, 'root', ?)", [utcnow()])
    assert [b.scope for b in stats.budget_limits(engine, "ann")] == ["user", "team"]
    assert [b.scope for b in stats.budget_limits(engine, None)] == ["team"]
