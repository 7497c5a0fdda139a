"""Monthly budgets, per user and for the team, checked before a job is queued.

What counts against a budget this (UTC) month:

- finished jobs: what they actually cost (a failed job that was charged counts;
  a job whose price is unknown counts at what the provider itself reported it cost, a
  gateway's cost header say, else at its estimate);
- queued and running jobs: their estimate, reserved until they finish.

The check runs inside the same write transaction that inserts the job, under the
database's one write lock, so many submits at once are checked one after another
and together can never take a budget over its limit. A batch (Variations, a Compare grid)
is checked as a whole first, under that same lock (``jobs.submit_all``), so a batch that
does not fit is refused before any of its jobs is queued.

Who sees which figures: an admin sees every budget in dollars. Anyone else sees their own
budget in dollars, but the team's only as a band of how much is used (:func:`band`:
"under half", "80-90%", "over the limit"), never its dollars: in a small team the team's
spend would tell each colleague's (SECURITY.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from lib.audit import Action, record
from lib.core.errors import PromptboardError
from lib.core.fmt import money
from lib.db.database import Cursor, Database, one_row

DEFAULT_WARN = 0.8
MAX_BUDGET_USD = Decimal(1_000_000_000)  # the column is DECIMAL(18,2); no team needs more

_COMMITTED = """
    SELECT coalesce(sum(CASE
        WHEN status IN ('queued', 'running') THEN coalesce(estimated_cost_usd, 0)
        WHEN status = 'succeeded' THEN coalesce(cost_usd, provider_cost_usd,
                                                estimated_cost_usd, 0)
        ELSE coalesce(cost_usd, provider_cost_usd, 0) END), 0)
    FROM jobs WHERE created_at >= ? {who}
"""


class BudgetExceeded(PromptboardError, ValueError):
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

    @property
    def over_usd(self) -> Decimal:
        """How far use has gone past the limit (zero when within it)."""
        return max(Decimal(0), self.used_usd - self.limit_usd)

    @property
    def fraction(self) -> float:
        """The share used so far (above 1 when over; a zero limit with any use counts as 1+)."""
        return self.after(Decimal(0))

    def after(self, extra: Decimal) -> float:
        """The fraction used once ``extra`` more is spent."""
        if self.limit_usd:
            return float((self.used_usd + extra) / self.limit_usd)
        return 0.0 if self.used_usd + extra == 0 else float("inf")

    @property
    def label(self) -> str:
        """"your monthly budget" or "the team's monthly budget"."""
        return "the team's monthly budget" if self.scope == "team" else "your monthly budget"


def month_start(now: datetime) -> datetime:
    """The first instant of ``now``'s month."""
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


NOBODY = ""  # a user name no account has (names are 3+ characters): the team's budget alone


def limits(cur: Cursor, user: str, now: datetime) -> list[Limit]:
    """The budgets that apply to ``user`` (theirs and the team's), with this month's use;
    :data:`NOBODY` gets the team's alone."""
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
        used = one_row(cur.execute(_COMMITTED.format(who=who), [start, *params]))[0]
        out.append(Limit(scope, subject, Decimal(row[0]), Decimal(used), float(row[1])))
    return out


def band(fraction: float) -> str:
    """How much of a budget is used, coarsely: what a member may know of the team's."""
    if fraction > 1:
        return "over the limit"
    if fraction >= 0.9:
        return "90-100% used"
    if fraction >= 0.5:
        low = int(fraction * 10) * 10
        return f"{low}-{low + 10}% used"
    return "under half used"


def shows_dollars(lim: Limit, sees_team: bool) -> bool:
    """A user's own budget is shown in dollars; the team's only to those who see the team's."""
    return lim.scope == "user" or sees_team


def summary(lim: Limit, sees_team: bool) -> str:
    """One line on where a budget stands: "$1.20 of $2.00 left (60%)", "over by $0.04 ..."."""
    if not shows_dollars(lim, sees_team):
        return f"The team's monthly budget is {band(lim.fraction)}."
    if lim.used_usd > lim.limit_usd:
        return (f"Over by {money(lim.over_usd)}: {money(lim.used_usd)} of "
                f"{money(lim.limit_usd)} used ({lim.fraction:.0%})")
    return f"{money(lim.left_usd)} of {money(lim.limit_usd)} left ({lim.fraction:.0%} used)"


def _what(extra: Decimal, count: int) -> str:
    return (f"this request ({money(extra)})" if count == 1
            else f"this batch of {count} jobs ({money(extra)})")


def refusal(lim: Limit, extra: Decimal, user: str, admins: list[str], count: int = 1) -> str:
    """Why a request is refused, and what the person can do about it."""
    if shows_dollars(lim, user in admins):
        head = (f"This would take {lim.label} over its limit: {money(lim.used_usd)} of "
                f"{money(lim.limit_usd)} is used this month and {money(lim.left_usd)} is left, "
                f"but {_what(extra, count)} would need more.")
    elif lim.fraction > 1:
        head = (f"The team's monthly budget is already over its limit; {_what(extra, count)} "
                "does not fit.")
    else:
        head = (f"This would take the team's monthly budget over its limit (it is "
                f"{band(lim.fraction)}); {_what(extra, count)} does not fit.")
    if user in admins:
        return (f"{head} Raise the budget in Admin → Budgets, or tick \"Override the budget\" "
                "to run it anyway (the override is recorded).")
    who = f"an admin ({', '.join(admins)})" if admins else "an admin"
    return (f"{head} Ask {who} to raise the budget, or choose a cheaper model, quality or "
            "fewer images.")


def enforce(cur: Cursor, user: str, estimate: Decimal | None, now: datetime,
            admins: list[str], count: int = 1) -> None:
    """Raise BudgetExceeded if this request (or batch of ``count`` jobs costing ``estimate``
    in all) would take any applying budget over its limit."""
    extra = estimate or Decimal(0)
    for lim in limits(cur, user, now):
        if lim.used_usd + extra > lim.limit_usd:
            raise BudgetExceeded(refusal(lim, extra, user, admins, count))


@dataclass(frozen=True)
class Note:
    """A warning shown before submitting; ``over``: the request would be refused."""

    text: str
    over: bool


def notes(db: Database, user: str, estimate: Decimal | None, now: datetime, *,
          count: int = 1, sees_team: bool = True) -> list[Note]:
    """Warnings to show before submitting ``count`` jobs costing ``estimate`` in all: over
    the warning threshold, or over the limit (the request will be refused)."""
    with db.cursor() as cur:
        found = limits(cur, user, now)
    out = []
    extra = estimate or Decimal(0)
    noun = "This request" if count == 1 else f"This batch of {count} jobs"
    for lim in found:
        after = lim.after(extra)
        dollars = shows_dollars(lim, sees_team)
        if after > 1:
            whose = "your remaining" if lim.scope == "user" else "the team's remaining"
            text = (f"{noun} ({money(extra)}) exceeds {whose} {money(lim.left_usd)} this "
                    "month, so it will be refused." if dollars else
                    f"The team's monthly budget is already over its limit, so "
                    f"{noun[0].lower() + noun[1:]} ({money(extra)}) will be refused."
                    if lim.fraction > 1 else
                    f"{noun} ({money(extra)}) would take the team's monthly budget over its "
                    f"limit (it is {band(lim.fraction)}), so it will be refused.")
            out.append(Note(text, True))
        elif after >= lim.warn_fraction:
            text = (f"{after:.0%} of {lim.label} will be used after "
                    f"{noun[0].lower() + noun[1:]} ({money(lim.left_usd)} of "
                    f"{money(lim.limit_usd)} left now)." if dollars else
                    f"The team's monthly budget will be {band(after)} after "
                    f"{noun[0].lower() + noun[1:]}.")
            out.append(Note(text, False))
    return out


def status(db: Database, user: str, estimate: Decimal | None, now: datetime) -> list[str]:
    """The texts of :func:`notes` for one request, with every figure shown."""
    return [n.text for n in notes(db, user, estimate, now)]


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
            "INSERT INTO budgets (scope, subject, monthly_usd, warn_fraction, updated_by, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, subject) DO UPDATE SET "
            "monthly_usd = excluded.monthly_usd, warn_fraction = excluded.warn_fraction, "
            "updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            [scope, subject if scope == "user" else "team", monthly_usd, warn_fraction, by, now])
        record(cur, Action.BUDGET_SET, f"{scope}:{subject if scope == 'user' else 'team'}",
               {"monthly_usd": str(monthly_usd), "warn_fraction": warn_fraction}, at=now,
               actor=by)


def remove_budget(db: Database, scope: str, subject: str) -> None:
    """Drop a budget (no limit any more); the audit log names who (the acting admin)."""
    subject = subject if scope == "user" else "team"
    with db.write() as cur:
        gone = cur.execute("SELECT monthly_usd FROM budgets WHERE scope = ? AND subject = ?",
                           [scope, subject]).fetchone()
        cur.execute("DELETE FROM budgets WHERE scope = ? AND subject = ?", [scope, subject])
        if gone is not None:
            record(cur, Action.BUDGET_REMOVE, f"{scope}:{subject}", {"was_usd": str(gone[0])})


def get_budget(db: Database, scope: str, subject: str) -> tuple[Decimal, float] | None:
    """(monthly limit, warning fraction) of one budget, or None when it is not set."""
    row = db.fetchone("SELECT monthly_usd, warn_fraction FROM budgets "
                      "WHERE scope = ? AND subject = ?", [scope, subject])
    return (Decimal(row[0]), float(row[1])) if row else None


def all_budgets(db: Database, now: datetime) -> list[Limit]:
    """Every budget with this month's use, team first."""
    rows = db.fetchall("SELECT scope, subject FROM budgets ORDER BY scope = 'team' DESC, subject")
    out = []
    with db.cursor() as cur:
        for scope, subject in rows:
            out += [lim for lim in limits(cur, subject if scope == "user" else NOBODY, now)
                    if lim.scope == scope and lim.subject == subject]
    return out
