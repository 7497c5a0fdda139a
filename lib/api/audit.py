"""``GET /api/v1/audit``: the audit log over HTTP, for admins only, read-only.

The filters of Admin → Audit as query parameters, newest first, a keyset cursor (stable while
rows are appended), and ``format=csv`` for the same rows as the page's download (every text
cell guarded against spreadsheet formulas, ``lib.audit.to_csv``). There is no route that
edits or deletes a row: the retention setting (``PROMPTBOARD_AUDIT_RETENTION_DAYS``) is the
only thing that removes one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, JsonValue
from starlette.responses import Response

from lib import audit
from lib.api import cursors
from lib.api.errors import ApiError
from lib.api.ops import Call, Op
from lib.api.schemas import Strict, Utc

ADMINS = frozenset({"admin"})
ACTIONS: dict[str, JsonValue] = {"enum": [*(a.value for a in audit.Action), None]}
CSV = "text/csv; charset=utf-8"


class AuditQuery(Strict):
    """Filters of GET /audit; each optional."""

    actor: str = Field("", max_length=200, description="exactly this username")
    action: str | None = Field(None, json_schema_extra=ACTIONS, description="one action")
    since: datetime | None = Field(None, description="at or after (ISO 8601, UTC)")
    until: datetime | None = Field(None, description="before (ISO 8601, UTC)")
    q: str = Field("", max_length=200, description="text in the actor, target, detail or via")
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = None
    format: Literal["json", "csv"] = Field("json", description="csv: the filtered rows as "
                                           "CSV (up to 100,000, no paging)")


class AuditOut(BaseModel):
    """One row of the audit log."""

    id: str
    at: Utc
    actor: str = Field(description="the username, or system / anonymous")
    action: str
    target: str = Field(description="what it was done to: a username, a token id, an image "
                        "id, provider/model, ...")
    detail: dict[str, JsonValue]
    via: str = Field(description="session:<id>, token:<id>, admin-token, system, or the "
                     "sign-in page (never a secret)")


class AuditList(BaseModel):
    """Audit rows, newest first; ``next_cursor`` fetches the next page (null: no more)."""

    entries: list[AuditOut]
    next_cursor: str | None


def _filter(q: AuditQuery) -> audit.Filter:
    if q.action and q.action not in {a.value for a in audit.Action}:
        raise ApiError(422, "invalid", f"Unknown action {q.action!r}; the list is in the "
                       "OpenAPI document.")
    return audit.Filter(actor=q.actor, action=q.action or "", text=q.q,
                        since=cursors.naive_utc(q.since) if q.since else None,
                        until=cursors.naive_utc(q.until) if q.until else None)


def listing(call: Call) -> AuditList | Response:
    """The audit log, newest first, filtered; JSON pages or (``format=csv``) one CSV."""
    q: AuditQuery = call.query
    f = _filter(q)
    if q.format == "csv":
        rows = audit.search(call.svc.db, f, limit=audit.CSV_LIMIT)
        return Response(audit.to_csv(rows).encode(), media_type=CSV, headers={
            "Cache-Control": "no-store",
            "Content-Disposition": 'attachment; filename="promptboard-audit.csv"'})
    after = cursors.decode(q.cursor) if q.cursor else None
    found = audit.search(call.svc.db, f, limit=q.limit + 1, after=after)
    page = found[:q.limit]
    more = len(found) > q.limit
    return AuditList(entries=[AuditOut(id=e.id, at=e.at, actor=e.actor, action=e.action,
                                       target=e.target, detail=e.details(), via=e.via)
                              for e in page],
                     next_cursor=cursors.encode(page[-1].at, page[-1].id)
                     if more and page else None)


def ops() -> list[Op]:
    """The audit route: admins only, and only GET."""
    return [Op("GET", "/audit", "listAudit", "The audit log (admins)", listing,
               out=AuditList, query=AuditQuery, roles=ADMINS, media=(CSV,), errors=(422,))]
