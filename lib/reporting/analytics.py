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
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from lib.auth.access import Viewer
from lib.core.fmt import rounded
from lib.db import dialect
from lib.db.database import Database
from lib.money import budgets
from lib.reporting.filters import STATUSES as STATUSES  # analytics.Filters and co. for callers
from lib.reporting.filters import Filters as Filters
from lib.reporting.filters import daily, day_start, jobs_where
from lib.reporting.filters import images_where as images_where
from lib.reporting.filters import scope as scope

GROUPS = {"provider": ("j.provider AS provider",),  # --by: its key columns
          "model": ("j.provider AS provider", "j.model AS model"),
          "user": ('j.user_id AS "user"',), "day": ("j.day AS day",)}  # j: the rollup
TOP_USERS = 10  # how many the page and top_users() list


def _alias(expr: str) -> str:
    """The output column of a GROUPS key expression (``j.user_id AS "user"`` -> user)."""
    return expr.rsplit(" AS ", 1)[1].strip('"')


_KEY_NAMES = {_alias(k) for keys in GROUPS.values() for k in keys}
_KEY_TYPES = {"provider": "TEXT", "model": "TEXT", "user": "TEXT", "day": "DATE"}  # see breakdowns


# Every sum over the daily rollup ``j`` (filters.daily); the page's figures and the report's
# columns are these. The duration quantiles (_TIMES) read the jobs themselves (no rollup holds
# a median), and only where a chart shows them.
_METRICS = """
    coalesce(sum(n_jobs), 0)::BIGINT AS jobs,
    coalesce(sum(n_images), 0)::BIGINT AS images,
    coalesce(sum(n_jobs) FILTER (WHERE status = 'succeeded'), 0)::BIGINT AS succeeded,
    coalesce(sum(n_jobs) FILTER (WHERE status = 'failed'), 0)::BIGINT AS failed,
    coalesce(sum(n_jobs) FILTER (WHERE status = 'cancelled'), 0)::BIGINT AS cancelled,
    coalesce(sum(spend), 0)::DECIMAL(18, 8) AS spend_usd,
    coalesce(sum(n_unpriced), 0)::BIGINT AS unpriced_jobs,
    CASE WHEN sum(priced_images) > 0
         THEN (sum(spend) / sum(priced_images))::DECIMAL(18, 8) END AS cost_per_image_usd,
    (coalesce(sum(n_jobs) FILTER (WHERE status = 'succeeded'), 0))::float8
        / nullif(sum(n_jobs) FILTER (WHERE status IN ('succeeded', 'failed')), 0)
        AS success_rate,
    coalesce(sum(n_ledger), 0)::BIGINT AS ledger_rows,
    coalesce(sum(n_deleted), 0)::BIGINT AS images_deleted"""
def _quantiles(of: str = "status = 'succeeded'", suffix: str = "") -> str:
    """The median and p95 duration of the rows matching ``of`` (to 0.1 ms by _rounded)."""
    return ", ".join(f"percentile_cont({q}) WITHIN GROUP (ORDER BY duration_ms) "
                     f"FILTER (WHERE {of}) AS {name}{suffix}"
                     for name, q in (("median_ms", 0.5), ("p95_ms", 0.95)))


_TIMES = _quantiles()
_TIMED = ("median_ms", "p95_ms")
_SUCCEEDED = "j.created_at, j.user_id, j.provider, j.model, j.status, j.duration_ms"
_JOB_DAY = "CAST(j.created_at AS DATE)"  # GROUPS' j.day, over jobs


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
    f = scope(viewer, f)
    rollup, params = daily(db.kind, f)
    sums, quantiles = [], []
    for i, by in enumerate(bys):
        keys = {_alias(k): k for k in GROUPS.get(by or "", ())}  # the others NULL: one UNION
        cols = [keys.get(name, f'NULL::{t} AS "{name}"') for name, t in _KEY_TYPES.items()]
        group = ", ".join(k.rsplit(" AS ", 1)[0] for k in keys.values())
        by_group = f"GROUP BY {group}" if keys else ""
        sums.append(f"SELECT {', '.join([f'{i} AS part_', *cols, _METRICS])} FROM d j {by_group}")
        quantiles.append(f"SELECT {', '.join([f'{i} AS part_', *cols, _TIMES])} "
                         f"FROM s j {by_group}".replace("j.day", _JOB_DAY))
    sql = f"WITH d AS (SELECT * FROM {rollup} r), m AS ({' UNION ALL '.join(sums)})"
    if times:  # the succeeded jobs' durations (on PostgreSQL from jobs_succeeded_idx alone)
        where, more = jobs_where(f)
        params += more
        on = " AND ".join(["m.part_ = t.part_", *(f'm."{k}" IS NOT DISTINCT FROM t."{k}"'
                                                  for k in _KEY_TYPES)])
        sql += (f", s AS (SELECT {_SUCCEEDED} FROM jobs j WHERE {where} AND "
                f"j.status = 'succeeded'), t AS ({' UNION ALL '.join(quantiles)}) "
                f"SELECT m.*, {', '.join(f't.{c}' for c in _TIMED)} FROM m LEFT JOIN t ON {on}")
    else:
        sql += " SELECT * FROM m"
    df = _rounded(db.df(sql, params), 1, *_TIMED)
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
    """The figures of the period and of the one before, in one scan of each source."""
    f = scope(viewer, f)
    prev = f.previous()
    both = replace(f, start=prev.start)
    rollup, params = daily(db.kind, both)
    where, more = jobs_where(both)  # the durations (see breakdowns), each period by FILTER:
    split = day_start(f.start)  # no sort of both periods' jobs to group them (twice as fast)
    times = [_quantiles(f"j.created_at {op} ?", f"_{now}") for now, op in ((1, ">="), (0, "<"))]
    rows = db.dicts(
        f"WITH m AS (SELECT j.day >= ? AS now, {_METRICS} FROM {rollup} j GROUP BY 1), "
        f"t AS (SELECT {', '.join(times)} FROM jobs j WHERE {where} AND j.status = 'succeeded') "
        "SELECT * FROM t LEFT JOIN m ON TRUE", [f.start, *params, *[split] * 4, *more])
    by_period: dict[bool, dict[str, Any]] = {}
    for r in rows:  # t has one row; m one per period with jobs (none: NULL)
        quantiles = {c: r.pop(c) for c in list(r) if c.endswith(("_ms_0", "_ms_1"))}
        if (now := r.pop("now")) is not None:
            by_period[bool(now)] = r
    for now in (True, False):
        by_period.setdefault(now, {}).update(_rounded(
            {c: quantiles[f"{c}_{int(now)}"] for c in _TIMED}, 1, *_TIMED))

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
    rollup, params = daily(db.kind, scope(viewer, f))  # sums per day already
    return db.df(f"""
        SELECT j.day AS day, j.{col} AS "group", coalesce(sum(j.spend), 0)::float8 AS spend_usd,
               sum(j.n_jobs)::BIGINT AS jobs, sum(j.n_unpriced)::BIGINT AS unpriced_jobs
        FROM {rollup} j GROUP BY 1, 2 ORDER BY 1, 2""", params)


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
    rollup, params = daily(db.kind, month)
    as_of = min(today, last)
    elapsed = (as_of - first).days + 1
    return db.df(f"""
        WITH d AS (SELECT j.day, sum(j.spend) AS spend FROM {rollup} j GROUP BY 1),
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
    sec = (f'SELECT j.{by} AS "group", j.duration_ms / CAST(1000 AS float8) AS sec FROM jobs j '
           f"WHERE {where} AND j.status = 'succeeded' AND j.duration_ms IS NOT NULL")
    df = db.df(f"""
        SELECT "group", n, min, qs[1] AS q1, qs[2] AS median, qs[3] AS q3, qs[4] AS p95, max
        FROM (SELECT "group", count(*) AS n, min(sec) AS min, max(sec) AS max, percentile_cont(
                  ARRAY[0.25, 0.5, 0.75, 0.95]) WITHIN GROUP (ORDER BY sec) AS qs
              FROM ({sec}) s GROUP BY 1) q""", params)
    # The fences, by a second read with each group's bounds (a join of the jobs back onto
    # their groups' quantiles doubled PostgreSQL's time).
    bounds = [(g, q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1))
              for g, q1, q3 in zip(df["group"], df["q1"], df["q3"], strict=True)]
    values = ", ".join(["(?, CAST(? AS float8), CAST(? AS float8))"] * len(bounds))
    fences = db.df(f"""
        SELECT b.g AS "group", min(s.sec) FILTER (WHERE s.sec >= b.lo) AS lowerfence,
               max(s.sec) FILTER (WHERE s.sec <= b.hi) AS upperfence
        FROM ({sec}) s JOIN (VALUES {values}) AS b(g, lo, hi) ON s."group" = b.g
        GROUP BY 1""", [*params, *(v for b in bounds for v in b)]) if bounds else df[
        ["group"]].assign(lowerfence=df["min"], upperfence=df["max"])  # none: no rows at all
    df = _rounded(df.merge(fences, on="group", how="left"), 3, "q1", "median", "q3", "p95")
    out: pd.DataFrame = df.sort_values(["median", "group"], kind="stable").reset_index(drop=True)
    return out


def failures(db: Database, viewer: Viewer, f: Filters) -> pd.DataFrame:
    """Failed jobs per provider and error type, as a share of the provider's finished jobs
    (so a provider's rates add up to 1 - its success rate). Cancelled jobs are not failures:
    they are left out here (``Figures.cancelled`` counts them)."""
    rollup, params = daily(db.kind, scope(viewer, f))
    return db.df(f"""
        WITH fin AS (SELECT j.provider, j.status, j.n_jobs,
                            coalesce(nullif(j.error_type, ''), 'unknown') AS error_type
                     FROM {rollup} j WHERE j.status IN ('succeeded', 'failed')),
        tot AS (SELECT provider, sum(n_jobs) AS finished FROM fin GROUP BY 1)
        SELECT fin.provider, fin.error_type, sum(fin.n_jobs)::BIGINT AS jobs,
               min(tot.finished)::BIGINT AS finished,
               sum(fin.n_jobs)::float8 / min(tot.finished) AS rate
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
