"""Recording an action in the audit log: who, when, what, on what, through which session or token.

Each library verb that does a security- or money-relevant thing calls :func:`record` with its
own write cursor, inside its own transaction: the row is committed with the action, or not at
all (a refused or failed action writes no row; a failed sign-in is an action of its own).

Who is acting is the ambient :class:`Actor` of the call (a context variable), set by the two
doors: the pages (``lib/ui/signin.py``, on every run that finds a signed-in user: the
username and ``session:<id>``) and the HTTP API (``lib/api/ops.py``, around each handler: the
username and ``token:<id>`` or ``admin-token``). Anything else (the CLI, the engine's start,
a test that sets nobody) acts as :data:`SYSTEM`. A verb may name the actor itself
(``actor=``) when it knows better (the account a failed sign-in named).

Never put a secret in ``detail``: keys that name one (password, secret, key, hash) are
refused with a ``ValueError``, so a slip fails its test instead of landing in the table.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from lib.core.clock import utcnow
from lib.db.cursor import Cursor
from lib.db.database import Database

MAX_TEXT = 200  # a target, an actor or one detail value is cut here (hostile input, not prose)


class Action(StrEnum):
    """Every action the log knows (a closed set: the page's filter and the tests list it).

    Approvals add theirs here when they arrive."""

    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_OUT = "sign_out"
    USER_CREATE = "user_create"
    USER_ROLE = "user_role"
    USER_PASSWORD = "user_password"
    USER_DISABLE = "user_disable"
    USER_ENABLE = "user_enable"
    TOKEN_CREATE = "token_create"
    TOKEN_REVOKE = "token_revoke"
    IMAGE_SHARE = "image_share"
    COMPARISON_SHARE = "comparison_share"
    IMAGE_DELETE = "image_delete"
    STYLE_DELETE = "style_delete"
    PRICE_ADD = "price_add"
    PRICE_RECOMPUTE = "price_recompute"
    BUDGET_SET = "budget_set"
    BUDGET_REMOVE = "budget_remove"
    WEBHOOK_CREATE = "webhook_create"
    WEBHOOK_EDIT = "webhook_edit"
    WEBHOOK_DELETE = "webhook_delete"
    MODEL_UPDATE = "model_update"
    MODEL_ENABLE = "model_enable"
    MODEL_CAPS = "model_caps"
    ACCESS_LIST = "access_list"
    DAILY_CAP = "daily_cap"
    BOARD_CREATE = "board_create"
    BOARD_EDIT = "board_edit"
    BOARD_VISIBILITY = "board_visibility"
    BOARD_ARCHIVE = "board_archive"
    BOARD_DELETE = "board_delete"


@dataclass(frozen=True)
class Actor:
    """Who acts, and through what: ``session:<id>``, ``token:<id>``, ``admin-token``,
    ``system`` (never a secret: a token's id, not the token)."""

    username: str
    via: str


SYSTEM = Actor("system", "system")
ANONYMOUS = Actor("anonymous", "sign-in page")  # nobody signed in yet: a failed sign-in
_CURRENT: ContextVar[Actor | None] = ContextVar("promptboard_audit_actor", default=None)
_SECRET_WORDS = ("password", "secret", "hash", "key", "credential")


def set_actor(actor: Actor | None) -> None:
    """Name who acts for the rest of this thread's run (a page run: ``lib/ui/signin.py``)."""
    _CURRENT.set(actor)


@contextmanager
def acting(actor: Actor | None) -> Iterator[None]:
    """Name who acts inside the block (an API call, a test), restoring the old one after."""
    token = _CURRENT.set(actor)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current() -> Actor:
    """Who acts now: the ambient actor, or :data:`SYSTEM`."""
    return _CURRENT.get() or SYSTEM


def _cut(value: object) -> str:
    text = str(value).replace("\x00", "\ufffd")  # PostgreSQL text holds no NUL
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def _detail(detail: Mapping[str, object] | None) -> str:
    if not detail:
        return ""
    for name in detail:
        if any(word in name.lower() for word in _SECRET_WORDS):
            raise ValueError(f"An audit detail never carries a secret ({name!r}).")
    clean = {k: v if isinstance(v, bool | int | float) or v is None else _cut(v)
             for k, v in detail.items()}
    return json.dumps(clean, sort_keys=True, ensure_ascii=False, default=str)


def record(cur: Cursor, action: Action, target: str, detail: Mapping[str, object] | None = None,
           *, at: datetime | None = None, actor: str | None = None) -> None:
    """Append one row, inside the caller's write transaction (``cur``)."""
    who = current()
    cur.execute(
        "INSERT INTO audit_log (id, occurred_at, actor, action, target, detail, via) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [uuid.uuid4().hex, at or utcnow(), _cut(actor if actor is not None else who.username),
         Action(action).value, _cut(target), _detail(detail), _cut(who.via)])


def record_each(cur: Cursor, action: Action,
                items: Iterable[tuple[str, Mapping[str, object] | None]], *,
                at: datetime | None = None, actor: str | None = None) -> None:
    """One row per (target, detail) of one action on several things (a bulk delete)."""
    for target, detail in items:
        record(cur, action, target, detail, at=at, actor=actor)


def record_now(db: Database, action: Action, target: str,
               detail: Mapping[str, object] | None = None, *, at: datetime | None = None,
               actor: str | None = None) -> None:
    """:func:`record` in a write of its own: for an action that is no write of ours (a
    sign-in judged by the page, a failed one), right after it happened."""
    with db.write() as cur:
        record(cur, action, target, detail, at=at, actor=actor)
