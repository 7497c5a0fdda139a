"""What a webhook says: the event types, the thin payloads, and the Slack text of each.

A Standard Webhooks body is minified JSON, built once when the event is put in the outbox and
sent byte for byte on every attempt::

    {"type":"job.succeeded","timestamp":"2026-11-01T12:00:05Z","data":{"id":"…","status":…}}

Payloads are thin: ids, statuses, counts, costs as decimal strings ("0.04"), and a path to
fetch the rest (``/api/v1/jobs/{id}``). A prompt is never sent (it is private to its owner),
nor a provider's error text (it can quote the prompt); the error's type is.

A Slack endpoint gets ``{"text": "…"}`` instead: one readable line (Slack mrkdwn), the names
in it escaped so that a username or a model id cannot draw a link or a mention.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from lib.core.fmt import amount, money, plural

JOB_SUCCEEDED, JOB_FAILED = "job.succeeded", "job.failed"
BATCH_FINISHED = "batch.finished"
BUDGET_THRESHOLD, BUDGET_EXCEEDED = "budget.threshold", "budget.exceeded"
PRICE_CHANGED = "price.changed"
PING = "ping"  # the "Send test event" button's; not subscribable

EVENTS: dict[str, str] = {
    JOB_SUCCEEDED: "a job finished and its images are stored",
    JOB_FAILED: "a job failed (after its automatic retries)",
    BATCH_FINISHED: "every job of a batch (Variations) has ended",
    BUDGET_THRESHOLD: "a monthly budget passed its warning threshold (once a month)",
    BUDGET_EXCEEDED: "a monthly budget reached its limit (once a month)",
    PRICE_CHANGED: "an admin added a price",
}


@dataclass(frozen=True)
class Event:
    """One thing that happened, ready to be put in the outbox for each endpoint that wants it.

    ``key`` names the occurrence ("job.succeeded:<job id>"); the webhook-id is derived from
    it, so the same occurrence always carries the same id (a receiver's idempotency key)."""

    type: str
    key: str
    at: datetime
    data: dict[str, Any]

    @property
    def webhook_id(self) -> str:
        """``msg_`` and 24 hex digits of the key's SHA-256: the same on every attempt."""
        return "msg_" + hashlib.sha256(self.key.encode("utf-8")).hexdigest()[:24]


def iso(at: datetime) -> str:
    """A naive UTC time as ISO 8601 with its zone: ``2026-11-01T12:00:05Z``."""
    return at.replace(microsecond=0).isoformat() + "Z"


def decimal_text(value: object) -> str | None:
    """A cost as a decimal string without exponent or trailing zeros ("0.04"); None: unknown."""
    return None if value is None else amount(value)


def standard_body(event: Event) -> str:
    """The Standard Webhooks body: minified JSON, ASCII only, so its bytes are its text."""
    return json.dumps({"type": event.type, "timestamp": iso(event.at), "data": event.data},
                      separators=(",", ":"), sort_keys=False)


def slack_body(event: Event) -> str:
    """A Slack incoming-webhook body: ``{"text": …}``, readable in a channel."""
    return json.dumps({"text": slack_text(event)}, separators=(",", ":"))


def body_for(kind: str, event: Event) -> str:
    """The body an endpoint of this kind gets for the event."""
    return slack_body(event) if kind == "slack" else standard_body(event)


# --------------------------------------------------------------------------- payloads


def job_event(kind: str, job: dict[str, Any], at: datetime) -> Event:
    """``job.succeeded`` / ``job.failed`` from a job row (the columns read by the outbox)."""
    data = {
        "id": job["id"], "status": job["status"], "user": job["user_id"],
        "provider": job["provider"], "model": job["model"], "batch_id": job["batch_id"],
        "images": int(job["images"] or 0), "cost_usd": decimal_text(job["cost_usd"]),
        "error_type": job["error_type"], "duration_ms": job["duration_ms"],
        "url": f"/api/v1/jobs/{job['id']}",
    }
    return Event(kind, f"{kind}:{job['id']}", at, data)


def batch_event(batch_id: str, counts: dict[str, int], cost: Decimal | None,
                job_ids: list[str], at: datetime) -> Event:
    """``batch.finished``: how its jobs ended, what they cost, their ids (at most 100)."""
    data = {"id": batch_id, "jobs": sum(counts.values()),
            "succeeded": counts.get("succeeded", 0), "failed": counts.get("failed", 0),
            "cancelled": counts.get("cancelled", 0), "cost_usd": decimal_text(cost),
            "job_ids": job_ids[:100]}
    return Event(BATCH_FINISHED, f"{BATCH_FINISHED}:{batch_id}", at, data)


def budget_event(kind: str, scope: str, subject: str, month: str, limit: Decimal,
                 used: Decimal, fraction: float, threshold: float, at: datetime,
                 endpoint_id: str) -> Event:
    """``budget.threshold`` / ``budget.exceeded`` for one budget and month (per endpoint, as
    each endpoint may watch its own threshold)."""
    data = {"scope": scope, "subject": subject, "month": month,
            "limit_usd": decimal_text(limit), "used_usd": decimal_text(used),
            "fraction": round(fraction, 4) if fraction != float("inf") else None,
            "threshold": threshold}
    key = f"{kind}:{endpoint_id}:{scope}:{subject}:{month}:{round(threshold * 100)}"
    return Event(kind, key, at, data)


def price_event(price: dict[str, Any], at: datetime) -> Event:
    """``price.changed``: the new price row (an admin's correction or a new model's price)."""
    data = {"price_id": price.get("id"), "provider": price.get("provider"),
            "model": price.get("model"), "variant": price.get("variant"),
            "unit": price.get("unit"), "usd_per_unit": decimal_text(price.get("usd_per_unit")),
            "effective_from": str(price.get("effective_from"))}
    return Event(PRICE_CHANGED, f"{PRICE_CHANGED}:{price.get('id')}", at, data)


def ping_event(endpoint_id: str, nonce: str, at: datetime) -> Event:
    """The test event an admin sends from Admin → Integrations."""
    return Event(PING, f"{PING}:{endpoint_id}:{nonce}", at,
                 {"endpoint_id": endpoint_id, "message": "A test event from Promptboard."})


# --------------------------------------------------------------------------- Slack text


def slack_escape(text: object) -> str:
    """Slack's three control characters escaped: no link, mention or markup from data."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _budget_name(d: dict[str, Any]) -> str:
    return ("The team's monthly budget" if d["scope"] == "team"
            else f"{slack_escape(d['subject'])}'s monthly budget")


def _figures(d: dict[str, Any]) -> str:
    return (f"{money(d['used_usd'])} of {money(d['limit_usd'])} used in {d['month']}"
            + (f" ({d['fraction']:.0%})" if d["fraction"] is not None else ""))


def slack_text(event: Event) -> str:
    """One line for a channel."""
    d, e = event.data, slack_escape
    if event.type in (JOB_SUCCEEDED, JOB_FAILED):
        who = f"`{e(d['id'])}` by {e(d['user'])} ({e(d['provider'])} {e(d['model'])})"
        if event.type == JOB_SUCCEEDED:
            return (f":white_check_mark: Job {who} succeeded: "
                    f"{plural(d['images'], 'image')}, {money(d['cost_usd'])}.")
        return f":x: Job {who} failed ({e(d['error_type'] or 'error')})."
    if event.type == BATCH_FINISHED:
        parts = [f"{d[k]} {k}" for k in ("succeeded", "failed", "cancelled") if d[k]]
        return (f":package: Batch `{e(d['id'])}` finished: {', '.join(parts) or 'no jobs'} "
                f"of {plural(d['jobs'], 'job')}, {money(d['cost_usd'])}.")
    if event.type == BUDGET_THRESHOLD:
        return (f":warning: {_budget_name(d)} passed {d['threshold']:.0%}: {_figures(d)}.")
    if event.type == BUDGET_EXCEEDED:
        return f":rotating_light: {_budget_name(d)} reached its limit: {_figures(d)}."
    if event.type == PRICE_CHANGED:
        return (f":label: New price for {e(d['provider'])} {e(d['model'])} "
                f"({e(d['variant'])}, per {e(d['unit'])}): ${e(d['usd_per_unit'])} "
                f"from {e(d['effective_from'])}.")
    return ":wave: A test message from Promptboard: this channel is connected."
