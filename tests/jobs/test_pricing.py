"""Correcting prices: add a dated row, see what each row priced, recompute only a range."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

import pytest

from lib import jobs
from lib.core import config
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.jobs import repricing as pricing
from lib.providers.errors import Cancelled, ProviderError, SafetyBlocked
from tests.helpers import run_next


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 2, 9, 0))


@pytest.fixture
def engine(clock: FakeClock) -> Iterator[Engine]:
    eng = Engine(config.load(), clock=clock)
    pricing.add_price(eng.db, "root", "sandbox", "*", "*", "images", Decimal("0.05"),
                      date(2026, 11, 1), "first guess", clock.now())
    yield eng
    eng.close()


def run(engine: Engine, user: str = "ann", n: int = 1) -> str:
    job_id = jobs.submit(engine, user, jobs.JobSpec(prompt="p", width=64, height=64, n=n))
    assert run_next(engine) == jobs.SUCCEEDED
    return job_id


def job_cost(engine: Engine, job_id: str) -> Decimal:
    return Decimal(engine.db.scalar("SELECT cost_usd FROM jobs WHERE id = ?", [job_id]))


def test_each_job_records_the_price_rows_that_priced_it(engine: Engine) -> None:
    job_id = run(engine, n=2)
    ids = json.loads(engine.db.scalar("SELECT price_ids FROM jobs WHERE id = ?", [job_id]))
    rows = pricing.list_prices(engine.db)
    used = next(r for r in rows if r.id == ids[0])
    assert used.usd_per_unit == Decimal("0.05") and used.jobs == 1 and used.images == 2
    assert job_cost(engine, job_id) == Decimal("0.10")


def test_a_correction_is_a_new_row_and_history_stays(engine: Engine, clock: FakeClock) -> None:
    pricing.add_price(engine.db, "root", "sandbox", "*", "*", "images", Decimal("0.04"),
                      date(2026, 11, 1), "fixed: the real price", clock.now())
    rows = [r for r in pricing.list_prices(engine.db) if r.provider == "sandbox"]
    assert sorted(r.usd_per_unit for r in rows) == [Decimal("0"), Decimal("0.04"),
                                                     Decimal("0.05")]
    assert pricing.audit(engine.db)[0]["action"] == "add_price"


def test_recompute_changes_only_the_chosen_range_and_is_audited(
    engine: Engine, clock: FakeClock
) -> None:
    early = run(engine, n=3)  # Nov 2
    clock.advance(10 * 86400)
    late = run(engine)  # Nov 12
    pricing.add_price(engine.db, "root", "sandbox", "*", "*", "images", Decimal("0.04"),
                      date(2026, 11, 1), "fixed", clock.now())
    assert job_cost(engine, early) == Decimal("0.15")  # stored costs do not move by themselves
    result = pricing.recompute(engine.db, "root", date(2026, 11, 1), date(2026, 11, 5),
                               clock.now())
    assert (result.jobs, result.changed) == (1, 1)
    assert (result.old_total, result.new_total) == (Decimal("0.15"), Decimal("0.12"))
    assert job_cost(engine, early) == Decimal("0.12")
    parts = [r[0] for r in engine.db.fetchall(
        "SELECT cost_usd FROM images WHERE job_id = ? ORDER BY idx", [early])]
    assert sum(parts) == Decimal("0.12") and len(parts) == 3
    assert job_cost(engine, late) == Decimal("0.05")  # outside the range: untouched
    entry = pricing.audit(engine.db)[0]
    assert entry["action"] == "recompute" and entry["by_user"] == "root"
    assert json.loads(entry["detail"])["new_total"] == "0.12000000"


def test_a_price_needs_a_date_a_source_and_a_sane_amount(engine: Engine, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="negative"):
        pricing.add_price(engine.db, "root", "sandbox", "*", "*", "images", Decimal("-1"),
                          date(2026, 11, 1), "x", clock.now())
    with pytest.raises(ValueError, match="source"):
        pricing.add_price(engine.db, "root", "sandbox", "*", "*", "images", Decimal("1"),
                          date(2026, 11, 1), " ", clock.now())


# --------------------------------------------------------------------------- billed failures


@pytest.mark.parametrize(("error", "status", "cost"), [
    (Cancelled("Cancelled after 2 of 3 images.", usage={"images": 2.0}), jobs.CANCELLED,
     Decimal("0.10")),
    (SafetyBlocked("Filtered after it was made.", usage={"images": 1.0}), jobs.FAILED,
     Decimal("0.05")),
    (SafetyBlocked("Refused before it was made."), jobs.FAILED, None),
    (Cancelled("Cancelled before the first call."), jobs.CANCELLED, None),
])
def test_a_provider_error_after_billed_calls_records_their_cost(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, error: ProviderError, status: str,
    cost: Decimal | None,
) -> None:
    """A provider that charged before its error (a filtered image, the images of a job
    cancelled halfway) says so in the error; the job ends with that usage and its cost."""
    def refuse(*_: object) -> None:
        raise error

    monkeypatch.setattr(type(engine.provider("sandbox")), "generate", refuse)
    job_id = jobs.submit(engine, "ann", jobs.JobSpec(prompt="p", width=64, height=64, n=3))
    assert run_next(engine) == status
    job = jobs.get(engine, job_id)
    assert job is not None and job.cost_usd == cost and job.error_message
    assert json.loads(job.usage or "null") == error.usage
