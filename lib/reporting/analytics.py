"""The queries behind the Analytics page and ``lib.cli report``: spend, images, durations.

Every number is computed by SQL that DuckDB and PostgreSQL run alike. The rules, in one
place so the page, the CLI and the tests agree:

- A job, its spend and its images belong to the UTC day the job was *created* (the time its
  price was taken), so an image finished after midnight still counts on the job's day.
- Spend = sum of ``jobs.cost_usd``: failed or cancelled jobs that were charged count, as
  they were billed; jobs with no charge have NULL or 0. A succeeded job whose cost is NULL
  is *unpriced*: counted in ``unpriced_jobs``, left out of spend and of cost per image
  (never a silent zero).
- Images = ``images`` rows of those jobs. Cost per image = spend / images *made* by priced
  jobs: a deleted image still counts (``jobs.images_deleted``), and its cost stays on a
  "deleted image" line of the ledger instead of moving onto its siblings.
- Success rate = succeeded / (succeeded + failed). Cancelled jobs (a person's choice) are
  left out and counted apart; queued and running jobs are not finished. Durations are
  succeeded jobs' ``duration_ms``; quantiles interpolate linearly (``percentile_cont``).
- The previous period is as long as the chosen one and ends the day before it starts.

Who sees what: admins and analysts see everyone; a member sees only themselves, whatever the
filter says (:func:`scope` is applied by every function here). Errors: ``ValueError`` with a
message for a person.
The ledger (one row per image) is :mod:`lib.reporting.ledger`; its exports :mod:`.report`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from lib.auth.access import Viewer
from lib.core.fmt import rounded
from lib.db import dialect
from lib.db.database import Database
from lib.money import budgets

STATUSES = ("succeeded", "failed", "cancelled", "queued", "running")
GROUPS = {"provider": ("j.provider AS provider",),  # --by: its key columns
          "model": ("j.provider AS provider", "j.model AS model"),
          "user": ('j.user_id AS "user"',), "day": ("CAST(j.created_at AS DATE) AS day",)}
TOP_USERS = 10  # how many the page and top_users() list


def _alias(expr: str) -> str:
    """The output column of a GROUPS key expression (``j.user_id AS "user"`` -> user)."""
    return expr.rsplit(" AS ", 1)[1].strip('"')


_KEY_NAMES = {_alias(k) for keys in GROUPS.values() for k in keys}
_KEY_TYPES = {"provider": "TEXT", "model": "TEXT", "user": "TEXT", "day": "DATE"}  # see breakdowns
_IMAGE_SLACK = timedelta(days=1)  # images are stored after their job is created; see images_where


@dataclass(frozen=True)
class Filters:
    """What the page (or a report) covers: UTC days ``start``..``end`` inclusive, and narrowing
    lists where an empty tuple means "all"."""

    start: date
    end: date
    users: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    include_demo: bool = True

    def __post_init__(self) -> None:
        """Lists become tuples; an end before the start or an unknown status is refused."""
        for name in ("users", "providers", "models", "statuses"):
            object.__setattr__(self, name, tuple(getattr(self, name) or ()))
        if self.end < self.start:
            raise ValueError(f"The end date {self.end} is before the start date {self.start}.")
        if unknown := sorted(set(self.statuses) - set(STATUSES)):
            raise ValueError(f"Unknown status {unknown[0]!r}; expected {', '.join(STATUSES)}.")

    @property
    def days(self) -> int:  # how many days the period covers
        return (self.end - self.start).days + 1

    def previous(self) -> Filters:  # the same filters over as many days just before
        return replace(self, start=self.start - timedelta(days=self.days),
                       end=self.start - timedelta(days=1))


def scope(viewer: Viewer, f: Filters) -> Filters:
    """The filters this viewer may use: a member's are narrowed to themselves."""
    return f if viewer.sees_all else replace(f, users=(viewer.username,))


def _ts(day: date) -> datetime:  # a day's first instant
    return datetime.combine(day, time.min)


def jobs_where(f: Filters, alias: str = "j") -> tuple[str, list[Any]]:
    """WHERE over jobs (or, with ``alias="i"``, images: no status there) for the filters,
    with parameters (user input never enters the SQL text)."""
    a = alias
    parts = [f"{a}.created_at >= ?", f"{a}.created_at < ?"] if a == "j" else []
    params: list[Any] = [_ts(f.start), _ts(f.end + timedelta(days=1))] if a == "j" else []
    for col, values in (("user_id", f.users), ("provider", f.providers), ("model", f.models),
                        ("status", f.statuses if a == "j" else ())):
        if values:
            parts.append(f"{a}.{col} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    if not f.include_demo:
        parts.append(f"NOT {a}.demo")
    return " AND ".join(parts) or "TRUE", params


def images_where(f: Filters) -> tuple[str, list[Any]]:
    """WHERE over images ``i`` keeping every image of the jobs in scope: an image is stored
    after its job is created, so ``created_at >= start - 1 day`` is safe and skips old row
    groups; user, provider and model are copied from the job."""
    where, params = jobs_where(f, "i")
    return f"i.created_at >= ? AND {where}", [_ts(f.start) - _IMAGE_SLACK, *params]


def _base(f: Filters) -> tuple[str, list[Any]]:
    """A CTE ``b``: the jobs in scope; ``images`` is each one's count of ``images`` rows
    (kept on the job as they are stored or deleted: counting them here took most of these
    queries' time at 1M images)."""
    where, params = jobs_where(f)
    return f"WITH b AS (SELECT j.* FROM jobs j WHERE {where})", params


# Every aggregate over ``b``; the page's figures and the report's columns are these. The
# duration quantiles (_TIMES) are the dear part, left out where a chart does not show them.
_METRICS = """
    count(*) AS jobs,
    coalesce(sum(images), 0)::BIGINT AS images,
    count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
    count(*) FILTER (WHERE status = 'failed') AS failed,
    count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
    coalesce(sum(cost_usd), 0)::DECIMAL(18, 8) AS spend_usd,
    count(*) FILTER (WHERE status = 'succeeded' AND cost_usd IS NULL) AS unpriced_jobs,
    CASE WHEN sum(images + coalesce(images_deleted, 0)) FILTER (WHERE cost_usd IS NOT NULL) > 0
         THEN (sum(cost_usd) / sum(images + coalesce(images_deleted, 0))
                   FILTER (WHERE cost_usd IS NOT NULL))::DECIMAL(18, 8)
         END AS cost_per_image_usd,
    (count(*) FILTER (WHERE status = 'succeeded'))::float8
        / nullif(count(*) FILTER (WHERE status IN ('succeeded', 'failed')), 0)
        AS success_rate,
    coalesce(sum(greatest(images, 1)
                 + CASE WHEN images > 0 AND images_deleted > 0 THEN 1 ELSE 0 END), 0)::BIGINT
        AS ledger_rows,
    coalesce(sum(images_deleted), 0)::BIGINT AS images_deleted"""
_TIMES = """
    percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)
        FILTER (WHERE status = 'succeeded') AS median_ms,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)
        FILTER (WHERE status = 'succeeded') AS p95_ms"""  # to 0.1 ms by _rounded(..., 1, *_TIMED)
_TIMED = ("median_ms", "p95_ms")


def _rounded(values: Any, digits: int, *cols: str) -> Any:
    """These columns of a frame or a row rounded in Python: :func:`lib.core.fmt.rounded`."""
    for col in set(cols) & set(values.keys()):
        values[col] = (values[col].map(lambda v: rounded(v, digits))
                       if isinstance(values, pd.DataFrame) else rounded(values[col], digits))
    return values


@dataclass(frozen=True)
class Figures:
    """One period's numbers at a glance."""

    start: date
    end: date
    jobs: int
    images: int
    succeeded: int
    failed: int
    cancelled: int
    spend_usd: Decimal
    unpriced_jobs: int
    cost_per_image_usd: Decimal | None
    success_rate: float | None
    ledger_rows: int  # images, plus jobs without any
    median_ms: float | None
    p95_ms: float | None
    images_deleted: int = 0  # made, then deleted: still in cost per image and the ledger


@dataclass(frozen=True)
class Summary:
    """The chosen period and the one before it."""

    current: Figures
    previous: Figures

    def change(self, name: str) -> float | None:
        """Relative change of a figure against the previous period (0.25 = +25 %); for
        ``success_rate`` the difference in points (0.02 = +2 points). None when either side
        is unknown or the previous value is zero."""
        now, before = getattr(self.current, name), getattr(self.previous, name)
        if now is None or before is None:
            return None
        if name == "success_rate":
            return float(now) - float(before)
        return float(now) / float(before) - 1 if before else None


def breakdown(db: Database, viewer: Viewer, f: Filters, by: str | None = None, *,
              times: bool = True) -> pd.DataFrame:
    """Every figure per group (``provider``, ``model`` (with its provider), ``user``, ``day``)
    or, with ``by=None``, one row for the whole period; ordered by spend, dearest first (days
    in order). ``times=False`` leaves out the median and p95 durations."""
    return breakdowns(db, viewer, f, (by,), times=times)[by]


def breakdowns(db: Database, viewer: Viewer, f: Filters, bys: tuple[str | None, ...], *,
               times: bool = True) -> dict[str | None, pd.DataFrame]:
    """:func:`breakdown` for several groupings at once, from one read of the jobs in scope
    and their image counts (at 1M images, by model and by user took 36 ms this way against
    63 ms as two queries)."""
    for by in bys:
        if by is not None and by not in GROUPS:
            raise ValueError(f"Unknown grouping {by!r}; expected one of {', '.join(GROUPS)}.")
    cte, params = _base(scope(viewer, f))
    selects = []
    for i, by in enumerate(bys):
        keys = {_alias(k): k for k in GROUPS.get(by or "", ())}  # the others NULL: one UNION
        cols = [keys.get(name, f'NULL::{t} AS "{name}"') for name, t in _KEY_TYPES.items()]
        columns = ", ".join([f"{i} AS part_", *cols, _METRICS, *([_TIMES] if times else [])])
        group = ", ".join(k.rsplit(" AS ", 1)[0] for k in keys.values())
        selects.append(f"SELECT {columns} FROM b j {f'GROUP BY {group}' if keys else ''}")
    df = _rounded(db.df(f"{cte} {' UNION ALL '.join(selects)}", params), 1, *_TIMED)
    out: dict[str | None, pd.DataFrame] = {}
    for i, by in enumerate(bys):
        names = [_alias(k) for k in GROUPS.get(by or "", ())]
        part = df[df["part_"] == i].drop(columns=["part_"])
        part = part[[*names, *(c for c in part.columns if c not in _KEY_NAMES)]]
        order = (["day"], [True]) if by == "day" else (  # model, then provider: no engine's
            ["spend_usd", *names[::-1]], [False, *[True] * len(names)])  # row order decides
        out[by] = part.sort_values(order[0], ascending=order[1], kind="stable").reset_index(
            drop=True)
    return out


def summary(db: Database, viewer: Viewer, f: Filters) -> Summary:
    """The figures of the period and of the one before, in one scan."""
    f = scope(viewer, f)
    prev = f.previous()
    both = replace(f, start=prev.start)
    cte, params = _base(both)
    rows = db.dicts(
        f"{cte} SELECT j.created_at >= ? AS now, {_METRICS}, {_TIMES} FROM b j GROUP BY 1",
        [*params, _ts(f.start)])
    by_period = {r.pop("now"): _rounded(r, 1, *_TIMED) for r in rows}

    def figures(period: Filters, key: bool) -> Figures:
        r = by_period.get(key) or {}  # no row: nothing happened in that period
        r |= {k: int(r.get(k) or 0) for k in ("jobs", "images", "succeeded", "failed",
                                               "cancelled", "unpriced_jobs", "ledger_rows",
                                               "images_deleted")}
        r["spend_usd"] = Decimal(r.get("spend_usd") or 0)
        rest: dict[str, Any] = {k.name: r.get(k.name) for k in fields(Figures)[2:]}
        return Figures(period.start, period.end, **rest)

    return Summary(figures(f, True), figures(prev, False))


def spend_by_day(db: Database, viewer: Viewer, f: Filters, by: str = "provider") -> pd.DataFrame:
    """Spend, jobs and unpriced jobs per day and ``by`` (provider, model or user); days with
    no jobs are left out."""
    if by not in ("provider", "model", "user"):
        raise ValueError(f"Spend per day is split by provider, model or user, not {by!r}.")
    col = {"provider": "provider", "model": "model", "user": "user_id"}[by]
    where, params = jobs_where(scope(viewer, f))  # jobs only: no images, no join
    return db.df(f"""
        SELECT CAST(created_at AS DATE) AS day, {col} AS "group",
               coalesce(sum(cost_usd), 0)::float8 AS spend_usd, count(*) AS jobs,
               count(*) FILTER (WHERE status = 'succeeded' AND cost_usd IS NULL)
                   AS unpriced_jobs
        FROM jobs j WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2""", params)


def cumulative_month(db: Database, viewer: Viewer, f: Filters, month_of: date, today: date,
                     budget_usd: Decimal | None = None) -> pd.DataFrame:
    """Every day of ``month_of``'s month: spend, cumulative spend (up to ``today``), and a
    linear forecast from ``today`` to the month's end, plus the budget (NaN if none).

    The forecast is the run rate so far: spend this month / days elapsed (today counted as
    a whole day), times the days remaining, added to the spend so far. A month that is over
    has no forecast; one not begun has neither. The filters apply, bar their dates."""
    first = month_of.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    month = replace(scope(viewer, f), start=first, end=last)
    where, params = jobs_where(month)
    as_of = min(today, last)
    elapsed = (as_of - first).days + 1
    return db.df(f"""
        WITH d AS (SELECT CAST(j.created_at AS DATE) AS day, sum(j.cost_usd) AS spend
                   FROM jobs j WHERE {where} GROUP BY 1),
        cal AS (SELECT CAST(g.d AS DATE) AS day
                FROM generate_series(?::TIMESTAMP, ?::TIMESTAMP, INTERVAL '1 day') AS g(d)),
        c AS (SELECT cal.day, coalesce(d.spend, 0)::float8 AS spend,
                     (sum(coalesce(d.spend, 0)) OVER (ORDER BY cal.day))::float8 AS cum
              FROM cal LEFT JOIN d USING (day)),
        t AS (SELECT max(cum) FILTER (WHERE day <= ?) AS so_far FROM c)
        SELECT c.day,
               CASE WHEN c.day <= ? THEN c.spend END AS spend_usd,
               CASE WHEN c.day <= ? THEN c.cum END AS cumulative_usd,
               CASE WHEN ? >= ? AND ? < ? AND c.day >= ?
                    THEN t.so_far + t.so_far / ? * (c.day - ?::DATE) END AS forecast_usd,
               ?::float8 AS budget_usd
        FROM c, t ORDER BY c.day""",
        [*params, first, last, as_of, as_of, as_of, today, first, today, last, as_of,
         elapsed, as_of, None if budget_usd is None else float(budget_usd)])


def cost_per_image_by_model(db: Database, viewer: Viewer, f: Filters) -> pd.DataFrame:
    """Per provider and model with images: cost per image, spend and images, cheapest first."""
    return cheapest_first(breakdown(db, viewer, f, "model", times=False))


def cheapest_first(by_model: pd.DataFrame) -> pd.DataFrame:
    """A by-model :func:`breakdown` as :func:`cost_per_image_by_model` shows it."""
    df = by_model[by_model["images"] > 0]
    return df.sort_values(["cost_per_image_usd", "model"], na_position="last").reset_index(
        drop=True)


def durations(db: Database, viewer: Viewer, f: Filters, by: str = "provider") -> pd.DataFrame:
    """Box-plot statistics of succeeded jobs' durations in seconds per provider or model:
    n, min, q1, median, q3, p95, max (quantiles to the millisecond) and the Tukey fences
    (the furthest durations within 1.5 IQR of the box)."""
    if by not in ("provider", "model"):
        raise ValueError(f"Durations are split by provider or model, not {by!r}.")
    where, params = jobs_where(scope(viewer, f))
    df: pd.DataFrame = _rounded(db.df(f"""
        WITH s AS (SELECT j.{by} AS "group", (j.duration_ms / 1000.0)::float8 AS sec FROM jobs j
                   WHERE {where} AND j.status = 'succeeded' AND j.duration_ms IS NOT NULL),
        q AS (SELECT "group", count(*) AS n, min(sec) AS min, max(sec) AS max, percentile_cont(
                  ARRAY[0.25, 0.5, 0.75, 0.95]) WITHIN GROUP (ORDER BY sec) AS qs FROM s GROUP BY 1)
        SELECT q."group", min(q.n) AS n, min(q.min) AS min, min(q.qs[1]) AS q1,
               min(q.qs[2]) AS median, min(q.qs[3]) AS q3, min(q.qs[4]) AS p95, min(q.max) AS max,
               min(s.sec) FILTER (WHERE s.sec >= q.qs[1] - 1.5 * (q.qs[3] - q.qs[1]))
                   AS lowerfence,
               max(s.sec) FILTER (WHERE s.sec <= q.qs[3] + 1.5 * (q.qs[3] - q.qs[1]))
                   AS upperfence
        FROM q JOIN s USING ("group") GROUP BY 1""", params), 3, "q1", "median", "q3", "p95")
    return df.sort_values(["median", "group"], kind="stable").reset_index(drop=True)


def failures(db: Database, viewer: Viewer, f: Filters) -> pd.DataFrame:
    """Failed jobs per provider and error type, as a share of the provider's finished jobs
    (so a provider's rates add up to 1 - its success rate). Cancelled jobs are not failures:
    they are left out here (``Figures.cancelled`` counts them)."""
    where, params = jobs_where(scope(viewer, f))
    return db.df(f"""
        WITH fin AS (SELECT j.provider, j.status, coalesce(j.error_type, 'unknown') AS error_type
                     FROM jobs j WHERE {where} AND j.status IN ('succeeded', 'failed')),
        tot AS (SELECT provider, count(*) AS finished FROM fin GROUP BY 1)
        SELECT fin.provider, fin.error_type, count(*) AS jobs,
               min(tot.finished) AS finished,
               count(*)::float8 / min(tot.finished) AS rate
        FROM fin JOIN tot USING (provider) WHERE fin.status <> 'succeeded'
        GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2""", params)


def top_users(db: Database, viewer: Viewer, f: Filters, limit: int = TOP_USERS) -> pd.DataFrame:
    """The users who spent the most (a member: only themselves), with their figures."""
    df = breakdown(db, viewer, f, "user", times=False)
    return df.head(max(0, int(limit))).reset_index(drop=True)


@dataclass(frozen=True)
class Budget:
    """A monthly budget: whose (``user`` or ``team``), the limit and the warning threshold."""

    scope: str
    subject: str
    monthly_usd: Decimal
    warn_fraction: float


def budget_for(db: Database, viewer: Viewer) -> Budget | None:
    """The team's budget for admins and analysts; a member's own (never the team's, which
    their own spend would be measured against misleadingly). None when not set."""
    scope, subject = ("team", "team") if viewer.sees_all else ("user", viewer.username)
    found = budgets.get_budget(db, scope, subject)
    return Budget(scope, subject, *found) if found else None


def facets(db: Database, viewer: Viewer) -> dict[str, list[str]]:
    """Filter choices: users (admins and analysts only), providers and models seen in jobs."""
    if viewer.sees_all:  # everyone's: an index skip-scan per column on PostgreSQL
        row = db.fetchone("SELECT " + ", ".join(dialect.distinct_values(db.kind, "jobs", c)
                                                for c in ("user_id", "provider", "model")))
    else:
        row = db.fetchone("SELECT NULL, array_agg(DISTINCT provider), array_agg(DISTINCT "
                          "model) FROM jobs WHERE user_id = ?", [viewer.username])
    row = row or ([], [], [])  # no jobs table rows at all: no choices
    users = sorted(row[0] or []) if viewer.sees_all else [viewer.username]
    return {"users": users, "providers": sorted(row[1] or []), "models": sorted(row[2] or [])}
