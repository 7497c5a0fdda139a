"""What to announce: reads what happened since the last look and fills the outbox.

Nothing in the job store or the price code changes for webhooks: the outbox polls the tables
they already write, after a cursor kept in ``webhook_cursors`` (a ``job_events`` or
``price_audit`` id), and turns what it finds into delivery rows, one per endpoint that wants
the event, in the same transaction that moves the cursor (so a crash neither loses nor doubles
an event)::

    job_events  running → succeeded / failed   job.succeeded / job.failed  (demo jobs: none)
                any job of a batch ending       batch.finished, once, when all its jobs ended
    price_audit add_price                       price.changed
    budgets     this month's use ≥ a threshold  budget.threshold  once per endpoint, budget,
                this month's use ≥ the limit    budget.exceeded   month (and threshold)

A budget's use is the figure Admin → Budgets shows (lib.money.budgets: what finished jobs cost
plus what queued and running jobs reserve); it is looked at again only after a write to the
jobs, the budgets or the endpoints. What was announced once only is kept in
``webhook_announced`` (keys as in :class:`lib.webhooks.events.Event`). A new endpoint hears
about what happens from then on; if a budget is already past its threshold this month, it is
told once.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from lib.core.context import Services
from lib.db.database import Cursor
from lib.jobs.model import FAILED, SUCCEEDED, TERMINAL
from lib.money import budgets
from lib.webhooks import deliveries, events
from lib.webhooks.endpoints import Endpoint, list_endpoints

CHUNK = 1000  # events read per look
_JOB = ("id", "status", "user_id", "provider", "model", "batch_id", "images", "cost_usd",
        "error_type", "duration_ms")
_BUDGET_EVENTS = (events.BUDGET_THRESHOLD, events.BUDGET_EXCEEDED)


def fan_out(cur: Cursor, endpoints: list[Endpoint], event: events.Event, now: datetime) -> int:
    """One delivery of ``event`` per endpoint that wants it; returns how many."""
    made = 0
    for ep in endpoints:
        if ep.wants(event.type):
            deliveries.enqueue(cur, ep.id, ep.kind, event, now)
            made += 1
    return made


def announce_once(cur: Cursor, key: str, now: datetime) -> bool:
    """Record that ``key`` was announced; False if it already was."""
    if cur.execute("SELECT 1 FROM webhook_announced WHERE key = ?", [key]).fetchone():
        return False
    cur.execute('INSERT INTO webhook_announced (key, "at") VALUES (?, ?)', [key, now])
    return True


def _cursor(cur: Cursor, name: str) -> int:
    row = cur.execute("SELECT position FROM webhook_cursors WHERE name = ?", [name]).fetchone()
    return int(row[0]) if row else 0


def _move(cur: Cursor, name: str, position: int) -> None:
    cur.execute("UPDATE webhook_cursors SET position = ? WHERE name = ?", [position, name])


class Outbox:
    """Looks at the tables after the cursors; one per dispatcher."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._budgets_seen: tuple[tuple[int, ...], str] | None = None

    def scan(self) -> int:
        """Fill the outbox with what happened since the last look; returns deliveries made."""
        now = self.svc.clock.now()
        return self.jobs(now) + self.prices(now) + self.budgets(now)

    def _behind(self, name: str, table: str) -> bool:
        db = self.svc.db
        newest = db.scalar(f"SELECT max(id) FROM {table}")
        mark = db.scalar("SELECT position FROM webhook_cursors WHERE name = ?", [name])
        return newest is not None and int(newest) > int(mark or 0)

    # -- jobs and batches ----------------------------------------------------------------

    def jobs(self, now: datetime) -> int:
        """Job and batch events from the job_events rows after the cursor."""
        if not self._behind("job_events", "job_events"):
            return 0  # the common case: no write at all
        made = 0
        with self.svc.db.write() as cur:
            endpoints = list_endpoints(cur)
            cols = ", ".join(f"j.{c}" for c in _JOB)
            rows = cur.execute(
                f'SELECT e.id, e.from_status, e.to_status, e."at", coalesce(j.demo, true), '
                f"{cols} FROM job_events e LEFT JOIN jobs j ON j.id = e.job_id "
                "WHERE e.id > ? ORDER BY e.id LIMIT ?",
                [_cursor(cur, "job_events"), CHUNK]).fetchall()
            ended: dict[str, datetime] = {}
            for _id, frm, to, at, demo, *values in rows:
                if demo or to not in TERMINAL or frm == to:
                    continue
                job = dict(zip(_JOB, values, strict=True))
                if to in (SUCCEEDED, FAILED):
                    kind = events.JOB_SUCCEEDED if to == SUCCEEDED else events.JOB_FAILED
                    made += fan_out(cur, endpoints, events.job_event(kind, job, at), now)
                if job["batch_id"]:
                    ended[str(job["batch_id"])] = at
            for batch_id, at in ended.items():
                made += self._batch(cur, endpoints, batch_id, at, now)
            if rows:
                _move(cur, "job_events", int(rows[-1][0]))
        return made

    def _batch(self, cur: Cursor, endpoints: list[Endpoint], batch_id: str, at: datetime,
               now: datetime) -> int:
        """batch.finished once every job of the batch has ended (and someone listens)."""
        if not any(ep.wants(events.BATCH_FINISHED) for ep in endpoints):
            return 0
        jobs = cur.execute("SELECT id, status, cost_usd FROM jobs WHERE batch_id = ? "
                           "ORDER BY created_at, id", [batch_id]).fetchall()
        if not jobs or any(status not in TERMINAL for _, status, _ in jobs):
            return 0
        counts: dict[str, int] = {}
        for _, status, _ in jobs:
            counts[status] = counts.get(status, 0) + 1
        unknown = any(status == SUCCEEDED and cost is None for _, status, cost in jobs)
        cost = None if unknown else sum((Decimal(c) for _, _, c in jobs if c is not None),
                                        Decimal(0))
        event = events.batch_event(batch_id, counts, cost, [str(j[0]) for j in jobs], at)
        if not announce_once(cur, event.key, now):
            return 0
        return fan_out(cur, endpoints, event, now)

    # -- prices ---------------------------------------------------------------------------

    def prices(self, now: datetime) -> int:
        """price.changed from the price_audit rows after the cursor (added prices only)."""
        if not self._behind("price_audit", "price_audit"):
            return 0
        made = 0
        with self.svc.db.write() as cur:
            endpoints = list_endpoints(cur)
            rows = cur.execute(
                'SELECT id, "at", action, detail FROM price_audit WHERE id > ? ORDER BY id '
                "LIMIT ?", [_cursor(cur, "price_audit"), CHUNK]).fetchall()
            for _id, at, action, detail in rows:
                if action != "add_price":
                    continue  # a recompute changes costs, not prices
                try:
                    price: dict[str, Any] = json.loads(detail)
                except ValueError:
                    continue
                made += fan_out(cur, endpoints, events.price_event(price, at), now)
            if rows:
                _move(cur, "price_audit", int(rows[-1][0]))
        return made

    # -- budgets --------------------------------------------------------------------------

    def budgets(self, now: datetime) -> int:
        """budget.threshold / budget.exceeded, each once per endpoint, budget and month."""
        db = self.svc.db
        listening = [ep for ep in list_endpoints(db)
                     if any(ep.wants(e) for e in _BUDGET_EVENTS)]
        if not listening:
            return 0
        month = now.strftime("%Y-%m")
        seen = (db.tables_version("jobs", "budgets", "webhook_endpoints"), month)
        if seen == self._budgets_seen:
            return 0  # nothing was spent, reserved or changed since the last look
        due: list[tuple[Endpoint, events.Event]] = []
        for lim in budgets.all_budgets(db, now):
            for ep in listening:
                threshold = ep.threshold if ep.threshold is not None else lim.warn_fraction
                crossed = [(events.BUDGET_THRESHOLD, threshold), (events.BUDGET_EXCEEDED, 1.0)]
                for kind, level in crossed:
                    if ep.wants(kind) and lim.fraction >= level:
                        due.append((ep, events.budget_event(
                            kind, lim.scope, lim.subject, month, lim.limit_usd, lim.used_usd,
                            lim.fraction, level, now, ep.id)))
        known = {str(r[0]) for r in db.fetchall(
            "SELECT key FROM webhook_announced WHERE key IN (SELECT unnest(?::VARCHAR[]))",
            [[ev.key for _, ev in due]])} if due else set()
        fresh = [(ep, ev) for ep, ev in due if ev.key not in known]
        made = 0
        if fresh:
            with db.write() as cur:
                for ep, ev in fresh:
                    if announce_once(cur, ev.key, now):
                        deliveries.enqueue(cur, ep.id, ep.kind, ev, now)
                        made += 1
        self._budgets_seen = seen
        return made
