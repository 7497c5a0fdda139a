"""Monthly budgets, per user and for the team, checked before a job is queued.

What counts against a budget this (UTC) month:

- finished jobs: what they actually cost (a failed job that was charged counts;
  a succeeded job whose price is unknown counts at its estimate);
- queued and running jobs: their estimate, reserved until they finish.

The check runs inside the same write transaction that inserts the job, under the
database's one write lock, so many submits at once are checked one after another
and together can never take a budget over its limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from lib.db import Cursor, Database

DEFAULT_WARN = 0.8
MAX_BUDGET_USD = Decimal(1_000_000_000)  # the column is DECIMAL(18,2); no team needs more

_COMMITTED = """
    SELECT coalesce(sum(CASE
        WHEN status IN ('queued', 'running') THEN coalesce(estimated_cost_usd, 0)
        WHEN status = 'succeeded' THEN coalesce(cost_usd, estimated_cost_usd, 0)
        ELSE coalesce(cost_usd, 0) END), 0)
    FROM jobs WHERE created_at >= ? {who}
"""


class BudgetExceeded(ValueError):
    """The request would take a budget over its limit; the message says what to do."""


@dataclass(frozen=True)
class Limit:
    """One budget and how much of it this month has used."""

    scope: str  # "user" or "team"
    subject: str
    limit_usd: Decimal
    used_usd: Decimal
    warn_fraction: float

    @property
    def left_usd(self) -> Decimal:
        """What remains (never below zero)."""
        return max(Decimal(0), self.limit_usd - self.used_usd)

    def after(self, extra: Decimal) -> float:
        """The fraction used once ``extra`` more is spent."""
        return float((self.used_usd + extra) / self.limit_usd) if self.limit_usd else 1.0

    @property
    def label(self) -> str:
        """"your monthly budget" or "the team's monthly budget"."""
        return "the team's monthly budget" if self.scope == "team" else "your monthly budget"


def month_start(now: datetime) -> datetime:
    """The first instant of ``now``'s month."""
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def limits(cur: Cursor, user: str, now: datetime) -> list[Limit]:
    """The budgets that apply to ``user`` (theirs and the team's), with this month's use."""
    out = []
    start = month_start(now)
    found = {r[0]: r[1:] for r in cur.execute(
        "SELECT scope, monthly_usd, warn_fraction FROM budgets "
        "WHERE (scope = 'user' AND subject = ?) OR scope = 'team'", [user]).fetchall()}
    for scope, subject in (("user", user), ("team", "team")):
        row = found.get(scope)
        if row is None:
            continue
        who, params = ("AND user_id = ?", [user]) if scope == "user" else ("", [])
        used = cur.execute(_COMMITTED.format(who=who), [start, *params]).fetchone()[0]
        out.append(Limit(scope, subject, Decimal(row[0]), Decimal(used), float(row[1])))
    return out


def enforce(cur: Cursor, user: str, estimate: Decimal | None, now: datetime,
            admins: list[str]) -> None:
    """Raise BudgetExceeded if this request would take any applying budget over its limit."""
    extra = estimate or Decimal(0)
    for lim in limits(cur, user, now):
        if lim.used_usd + extra > lim.limit_usd:
            who = ", ".join(admins) or "an admin"
            raise BudgetExceeded(
                f"This would take {lim.label} over its limit: ${lim.used_usd:,.2f} of "
                f"${lim.limit_usd:,.2f} is used this month and ${lim.left_usd:,.2f} is left, "
                f"but this request is estimated at ${extra:,.4f}. Ask {who} to raise the "
                "budget, or choose a cheaper model, quality or fewer images."
            )


def status(db: Database, user: str, estimate: Decimal | None, now: datetime) -> list[str]:
    """Warnings to show before submitting: over the warning threshold, or over the limit."""
    with db.cursor() as cur:
        found = limits(cur, user, now)
    notes = []
    for lim in found:
        after = lim.after(estimate or Decimal(0))
        if after > 1:
            notes.append(f"Over {lim.label}: ${lim.left_usd:,.2f} of ${lim.limit_usd:,.2f} "
                         "left this month, so this request will be refused.")
        elif after >= lim.warn_fraction:
            notes.append(f"{after:.0%} of {lim.label} will be used after this request "
                         f"(${lim.left_usd:,.2f} of ${lim.limit_usd:,.2f} left now).")
    return notes


def set_budget(db: Database, scope: str, subject: str, monthly_usd: Decimal,
               by: str, now: datetime, warn_fraction: float = DEFAULT_WARN) -> None:
    """Create or change a monthly budget (admins only: the caller checks the role)."""
    if scope not in ("user", "team"):
        raise ValueError("A budget is for a user or for the team.")
    if not monthly_usd.is_finite() or monthly_usd > MAX_BUDGET_USD:
        raise ValueError(f"A budget is an amount up to ${MAX_BUDGET_USD:,}.")
    if monthly_usd < 0:
        raise ValueError("A budget cannot be negative.")
    if not 0 < warn_fraction <= 1:
        raise ValueError("The warning threshold is a fraction between 0 and 1, e.g. 0.8.")
    with db.write() as cur:
        cur.execute(
            "INSERT OR REPLACE INTO budgets (scope, subject, monthly_usd, warn_fraction, "
            "updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            [scope, subject if scope == "user" else "team", monthly_usd, warn_fraction, by, now])


def remove_budget(db: Database, scope: str, subject: str) -> None:
    """Drop a budget (no limit any more)."""
    with db.write() as cur:
        cur.execute("DELETE FROM budgets WHERE scope = ? AND subject = ?",
                    [scope, subject if scope == "user" else "team"])


def get_budget(db: Database, scope: str, subject: str) -> tuple[Decimal, float] | None:
    """(monthly limit, warning fraction) of one budget, or None when it is not set."""
    row = db.fetchone("SELECT monthly_usd, warn_fraction FROM budgets "
                      "WHERE scope = ? AND subject = ?", [scope, subject])
    return (Decimal(row[0]), float(row[1])) if row else None


def all_budgets(db: Database, now: datetime) -> list[Limit]:
    """Every budget with this month's use, team first."""
    rows = db.fetchall("SELECT scope, subject FROM budgets ORDER BY scope DESC, subject")
    out = []
    with db.cursor() as cur:
        for scope, subject in rows:
            out += [lim for lim in limits(cur, subject if scope == "user" else "\x00", now)
                    if lim.scope == scope and lim.subject == subject]
    return out
