"""The ledger: one row per image, plus one per job without images, plus one "deleted image"
line per job that still has images but lost some (what they cost stays there, not on their
siblings), so the rows add up to the spend (see :mod:`lib.reporting.analytics` for the rules). The
page shows it a page at a time, newest first; :mod:`lib.reporting.report` exports all of it with
DuckDB ``COPY``."""

from __future__ import annotations

from typing import Any

import pandas as pd

from lib.auth.access import Viewer
from lib.core import csvsafe
from lib.db.database import Database
from lib.reporting.analytics import breakdown
from lib.reporting.filters import Filters, images_where, jobs_where, scope

MAX_PER_PAGE = 500
SIZE = "coalesce(i.width || 'x' || i.height, j.width || 'x' || j.height, j.aspect_ratio)"


def ledger_sql(f: Filters, *, csv: bool = False,
                newest: int | None = None) -> tuple[str, list[Any]]:
    """One row per image, plus one per job in scope without images (failed, cancelled,
    unfinished, or whose images were all deleted), plus one per job with both images and
    deleted ones (its ``note`` says "1 deleted image"), so the rows add up to the spend."""
    where, params = jobs_where(f)

    def text(expr: str) -> str:  # every text column: no cell a spreadsheet runs as a formula
        return csvsafe.sql(expr) if csv else expr

    iwhere, iparams = images_where(f)
    head, jobs, top, deleted = "", "jobs", [], ""
    if newest is not None:  # a page: only the newest jobs' images, by images(job_id) (a range
        # scan of every image in the period took PostgreSQL 0.6 s at 1M images)
        head = (f"WITH top AS (SELECT * FROM jobs j WHERE {where} "
                "ORDER BY j.created_at DESC, j.id DESC LIMIT ?)")
        jobs, top, iparams = "top", [*params, newest], []
        iwhere, deleted = "i.job_id IN (SELECT id FROM top)", " AND id IN (SELECT id FROM top)"
    sql = f"""{head}
        SELECT j.created_at AS time, {text("j.user_id")} AS "user",
               {text("j.provider")} AS provider, {text("j.model")} AS model,
               {text(SIZE)} AS size, {text("j.quality")} AS quality,
               {text("coalesce(j.style, 'none')")} AS style, {text("j.prompt")} AS prompt,
               CASE WHEN i.job_id IS NULL THEN j.cost_usd ELSE i.cost_usd END AS cost_usd,
               (coalesce(i.duration_ms, j.duration_ms) / 1000.0)::float8 AS duration_s,
               {text("j.status")} AS status,
               {text("coalesce(i.request_id, j.request_id)")} AS request_id,
               {text("j.id")} AS job_id, {text("i.id")} AS image_id,
               CASE WHEN i.id IS NOT NULL THEN NULL
                    WHEN coalesce(i.deleted, j.images_deleted, 0) = 1 THEN '1 deleted image'
                    WHEN coalesce(i.deleted, j.images_deleted, 0) > 1
                    THEN coalesce(i.deleted, j.images_deleted) || ' deleted images' END AS note
        FROM {jobs} j LEFT JOIN (
            SELECT id, job_id, idx, width, height, cost_usd, duration_ms, request_id,
                   NULL::INTEGER AS deleted FROM images i WHERE {iwhere}
            UNION ALL  -- a job's deleted images, after its others
            SELECT NULL, id, 2147483647, NULL, NULL, deleted_cost_usd, NULL, NULL, images_deleted
            FROM jobs WHERE images > 0 AND images_deleted > 0{deleted}) i ON i.job_id = j.id
        WHERE {where}"""
    return sql, [*top, *iparams, *params]


def ledger(db: Database, viewer: Viewer, f: Filters, page: int = 0, per_page: int = 50,
           total: int | None = None) -> tuple[pd.DataFrame, int]:
    """A page of the ledger, newest first, and how many rows there are in all (a page past
    the end gives the last). ``total``: the count if known (``Figures.ledger_rows``)."""
    per_page = min(MAX_PER_PAGE, max(1, int(per_page)))
    if total is None:
        total = int(breakdown(db, viewer, f, times=False)["ledger_rows"].iloc[0])
    return rows(db, viewer, f, last_page(page, total, per_page), per_page), total


def last_page(page: int, total: int, per_page: int) -> int:
    """``page`` (0-based), or the last page of ``total`` rows if it lies past the end."""
    return min(max(0, int(page)), max(0, (total - 1) // per_page))


def rows(db: Database, viewer: Viewer, f: Filters, page: int, per_page: int) -> pd.DataFrame:
    """Page ``page`` of the ledger, newest first (empty past the end)."""
    per_page = min(MAX_PER_PAGE, max(1, int(per_page)))
    page = max(0, int(page))
    # The rows of a page come from at most (page + 1) * per_page of the newest jobs.
    sql, params = ledger_sql(scope(viewer, f), newest=(page + 1) * per_page)
    return db.df(f"{sql} ORDER BY time DESC, job_id DESC, i.idx LIMIT ? OFFSET ?",
                 [*params, per_page, page * per_page])
