"""Budgets hold: checked before queueing, reserved while running, never bypassed at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest

from lib import jobs
from lib.auth import accounts as auth
from lib.core import config
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.money import budgets
from tests.helpers import TEST_PASSWORD, run_next


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(clock: FakeClock) -> Iterator[Engine]:
    eng = Engine(config.load(), clock=clock)
    with eng.db.write() as cur:  # sandbox images at 3 cents from now on, for these tests
        cur.execute(
            "INSERT INTO prices (provider, model, variant, unit, usd_per_unit, effective_from, "
            "source, created_by, created_at) VALUES ('sandbox', '*', '*', 'images', 0.03, "
            "'2026-01-02', 'test', 'test', now())")
    for name, role in (("root", "admin"), ("ann", "member"), ("bob", "member")):
        auth.create_user(eng.db, name, name.title(), None, role, TEST_PASSWORD, now=clock.now())
    yield eng
    eng.close()


def submit(engine: Engine, user: str, prompt: str = "p", **kw: object) -> str:
    return jobs.submit(engine, user, jobs.JobSpec(prompt=prompt, width=64, height=64, **kw))


def test_no_budget_means_no_limit(engine: Engine) -> None:
    for i in range(5):
        submit(engine, "ann", f"p{i}")
    assert engine.db.scalar("SELECT count(*) FROM jobs") == 5


def test_a_user_budget_refuses_the_request_that_would_go_over(
    engine: Engine, clock: FakeClock
) -> None:
    budgets.set_budget(engine.db, "user", "ann", Decimal("0.10"), "root", clock.now())
    for i in range(3):
        submit(engine, "ann", f"p{i}")  # 3 x $0.03 reserved
    with pytest.raises(jobs.OverBudget) as err:
        submit(engine, "ann", "one too many")
    message = str(err.value)
    assert "$0.09 of $0.10 is used" in message and "$0.01 is left" in message
    assert "Ask an admin (root)" in message
    submit(engine, "bob", "bob has no budget")  # other people are not affected


def test_a_team_budget_counts_everyone(engine: Engine, clock: FakeClock) -> None:
    budgets.set_budget(engine.db, "team", "team", Decimal("0.06"), "root", clock.now())
    submit(engine, "ann")
    submit(engine, "bob")
    with pytest.raises(jobs.OverBudget, match="the team's monthly budget"):
        submit(engine, "ann", "third")


def test_finished_jobs_count_what_they_cost_and_failures_free_their_reservation(
    engine: Engine, clock: FakeClock
) -> None:
    budgets.set_budget(engine.db, "user", "ann", Decimal("0.06"), "root", clock.now())
    submit(engine, "ann", "[[fail:safety]] refused, never charged")
    submit(engine, "ann", "fine")
    with pytest.raises(jobs.OverBudget):
        submit(engine, "ann", "both slots reserved")
    while run_next(engine) is not None:
        pass
    submit(engine, "ann", "the refused job cost nothing, so this fits")


def test_a_job_of_unknown_price_counts_what_the_provider_reported(
    engine: Engine, clock: FakeClock
) -> None:
    budgets.set_budget(engine.db, "user", "ann", Decimal("0.06"), "root", clock.now())
    job_id = submit(engine, "ann", "fine")
    assert run_next(engine) == jobs.SUCCEEDED
    with engine.db.write() as cur:  # an unpriced model, a gateway's own figure (cost header)
        cur.execute("UPDATE jobs SET cost_usd = NULL, estimated_cost_usd = NULL, "
                    "provider_cost_usd = 0.05 WHERE id = ?", [job_id])
    with pytest.raises(jobs.OverBudget):
        submit(engine, "ann", "0.05 + 0.03 is over 0.06")


def test_many_submits_at_once_cannot_bypass_the_budget(engine: Engine, clock: FakeClock) -> None:
    budgets.set_budget(engine.db, "user", "ann", Decimal("0.10"), "root", clock.now())
    accepted: list[str] = []
    refused: list[str] = []
    start = threading.Barrier(20)

    def go(i: int) -> None:
        start.wait()
        try:
            accepted.append(submit(engine, "ann", f"race {i}"))
        except jobs.OverBudget as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=go, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(accepted) == 3 and len(refused) == 17
    assert engine.db.scalar("SELECT count(*) FROM jobs") == 3


def test_only_an_admin_may_override_and_it_is_recorded(engine: Engine, clock: FakeClock) -> None:
    budgets.set_budget(engine.db, "team", "team", Decimal("0"), "root", clock.now())
    with pytest.raises(jobs.OverBudget):
        submit(engine, "ann", override_budget=True)  # a member cannot override
    job_id = submit(engine, "root", override_budget=True)
    assert "overridden by admin root" in jobs.events(engine, job_id)[0][3]
    assert "overridden by admin root" in engine.db.scalar(  # a stored row, not synthesised
        "SELECT detail FROM job_events WHERE job_id = ? AND from_status IS NULL", [job_id])


def test_warnings_before_submitting(engine: Engine, clock: FakeClock) -> None:
    budgets.set_budget(engine.db, "user", "ann", Decimal("0.10"), "root", clock.now())
    assert budgets.status(engine.db, "ann", Decimal("0.03"), clock.now()) == []
    submit(engine, "ann")
    submit(engine, "ann")
    (warn,) = budgets.status(engine.db, "ann", Decimal("0.03"), clock.now())
    assert warn.startswith("90% of your monthly budget")
    (over,) = budgets.status(engine.db, "ann", Decimal("0.06"), clock.now())
    assert "will be refused" in over


def test_a_new_month_starts_from_zero(engine: Engine, clock: FakeClock) -> None:
    budgets.set_budget(engine.db, "user", "ann", Decimal("0.03"), "root", clock.now())
    submit(engine, "ann")
    with pytest.raises(jobs.OverBudget):
        submit(engine, "ann", "again")
    clock.advance(31 * 86400)
    submit(engine, "ann", "next month")


def test_a_member_sees_the_teams_budget_only_as_a_band(engine: Engine, clock: FakeClock) -> None:
    budgets.set_budget(engine.db, "team", "team", Decimal("0.10"), "root", clock.now())
    submit(engine, "bob")
    submit(engine, "bob")  # $0.06 of $0.10: 60%
    with engine.db.cursor() as cur:
        (lim,) = budgets.limits(cur, "ann", clock.now())
    assert budgets.summary(lim, sees_team=False) == "The team's monthly budget is 60-70% used."
    assert budgets.summary(lim, sees_team=True) == "$0.04 of $0.10 left (60% used)"
    (warn,) = budgets.notes(engine.db, "ann", Decimal("0.03"), clock.now(), sees_team=False)
    assert warn.text == "The team's monthly budget will be 90-100% used after this request."
    (over,) = budgets.notes(engine.db, "ann", Decimal("0.06"), clock.now(), count=2,
                            sees_team=False)
    assert over.over and "$0.04" not in over.text and "$0.10" not in over.text
    submit(engine, "bob")
    with pytest.raises(jobs.OverBudget) as err:  # the refusal keeps the team's dollars too
        submit(engine, "ann", "one too many")
    assert "90-100% used" in str(err.value) and "$0.09" not in str(err.value)


@pytest.mark.parametrize(("fraction", "shown"), [
    (0.0, "under half used"), (0.49, "under half used"), (0.5, "50-60% used"),
    (0.85, "80-90% used"), (0.9, "90-100% used"), (1.0, "90-100% used"),
    (1.01, "over the limit"),
])
def test_budget_bands(fraction: float, shown: str) -> None:
    assert budgets.band(fraction) == shown


def test_a_budget_gone_over_says_by_how_much(engine: Engine, clock: FakeClock) -> None:
    budgets.set_budget(engine.db, "user", "ann", Decimal("0.05"), "root", clock.now())
    submit(engine, "ann")
    budgets.set_budget(engine.db, "user", "ann", Decimal("0.02"), "root", clock.now())
    (lim,) = budgets.all_budgets(engine.db, clock.now())
    assert lim.over_usd == Decimal("0.01") and lim.left_usd == 0
    assert budgets.summary(lim, sees_team=False) == "Over by $0.01: $0.03 of $0.02 used (150%)"


def test_the_note_before_a_batch_prices_the_whole_batch(engine: Engine, clock: FakeClock) -> None:
    budgets.set_budget(engine.db, "user", "ann", Decimal("0.10"), "root", clock.now())
    submit(engine, "ann")  # $0.07 left; 3 more at $0.03 = $0.09
    (note,) = budgets.notes(engine.db, "ann", Decimal("0.09"), clock.now(), count=3)
    assert note.over
    assert note.text == ("This batch of 3 jobs ($0.09) exceeds your remaining $0.07 this "
                         "month, so it will be refused.")


def test_a_member_is_told_plainly_when_the_team_budget_is_already_over(
    engine: Engine, clock: FakeClock,
) -> None:
    budgets.set_budget(engine.db, "team", "team", Decimal("0.06"), "root", clock.now())
    submit(engine, "bob")
    submit(engine, "bob")
    budgets.set_budget(engine.db, "team", "team", Decimal("0.05"), "root", clock.now())
    (note,) = budgets.notes(engine.db, "ann", Decimal("0.03"), clock.now(), sees_team=False)
    assert note.over and note.text == ("The team's monthly budget is already over its limit, "
                                       "so this request ($0.03) will be refused.")
    with pytest.raises(jobs.OverBudget, match="already over its limit"):
        submit(engine, "ann")
