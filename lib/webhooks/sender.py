"""Sends the deliveries that are due, one attempt each, and records how it went.

An attempt is delivered on a 2xx answer only. Anything else is tried again later, on the
schedule of :class:`Policy` (5 s, 30 s, 2 min, 10 min, 1 h, 3 h, 3 h: eight attempts over
about seven hours), each wait stretched or shrunk by up to a fifth at random (jitter, so many
failed deliveries do not come back at once); a 429 or 503 with ``Retry-After`` waits that long
instead (at most a day). After the last attempt the delivery is ``gave_up``. A ``410 Gone``
(or a 404 from a Slack URL: the webhook was removed) disables the endpoint at once.

Attempts are signed afresh (``webhook-timestamp`` is the attempt's time, on the injected
clock) over the stored body, with the same ``webhook-id``. An endpoint that fails is not sent
its other due deliveries in the same round: it is not hammered while it is down. Secrets and
Slack URLs never reach the log: endpoints appear there by id and masked URL.
"""

from __future__ import annotations

import calendar
import logging
import random
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from lib.core.context import Services
from lib.db.database import Database
from lib.webhooks import deliveries, signing, targets
from lib.webhooks.deliveries import DELIVERED, FAILED, GAVE_UP, PENDING

log = logging.getLogger(__name__)

MAX_RETRY_AFTER_S = 24 * 3600.0


@dataclass(frozen=True)
class Policy:
    """How deliveries are sent: the retry schedule, jitter, timeout, and the dispatcher's tick."""

    schedule: tuple[float, ...] = (5, 30, 120, 600, 3600, 10800, 10800)  # waits between tries
    jitter: float = 0.2  # each wait times a random factor in [1 - jitter, 1 + jitter]
    timeout_s: float = 10.0  # per connect and per read
    tick_s: float = 2.0  # the dispatcher looks this often (and when woken)
    per_round: int = 50  # deliveries sent per tick at most
    ca_bundle: str | None = None  # tests: trust this CA (default: requests' certifi bundle)

    @property
    def max_attempts(self) -> int:
        """Attempts before giving up: the first, then one after each wait."""
        return len(self.schedule) + 1

    def wait_s(self, attempts: int, rng: random.Random) -> float | None:
        """Seconds before the next attempt after ``attempts`` failed ones; None: give up."""
        if attempts >= self.max_attempts:
            return None
        base = self.schedule[attempts - 1]
        return base * (1 + self.jitter * (2 * rng.random() - 1))


def unix(at: datetime) -> int:
    """A naive UTC time in unix seconds (the ``webhook-timestamp``)."""
    return calendar.timegm(at.utctimetuple())


@dataclass(frozen=True)
class _Due:
    id: int
    endpoint_id: str
    webhook_id: str
    event_type: str
    payload: str
    attempts: int
    url: str
    kind: str
    secret: str | None
    next_attempt_at: datetime


def due(db: Database, now: datetime, limit: int) -> list[_Due]:
    """Pending deliveries whose time has come, to enabled endpoints, oldest first."""
    rows = db.fetchall(
        "SELECT d.id, d.endpoint_id, d.webhook_id, d.event_type, d.payload, d.attempts, e.url, "
        "e.kind, e.secret, d.next_attempt_at FROM webhook_deliveries d JOIN webhook_endpoints e "
        "ON e.id = d.endpoint_id WHERE d.status = ? AND NOT e.disabled "
        "AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.id LIMIT ?",
        [PENDING, now, limit])
    return [_Due(*r) for r in rows]


def send_due(svc: Services, policy: Policy, rng: random.Random,
             stopping: threading.Event | None = None) -> int:
    """One round: send what is due; returns how many attempts were made. ``stopping`` ends
    the round early when the process shuts down."""
    db = svc.db
    failed: set[str] = set()
    made = 0
    for item in due(db, svc.clock.now(), policy.per_round):
        if stopping is not None and stopping.is_set():
            break
        if item.endpoint_id in failed or not take(db, policy, item, svc.clock.now()):
            continue  # (not taken: another process's dispatcher is sending it)
        ok = attempt(svc, policy, rng, item)
        made += 1
        if not ok:
            failed.add(item.endpoint_id)
    return made


def take(db: Database, policy: Policy, item: _Due, now: datetime) -> bool:
    """Hold a due delivery for this process while it is sent (its next attempt moved past
    the send's timeout); False when another process's dispatcher took it first. A process
    killed mid-send leaves it to be sent again when the hold runs out."""
    with db.write() as cur:
        return bool(cur.execute(
            "UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ? AND status = ? "
            "AND next_attempt_at = ? RETURNING id",
            [now + timedelta(seconds=3 * policy.timeout_s), item.id, PENDING,
             item.next_attempt_at]).fetchall())


def attempt(svc: Services, policy: Policy, rng: random.Random, item: _Due) -> bool:
    """Send one delivery once and record the outcome; True when delivered."""
    now = svc.clock.now()
    body = item.payload.encode("utf-8")
    headers = signing.headers(item.secret, item.webhook_id, unix(now), body)
    answer = targets.post(item.url, body, headers, timeout_s=policy.timeout_s, now=now,
                          ca_bundle=policy.ca_bundle)
    record(svc.db, policy, rng, item, answer, svc.clock.now())
    shown = targets.masked(item.url, item.kind)
    if answer.ok:
        log.info("webhook %s (%s) delivered to endpoint %s at %s", item.event_type,
                 item.webhook_id, item.endpoint_id, shown)
    else:
        log.warning("webhook %s (%s) to endpoint %s at %s: %s", item.event_type,
                    item.webhook_id, item.endpoint_id, shown, answer.error)
    return answer.ok


def _gone(kind: str, status: int | None) -> bool:
    """The receiver says the endpoint no longer exists."""
    return status == 410 or (kind == "slack" and status == 404)


def record(db: Database, policy: Policy, rng: random.Random, item: _Due,
           answer: targets.Answer, now: datetime) -> str:
    """Write one attempt's outcome to the delivery and its endpoint; returns the new status."""
    tries = item.attempts + 1
    error = None if answer.error is None else answer.error[:300]
    shown_status = f"HTTP {answer.status}" if answer.status is not None else "no answer"
    next_at = now
    if answer.ok:
        status = DELIVERED
    elif _gone(item.kind, answer.status):
        status = FAILED
        error = f"{error}; the endpoint is gone, so it was disabled"
    else:
        wait = policy.wait_s(tries, rng)
        if wait is not None and answer.retry_after_s is not None:
            wait = min(max(answer.retry_after_s, 1.0), MAX_RETRY_AFTER_S)
        status = PENDING if wait is not None else GAVE_UP
        next_at = now + timedelta(seconds=wait or 0)
        if wait is None:
            error = f"{error}; gave up after {tries} attempts"
    with db.write() as cur:
        cur.execute(
            "UPDATE webhook_deliveries SET attempts = ?, status = ?, next_attempt_at = ?, "
            "last_status_code = ?, last_error = ?, delivered_at = ? WHERE id = ? "
            "AND status = ?",  # not if its endpoint was disabled or deleted meanwhile
            [tries, status, next_at, answer.status, error, now if answer.ok else None,
             item.id, PENDING])
        cur.execute(
            "UPDATE webhook_endpoints SET last_status = ?, last_error = ?, "
            "last_delivery_at = ? WHERE id = ?",
            [shown_status, error, now, item.endpoint_id])
        if status == FAILED:
            cur.execute("UPDATE webhook_endpoints SET disabled = true WHERE id = ?",
                        [item.endpoint_id])
            deliveries.end_pending(cur, item.endpoint_id,
                                   f"endpoint disabled: it answered HTTP {answer.status}")
    return status
