"""The endpoints admins register (Admin → Integrations), and the test event.

An endpoint is a URL, a kind and the events it wants::

    standard   Standard Webhooks: signed JSON (lib.webhooks.signing); its secret, whsec_…,
               is made here and shown to the admin once (it stays in the database, which
               needs it to sign: see SECURITY.md)
    slack      a Slack-compatible incoming webhook: {"text": "…"}, no signature (the URL is
               the secret: it is shown and logged masked, lib.webhooks.targets.masked)

``threshold`` is the fraction of a budget at which ``budget.threshold`` fires for this endpoint
(0.8 = 80 %); None follows each budget's own warning level. A disabled endpoint gets nothing
(its pending deliveries end as failed); a 410 Gone from it disables it too. Only admins
register, change, test or delete endpoints; the page checks and so does every verb here.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from lib.audit import Action, record
from lib.auth import accounts
from lib.auth.accounts import PermissionDenied, User
from lib.db.database import Cursor, Database
from lib.webhooks import deliveries, events, signing, targets
from lib.webhooks.targets import WebhookError

KINDS = ("standard", "slack")
MAX_ENDPOINTS = 20

_COLUMNS = ("id, url, kind, events, secret, threshold, created_by, created_at, disabled, "
            "last_status, last_error, last_delivery_at")


@dataclass(frozen=True)
class Endpoint:
    """One registered endpoint (its secret is never in its repr)."""

    id: str
    url: str = field(repr=False)
    kind: str
    events: tuple[str, ...]
    secret: str | None = field(repr=False)
    threshold: float | None
    created_by: str
    created_at: datetime
    disabled: bool
    last_status: str | None
    last_error: str | None
    last_delivery_at: datetime | None

    @property
    def shown_url(self) -> str:
        """The URL as shown and logged (lib.webhooks.targets.masked)."""
        return targets.masked(self.url, self.kind)

    def wants(self, event_type: str) -> bool:
        """Whether this endpoint is enabled and subscribed to ``event_type``."""
        return not self.disabled and event_type in self.events


def _row(r: tuple[Any, ...]) -> Endpoint:
    (id_, url, kind, evs, secret, threshold, by, at, disabled, status, error, last) = r
    return Endpoint(id_, url, kind, tuple(json.loads(evs)), secret,
                    None if threshold is None else float(threshold), by, at, bool(disabled),
                    status, error, last)


def list_endpoints(db: Database | Cursor) -> list[Endpoint]:
    """Every endpoint, oldest first."""
    sql = f"SELECT {_COLUMNS} FROM webhook_endpoints ORDER BY created_at, id"
    rows = db.fetchall(sql) if isinstance(db, Database) else db.execute(sql).fetchall()
    return [_row(r) for r in rows]


def get(db: Database, endpoint_id: str) -> Endpoint | None:
    """One endpoint, or None."""
    row = db.fetchone(f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE id = ?", [endpoint_id])
    return None if row is None else _row(row)


def _require_admin(db: Database | Cursor, user: User) -> None:
    if user.role != "admin":
        raise PermissionDenied("Only admins manage webhooks.")
    accounts.require_active(db, user.username, "admin")


def _clean_events(chosen: list[str] | tuple[str, ...]) -> list[str]:
    unknown = sorted(set(chosen) - set(events.EVENTS))
    if unknown:
        raise WebhookError(f"Unknown event {unknown[0]!r}: choose from "
                           f"{', '.join(events.EVENTS)}.")
    picked = [e for e in events.EVENTS if e in chosen]  # the documented order
    if not picked:
        raise WebhookError("Choose at least one event for the endpoint to hear about.")
    return picked


def _host(url: str) -> str:
    """What the audit log keeps of an endpoint's URL: its host (a Slack URL's path is its
    secret, and any URL's query may carry one)."""
    return urlsplit(url).hostname or ""


def create(db: Database, user: User, url: str, kind: str, chosen: list[str] | tuple[str, ...],
           *, threshold: float | None = None, now: datetime) -> tuple[Endpoint, str | None]:
    """Register an endpoint; returns it and its secret (standard kind: shown once; a Slack
    endpoint has none)."""
    _require_admin(db, user)
    if kind not in KINDS:
        raise WebhookError(f"An endpoint is {' or '.join(KINDS)}, not {kind!r}.")
    picked = _clean_events(chosen)
    if threshold is not None and not 0 < threshold <= 1:
        raise WebhookError("The budget threshold is a share of the budget between 1 % and "
                           "100 %, e.g. 0.8 for 80 %.")
    clean = url.strip()
    targets.check(clean)  # refuses private targets, bad schemes, credentials in the URL
    secret = signing.new_secret() if kind == "standard" else None
    endpoint = Endpoint(uuid.uuid4().hex[:16], clean, kind, tuple(picked), secret, threshold,
                        user.username, now, False, None, None, None)
    with db.write() as cur:
        count = (cur.execute("SELECT count(*) FROM webhook_endpoints").fetchone() or (0,))[0]
        if int(count) >= MAX_ENDPOINTS:
            raise WebhookError(f"There are {MAX_ENDPOINTS} endpoints already: delete one first.")
        cur.execute(
            f"INSERT INTO webhook_endpoints ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [endpoint.id, clean, kind, json.dumps(picked), secret, threshold, user.username,
             now, False, None, None, None])
        record(cur, Action.WEBHOOK_CREATE, endpoint.id, {"host": _host(clean), "kind": kind,
                                                         "events": ",".join(picked)},
               at=now, actor=user.username)
    return endpoint, secret


def set_disabled(db: Database, user: User, endpoint_id: str, disabled: bool,
                 *, now: datetime) -> None:
    """Disable an endpoint (its pending deliveries end as failed) or enable it again."""
    _require_admin(db, user)
    with db.write() as cur:
        hit = cur.execute("UPDATE webhook_endpoints SET disabled = ? WHERE id = ? RETURNING id",
                          [disabled, endpoint_id]).fetchall()
        if not hit:
            raise WebhookError("That endpoint no longer exists.")
        if disabled:
            deliveries.end_pending(cur, endpoint_id, f"endpoint disabled by {user.username}")
        record(cur, Action.WEBHOOK_EDIT, endpoint_id, {"disabled": disabled}, at=now,
               actor=user.username)


def delete(db: Database, user: User, endpoint_id: str) -> None:
    """Delete an endpoint, its deliveries and what was announced to it."""
    _require_admin(db, user)
    with db.write() as cur:
        cur.execute("DELETE FROM webhook_deliveries WHERE endpoint_id = ?", [endpoint_id])
        cur.execute("DELETE FROM webhook_announced WHERE key LIKE ?", [f"%:{endpoint_id}:%"])
        gone = cur.execute("DELETE FROM webhook_endpoints WHERE id = ? RETURNING url",
                           [endpoint_id]).fetchall()
        if gone:
            record(cur, Action.WEBHOOK_DELETE, endpoint_id, {"host": _host(gone[0][0])},
                   actor=user.username)


def send_test(db: Database, user: User, endpoint_id: str, *, now: datetime) -> int:
    """Put a ``ping`` event in the outbox for one endpoint; returns its delivery's id."""
    _require_admin(db, user)
    with db.write() as cur:
        found = [e for e in list_endpoints(cur) if e.id == endpoint_id]
        if not found:
            raise WebhookError("That endpoint no longer exists.")
        if found[0].disabled:
            raise WebhookError("Enable the endpoint first: a disabled endpoint gets nothing.")
        event = events.ping_event(endpoint_id, uuid.uuid4().hex, now)
        return deliveries.enqueue(cur, found[0].id, found[0].kind, event, now)
