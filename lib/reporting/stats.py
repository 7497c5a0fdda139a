"""The figures on Home: images, spend, success rate and durations for a period, and budgets.

Members see their own figures; admins and analysts see the team's. Spend is the
stored cost of jobs (failed jobs that were charged count, as they were billed). As on
Analytics (:mod:`lib.reporting.analytics`), a job's images count on the day the job was created.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from lib.money import budgets

if TYPE_CHECKING:
    from lib.core.context import Services


@dataclass(frozen=True)
class Period:
    """What happened between two times."""

    images: int
    jobs: int
    finished: int
    succeeded: int
    spend_usd: Decimal
    unpriced_jobs: int  # succeeded jobs whose cost is unknown (no price row)
    median_ms: float | None
    cancelled: int = 0  # cancelled by a person: a choice, not a failure

    @property
    def success_rate(self) -> float | None:
        """Succeeded / finished (succeeded or failed; cancelled jobs left out), or None
        with nothing finished."""
        return self.succeeded / self.finished if self.finished else None


def period(engine: Services, user: str | None, start: datetime, end: datetime) -> Period:
    """Figures for one user (or the whole team when ``user`` is None)."""
    who, params = ("AND user_id = ?", [user]) if user else ("", [])
    row = engine.db.fetchone(
        f"""
        SELECT count(*),
               count(*) FILTER (WHERE status IN ('succeeded', 'failed')),
               count(*) FILTER (WHERE status = 'succeeded'),
               coalesce(sum(cost_usd), 0),
               count(*) FILTER (WHERE status = 'succeeded' AND cost_usd IS NULL),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)
                   FILTER (WHERE status = 'succeeded'),
               coalesce(sum(images), 0),
               count(*) FILTER (WHERE status = 'cancelled')
        FROM jobs WHERE created_at >= ? AND created_at < ? {who}
        """,
        [start, end, *params],
    )
    assert row is not None
    return Period(int(row[6]), int(row[0]), int(row[1]), int(row[2]), Decimal(row[3]),
                  int(row[4]), float(row[5]) if row[5] is not None else None, int(row[7]))


def today_and_month(engine: Services, user: str | None) -> tuple[Period, Period]:
    """Today (UTC) and this calendar month so far."""
    now = engine.clock.now()
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    end = now + timedelta(seconds=1)
    return period(engine, user, day, end), period(engine, user, month, end)


def budget(engine: Services, user: str | None) -> budgets.Limit | None:
    """The user's monthly budget if one is set, else the team's; the same numbers as enforcement."""
    with engine.db.cursor() as cur:
        found = budgets.limits(cur, user or budgets.NOBODY, engine.clock.now())
    mine = [b for b in found if b.scope == "user"]
    if mine:
        return mine[0]
    return found[0] if found else None


def budget_limits(engine: Services, user: str | None) -> list[budgets.Limit]:
    """Every budget that applies: the user's own first, then the team's (``None``: the team's
    only). A member is shown the team's as a band (lib/money/budgets.py), but is shown it: a team
    budget gone over stops their next request too."""
    with engine.db.cursor() as cur:
        found = budgets.limits(cur, user or budgets.NOBODY, engine.clock.now())
    return sorted(found, key=lambda lim: lim.scope != "user")
