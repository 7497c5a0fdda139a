"""What an Analytics view or a report covers (:class:`Filters`), who may see what (:func:`scope`),
and the WHERE clauses that select it: over ``jobs``, ``images`` and the jobs' daily rollup
(:func:`daily`, ``lib/db/rollup.py``). The rules they count by: :mod:`lib.reporting.analytics`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from lib.auth.access import Viewer
from lib.db import rollup
from lib.db.dialect import POSTGRES

STATUSES = ("succeeded", "failed", "cancelled", "queued", "running")
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


def day_start(day: date) -> datetime:  # a day's first instant
    return datetime.combine(day, time.min)


def jobs_where(f: Filters, alias: str = "j") -> tuple[str, list[Any]]:
    """WHERE over jobs (or, with ``alias="i"``, images: no status there) for the filters,
    with parameters (user input never enters the SQL text)."""
    if alias != "j":
        return _narrowed(f, alias, [], [])
    return _narrowed(f, alias, ["j.created_at >= ?", "j.created_at < ?"],
                     [day_start(f.start), day_start(f.end + timedelta(days=1))])


def _narrowed(f: Filters, a: str, parts: list[str], params: list[Any]) -> tuple[str, list[Any]]:
    """``parts`` and the filters' lists and demo flag over alias ``a`` (status: not images)."""
    for col, values in (("user_id", f.users), ("provider", f.providers), ("model", f.models),
                        ("status", f.statuses if a != "i" else ())):
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
    return f"i.created_at >= ? AND {where}", [day_start(f.start) - _IMAGE_SLACK, *params]


def daily(kind: str, f: Filters) -> tuple[str, list[Any]]:
    """A FROM item (alias it) with the jobs' daily rollup for the filters: one row per day,
    user, provider, model, status, error type ('' for none) and demo flag, with the sums
    ``n_jobs``, ``n_images``, ``n_deleted``, ``spend``, ``priced_images``, ``n_unpriced`` and
    ``n_ledger`` (``lib/db/rollup.py``). PostgreSQL reads its ``job_days`` table (kept by a
    trigger); on DuckDB each job of the period is a row of its own (the sums are the same)."""
    if kind != POSTGRES:
        where, params = jobs_where(f)
        return rollup.source(kind, where), params
    where, params = _narrowed(f, "d", ["d.day >= ?", "d.day <= ?", "d.n_jobs <> 0"],
                              [f.start, f.end])
    return f"(SELECT * FROM {rollup.TABLE} d WHERE {where})", params
