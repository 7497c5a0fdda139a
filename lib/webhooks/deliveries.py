"""The outbox: one ``webhook_deliveries`` row per event and endpoint, until it is delivered.

A row holds the body exactly as it is sent (so every attempt signs the same bytes) and the
webhook-id that stays the same across attempts. Its status::

    pending ──2xx──▶ delivered
       │ └──410 Gone (or 404 from a Slack URL): the endpoint is disabled──▶ failed
       │ └──disabled or deleted endpoint──▶ failed
       └──no 2xx after the last attempt (lib.webhooks.sender.Policy)──▶ gave_up

Rows live in the database, so a delivery outlives a restart: the next process's dispatcher
sends what is still pending. Finished rows are kept for :data:`KEEP_DAYS`, for the
Integrations tab's list, then pruned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lib.db.database import Cursor, Database, one_row
from lib.webhooks import events

PENDING, DELIVERED, FAILED, GAVE_UP = "pending", "delivered", "failed", "gave_up"
KEEP_DAYS = 30


@dataclass(frozen=True)
class Delivery:
    """One row of the outbox, as the Integrations tab lists it."""

    id: int
    endpoint_id: str
    webhook_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def enqueue(cur: Cursor, endpoint_id: str, kind: str, event: events.Event,
            now: datetime) -> int:
    """Add one delivery of ``event`` to the endpoint, due now; returns its id."""
    row = one_row(cur.execute(
        "INSERT INTO webhook_deliveries (endpoint_id, webhook_id, event_type, payload, "
        "attempts, next_attempt_at, status, created_at) VALUES (?,?,?,?,0,?,?,?) RETURNING id",
        [endpoint_id, event.webhook_id, event.type, events.body_for(kind, event), now,
         PENDING, now]))
    return int(row[0])


def end_pending(cur: Cursor, endpoint_id: str, why: str) -> None:
    """End an endpoint's pending deliveries as failed (it was disabled or is gone)."""
    cur.execute("UPDATE webhook_deliveries SET status = ?, last_error = ? "
                "WHERE endpoint_id = ? AND status = ?", [FAILED, why[:300], endpoint_id,
                                                          PENDING])


def recent(db: Database, limit: int = 50) -> list[Delivery]:
    """The newest deliveries first."""
    rows = db.fetchall(
        "SELECT id, endpoint_id, webhook_id, event_type, status, attempts, next_attempt_at, "
        "last_status_code, last_error, created_at, delivered_at FROM webhook_deliveries "
        "ORDER BY id DESC LIMIT ?", [limit])
    return [Delivery(*r) for r in rows]


def payload(db: Database, delivery_id: int) -> str | None:
    """The body a delivery sends (for tests and a curious admin)."""
    found = db.scalar("SELECT payload FROM webhook_deliveries WHERE id = ?", [delivery_id])
    return None if found is None else str(found)


def prune(db: Database, now: datetime) -> int:
    """Delete finished deliveries older than KEEP_DAYS; returns how many."""
    cutoff = now - timedelta(days=KEEP_DAYS)
    where = "FROM webhook_deliveries WHERE status <> ? AND created_at < ?"
    old = int(db.scalar(f"SELECT count(*) {where}", [PENDING, cutoff]) or 0)
    if old:  # no write otherwise: a write invalidates the pages' read caches
        with db.write() as cur:
            cur.execute(f"DELETE {where}", [PENDING, cutoff])
    return old
