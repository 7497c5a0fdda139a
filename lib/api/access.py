"""``/api/v1/admin/access`` and ``/api/v1/admin/caps``: Admin → Access over HTTP, for admins.

Every change goes through ``lib.grants`` (the page's verbs and words): a role's or a user's
allow-list of ``provider/model`` entries (``provider/*``: any model of it; ``null``: no
list, every model), and a user's daily image cap (``null``: none). A refused entry is 422.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from lib.api.admin import ADMINS
from lib.api.ops import Call, Op
from lib.api.schemas import Strict, Utc
from lib.grants import caps as daily
from lib.grants import rules

Entry = Annotated[str, Field(max_length=300, pattern=r"^[^/\s]+/.+$",
                             examples=["openai/gpt-image-2", "gemini/*"])]


class AccessListOut(BaseModel):
    """One role's or user's allow-list."""

    scope: str = Field(description="role or user")
    subject: str
    models: list[str] = Field(description="provider/model entries; provider/* is any model")
    set_by: str
    set_at: Utc


class CapOut(BaseModel):
    """One user's daily image cap and today's use (UTC day)."""

    username: str
    daily_images: int
    used_today: int
    left: int
    set_by: str


class AccessOut(BaseModel):
    """Every allow-list and every cap; anyone not listed may use every model."""

    lists: list[AccessListOut]
    caps: list[CapOut]


class AccessListIn(Strict):
    """The whole list (``null``: remove it, every model allowed again)."""

    models: list[Entry] | None = Field(max_length=500)


class CapIn(Strict):
    """Images per UTC day (``null``: no cap; 0 stops the user generating)."""

    daily_images: int | None = Field(ge=0, le=daily.MAX_CAP)


def _out(call: Call) -> AccessOut:
    return AccessOut(
        lists=[AccessListOut(scope=g.scope, subject=g.subject,
                             models=[f"{p}/{m}" for p, m in g.pairs], set_by=g.set_by,
                             set_at=g.set_at) for g in rules.lists(call.svc.db)],
        caps=[CapOut(username=u.username, daily_images=u.daily_images,
                     used_today=u.used_today, left=u.left, set_by=u.set_by)
              for u in daily.uses(call.svc.db, call.svc.clock.now())])


def get_access(call: Call) -> AccessOut:
    """Every role's and user's allow-list, and every daily cap with today's use."""
    return _out(call)


def set_access(call: Call) -> AccessOut:
    """Set (or with ``models: null`` remove) one role's or user's allow-list."""
    body: AccessListIn = call.body
    pairs = None if body.models is None else [
        (p, m) for p, _, m in (e.partition("/") for e in body.models)]
    rules.set_list(call.svc.db, call.who.user.username, call.path["scope"],
                   call.path["subject"], pairs, call.svc.clock.now())
    return _out(call)


def set_cap(call: Call) -> AccessOut:
    """Set (or with ``daily_images: null`` remove) a user's daily image cap."""
    body: CapIn = call.body
    daily.set_cap(call.svc.db, call.who.user.username, call.path["username"],
                  body.daily_images, call.svc.clock.now())
    return _out(call)


def ops() -> list[Op]:
    """The access routes: the admin role only."""
    return [
        Op("GET", "/admin/access", "adminGetAccess", "Allow-lists and daily caps",
           get_access, out=AccessOut, roles=ADMINS),
        Op("PUT", "/admin/access/{scope}/{subject}", "adminSetAccess",
           "Set a role's or user's allow-list", set_access, out=AccessOut, body=AccessListIn,
           roles=ADMINS, errors=(422,)),
        Op("PUT", "/admin/caps/{username}", "adminSetCap", "Set a user's daily image cap",
           set_cap, out=AccessOut, body=CapIn, roles=ADMINS, errors=(422,)),
    ]
