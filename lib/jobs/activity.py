"""Jobs as people look at them: my history, the team's queue, honest progress estimates.

The queue is shown in the order the workers will run it: the same fairness rule
(``claim.pick_next``: least recently served user first, each user's oldest job
first, per-provider caps) is replayed over the queued jobs. Start times and
progress come from the team's own history: the median duration of finished jobs
of the same provider and model (and size when there are enough of those),
labelled as estimates wherever they are shown.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from lib.core import fmt
from lib.core.context import Services
from lib.jobs.claim import pick_next
from lib.jobs.model import CANCELLED, FAILED, JOB_COLUMNS, RUNNING, STATUSES, Job

RECENT = timedelta(hours=1)  # Generate lists jobs this recent from any tab, finished or not
DEFAULT_DURATION_S = 20.0  # before a provider/model has any history
MIN_SAMPLES = 3


# --------------------------------------------------------------------------- estimates


def typical_seconds(engine: Services) -> dict[tuple[str, str], float]:
    """Median seconds of succeeded jobs per (provider, model), over the last 30 days."""
    since = engine.clock.now() - timedelta(days=30)
    rows = engine.db.fetchall(
        "SELECT provider, model, (percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) "
        "/ 1000.0)::float8, count(*) FROM jobs "
        "WHERE status = 'succeeded' AND duration_ms IS NOT NULL AND finished_at >= ? "
        "GROUP BY provider, model",
        [since],
    )
    return {(p, m): float(s) for p, m, s, n in rows if n >= MIN_SAMPLES}


def expected_seconds(typical: dict[tuple[str, str], float], job: Job) -> float:
    """How long a job like this usually takes."""
    return typical.get((job.provider, job.model), DEFAULT_DURATION_S)


@dataclass(frozen=True)
class Progress:
    """A progress figure and whether it is real (from the provider) or estimated."""

    fraction: float
    estimated: bool
    label: str


def progress_of(job: Job, typical: dict[tuple[str, str], float], now: datetime) -> Progress:
    """Real progress when the provider reports it, else elapsed / typical duration (capped)."""
    note = job.progress_note or ""
    if job.status != RUNNING:
        return Progress(0.0, False, "waiting in the queue")
    if job.progress and job.progress > 0 and note not in ("", "starting"):
        return Progress(min(1.0, job.progress), False, note)
    elapsed = (now - (job.started_at or now)).total_seconds()
    expected = expected_seconds(typical, job)
    fraction = min(0.95, elapsed / expected) if expected > 0 else 0.0
    return Progress(fraction, True, f"about {expected:.0f} s usually (estimate)")


# --------------------------------------------------------------------------- queue


@dataclass(frozen=True)
class QueueRow:
    """One active job in run order, with its estimated start."""

    position: int | None  # 1-based among queued jobs; None while running
    job: Job
    estimated_start: datetime | None  # None for running jobs


def queue(engine: Services) -> list[QueueRow]:
    """Running jobs, then queued ones in the order the workers will take them."""
    now = engine.clock.now()
    rows = [Job(*r) for r in engine.db.fetchall(
        f"SELECT {JOB_COLUMNS} FROM jobs WHERE status IN ('queued', 'running') "
        "ORDER BY created_at, id")]
    running = [j for j in rows if j.status == RUNNING]
    waiting = [j for j in rows if j.status != RUNNING]
    turns = dict(engine.db.fetchall("SELECT user_id, turn FROM claim_turns"))
    typical = typical_seconds(engine)
    cap = engine.settings.provider_concurrency
    slots = max(1, engine.settings.workers)

    # Each worker slot frees up when its running job is expected to end.
    free: list[float] = []
    for j in running:
        elapsed = (now - (j.started_at or now)).total_seconds()
        free.append(max(0.0, expected_seconds(typical, j) - elapsed))
    free += [0.0] * max(0, slots - len(free))
    heapq.heapify(free)

    out = [QueueRow(None, j, None) for j in running]
    order: list[Job] = []
    pending = {j.id: j for j in waiting}
    next_turn = max(turns.values(), default=0) + 1
    while pending:  # replay the claim rule, ignoring caps (they only delay, not reorder much)
        cands = [(j.id, j.user_id, j.provider) for j in pending.values()]
        chosen = pick_next(cands, {}, turns, cap) or cands[0][0]
        job = pending.pop(chosen)
        turns[job.user_id] = next_turn
        next_turn += 1
        order.append(job)
    for pos, job in enumerate(order, start=1):
        start_in = max(heapq.heappop(free), (job.next_run_at - now).total_seconds())
        heapq.heappush(free, start_in + expected_seconds(typical, job))
        out.append(QueueRow(pos, job, now + timedelta(seconds=start_in)))
    return out


# --------------------------------------------------------------------------- history


def recent_for_user(engine: Services, user: str, limit: int = 200) -> list[str]:
    """Ids of the user's active jobs and of those submitted within :data:`RECENT`, newest
    first: what a new tab's Generate page lists (not only the active ones, which vanished
    from it as they finished)."""
    since = engine.clock.now() - RECENT
    rows = engine.db.fetchall(
        "SELECT id FROM jobs WHERE user_id = ? AND (status IN ('queued', 'running') "
        "OR created_at >= ?) ORDER BY created_at DESC, id LIMIT ?", [user, since, limit])
    return [r[0] for r in rows]


@dataclass(frozen=True)
class HistoryFilter:
    """What the History page narrows to."""

    statuses: tuple[str, ...] = ()
    provider: str | None = None
    text: str | None = None
    page: int = 0
    per_page: int = 25


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def history(engine: Services, user: str, f: HistoryFilter) -> tuple[list[Job], int]:
    """A user's matching jobs, paged by group: a batch (its matching jobs) or a lone job.

    Groups come newest first (by their newest job), so a batch is one entry that a page
    never splits; the total counts groups, for the pager. Within a group, newest job first.
    """
    where, params = ["user_id = ?"], [user]
    statuses = [s for s in f.statuses if s in STATUSES]
    if statuses:
        where.append(f"status IN ({','.join('?' * len(statuses))})")
        params += statuses
    if f.provider:
        where.append("provider = ?")
        params.append(f.provider)
    if f.text:
        where.append("prompt ILIKE ? ESCAPE '\\'")
        params.append(_like(f.text))
    clause = " AND ".join(where)
    grp = "coalesce(batch_id, 'job:' || id)"
    total = int(engine.db.scalar(
        f"SELECT count(DISTINCT {grp}) FROM jobs WHERE {clause}", params) or 0)
    per = max(1, min(100, f.per_page))
    columns = ", ".join(f"hit.{c.strip()}" for c in JOB_COLUMNS.split(","))
    rows = engine.db.fetchall(
        f"WITH hit AS (SELECT *, {grp} AS grp FROM jobs WHERE {clause}), "
        "shown AS (SELECT grp, max(created_at) AS latest FROM hit GROUP BY grp "
        "          ORDER BY latest DESC, grp LIMIT ? OFFSET ?) "
        f"SELECT {columns} FROM hit JOIN shown USING (grp) "
        "ORDER BY shown.latest DESC, shown.grp, hit.created_at DESC, hit.id",
        [*params, per, max(0, f.page) * per],
    )
    return [Job(*r) for r in rows], total


def shown_cost(engine: Services, job: Job) -> Decimal | None:
    """A job's cost for a person: its recorded cost, else $0 for a failed or cancelled job
    that reported no usage and cannot have been billed (it never reached the provider, or
    every price of its provider and model was zero then); else None, "cost unknown"."""
    if job.cost_usd is not None or job.status not in (FAILED, CANCELLED) or job.usage:
        return job.cost_usd
    if job.started_at is None:  # cancelled in the queue: never sent
        return Decimal(0)
    return Decimal(0) if _free(engine, job.provider, job.model, job.started_at) else None


def charge(engine: Services, job: Job) -> str:
    """What a job cost, said honestly: "$0.00 (not charged)" for a failed or cancelled job
    that cannot have been billed, "cost unknown (no usage reported)" for one that reached a
    priced provider without reporting usage (it may have been billed), else the money."""
    cost = shown_cost(engine, job)
    if cost is None and job.status in (FAILED, CANCELLED):
        return "cost unknown (no usage reported)"
    return fmt.job_cost(cost, job.status)


def _free(engine: Services, provider: str, model: str, at: datetime) -> bool:
    """True when the provider has prices for this model at ``at`` and all of them are zero."""
    prices = engine.db.fetchall(
        "SELECT DISTINCT ON (model, variant, unit) usd_per_unit FROM prices "
        "WHERE provider = ? AND model IN (?, '*') AND effective_from <= ? "
        "ORDER BY model, variant, unit, effective_from DESC, id DESC", [provider, model, at])
    return bool(prices) and all(p[0] == 0 for p in prices)


@dataclass(frozen=True)
class FirstSteps:
    """What an empty Home suggests: a first image, and (for an admin alone) the team."""

    first_image: bool
    add_team: bool


def first_steps(engine: Services, user: str, may_generate: bool, admin: bool) -> FirstSteps:
    """A first image until the user has submitted a job; the team until an admin has company
    (enabled accounts other than the signed-in one)."""
    first = may_generate and not engine.db.scalar(
        "SELECT 1 FROM jobs WHERE user_id = ? LIMIT 1", [user])
    alone = admin and not engine.db.scalar(
        "SELECT 1 FROM users WHERE username <> ? AND NOT disabled LIMIT 1", [user])
    return FirstSteps(bool(first), bool(alone))

