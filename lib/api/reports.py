"""``/api/v1/report``: the Analytics page's figures for a period, as ``lib.cli report`` prints them.

The rows come from ``reporting.report.table`` and are written by ``reporting.report.write``,
the CLI's own code, so ``curl …/report?format=csv`` and ``python -m lib.cli report --format
csv`` give the same bytes for the same data (a test compares them). The caller's role scopes
it as on the Analytics page: a member's report covers their own jobs only; admins and
analysts see the team's.
"""

from __future__ import annotations

import argparse
import io
from datetime import date
from typing import Literal

from pydantic import Field, JsonValue
from starlette.responses import Response

from lib.api.errors import ApiError
from lib.api.ops import Call, Op
from lib.api.schemas import Strict
from lib.reporting import analytics, report

MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8",
         "parquet": "application/vnd.apache.parquet"}


class ReportQuery(Strict):
    """The CLI's ``report`` options as query parameters (``from`` and ``to`` are UTC days)."""

    start: date = Field(alias="from", description="first UTC day, YYYY-MM-DD")
    end: date = Field(alias="to", description="last UTC day (included)")
    by: str | None = Field(None, description="one row per group (tag: spend by tag, an image "
                           "with two tags in both rows)", json_schema_extra={
        "enum": [*report.BYS, None]})  # null: the default, the totals
    format: Literal["json", "csv", "parquet"] = "json"
    user: list[str] = Field(default_factory=list)
    provider: list[str] = Field(default_factory=list)
    model: list[str] = Field(default_factory=list)
    status: list[str] = Field(default_factory=list, json_schema_extra={
        "items": {"enum": list[JsonValue](analytics.STATUSES)}})
    include_demo: bool = True


def cost_report(call: Call) -> Response:
    """The period's totals, or one row per ``by`` group: JSON, CSV or Parquet."""
    q: ReportQuery = call.query
    if q.by is not None and q.by not in report.BYS:
        raise ApiError(422, "invalid", f"by is one of {', '.join(report.BYS)}, not {q.by!r}.")
    args = argparse.Namespace(start=q.start, end=q.end, by=q.by, fmt=q.format, out=None,
                              users=q.user, providers=q.provider, models=q.model,
                              statuses=q.status, include_demo=q.include_demo)
    df = report.table(call.svc.db, args, call.who.viewer)
    name = f"promptboard-report-{q.start}-{q.end}.{q.format}"
    headers = {"Cache-Control": "no-store",
               "Content-Disposition": f'inline; filename="{name}"'}
    if q.format == "parquet":
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        return Response(buf.getvalue(), media_type=MEDIA["parquet"], headers=headers)
    text = io.StringIO()
    report.write(df, args, text)
    return Response(text.getvalue().encode(), media_type=MEDIA[q.format], headers=headers)


def ops() -> list[Op]:
    """The report route."""
    return [Op("GET", "/report", "getReport", "Cost report for a period (as `lib.cli report`)",
               cost_report, query=ReportQuery, media=tuple(MEDIA.values()), errors=(422,))]
