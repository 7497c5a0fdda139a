"""Price corrections: add dated price rows, see what each priced, recompute a date range.

Rows are never overwritten: a correction is a new row with its own effective date.
Stored job and image costs do not move when a price is added, so reports stay
stable; an admin recomputes the affected range on purpose, and every change and
recompute leaves an audit row (who, when, what).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from lib import audit as audit_log
from lib.audit import Action
from lib.db import dialect
from lib.db.database import Database, one_row
from lib.jobs import store
from lib.money import costs

MAX_PRICE_USD = Decimal(1_000_000)  # per unit; the column is DECIMAL(18,10)


@dataclass(frozen=True)
class PriceRow:
    """One price with what it has priced so far."""

    id: int
    provider: str
    model: str
    variant: str
    unit: str
    usd_per_unit: Decimal
    effective_from: datetime
    source: str
    created_by: str
    created_at: datetime
    jobs: int
    images: int


def list_prices(db: Database) -> list[PriceRow]:
    """Every price row, newest first per provider/model, with the jobs and images it priced."""
    rows = db.fetchall(
        f"""
        WITH used AS (
            SELECT CAST(u.id AS BIGINT) AS price_id, count(DISTINCT j.id) AS jobs,
                   sum(j.n_images) AS images
            FROM (SELECT id, price_ids,
                         (SELECT count(*) FROM images i WHERE i.job_id = jobs.id) AS n_images
                  FROM jobs WHERE price_ids IS NOT NULL) j,
                 {dialect.json_array_rows(db.kind, "j.price_ids", "u(id)")}
            GROUP BY 1
        )
        SELECT p.id, p.provider, p.model, p.variant, p.unit, p.usd_per_unit, p.effective_from,
               p.source, p.created_by, p.created_at, coalesce(u.jobs, 0), coalesce(u.images, 0)
        FROM prices p LEFT JOIN used u ON u.price_id = p.id
        ORDER BY p.provider, p.model, p.unit, p.variant, p.effective_from DESC, p.id DESC
        """
    )
    return [PriceRow(price_id, provider, model, variant, unit, usd, since, source, by, at,
                     int(jobs), int(images))
            for price_id, provider, model, variant, unit, usd, since, source, by, at, jobs, images
            in rows]


def _audit(cur: Any, by: str, action: str, detail: dict[str, Any], now: datetime) -> None:
    cur.execute('INSERT INTO price_audit ("at", by_user, action, detail) VALUES (?, ?, ?, ?)',
                [now, by, action, json.dumps(detail, default=str)])


def add_price(db: Database, by: str, provider: str, model: str, variant: str, unit: str,
              usd_per_unit: Decimal, effective_from: date, source: str, now: datetime) -> int:
    """Add a price row (effective from the start of that UTC day); returns its id."""
    if not usd_per_unit.is_finite() or usd_per_unit > MAX_PRICE_USD:
        raise ValueError(f"A price is an amount up to ${MAX_PRICE_USD:,} per unit.")
    if usd_per_unit < 0:
        raise ValueError("A price cannot be negative.")
    if not source.strip():
        raise ValueError("Say where the price comes from (a source), e.g. the pricing page.")
    if not (provider.strip() and model.strip() and unit.strip() and variant.strip()):
        raise ValueError("Provider, model (or *), variant (or *) and unit are all needed.")
    with db.write() as cur:
        row = one_row(cur.execute(
            "INSERT INTO prices (provider, model, variant, unit, usd_per_unit, effective_from, "
            "source, created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?) RETURNING id",
            [provider, model, variant, unit, usd_per_unit, effective_from, source.strip(), by,
             now]))
        _audit(cur, by, "add_price", {"id": row[0], "provider": provider, "model": model,
                                      "variant": variant, "unit": unit,
                                      "usd_per_unit": str(usd_per_unit),
                                      "effective_from": effective_from, "source": source}, now)
        audit_log.record(cur, Action.PRICE_ADD, f"{provider}/{model}", {
            "price_id": row[0], "variant": variant, "unit": unit,
            "usd_per_unit": str(usd_per_unit), "effective_from": effective_from,
            "source": source}, at=now, actor=by)
    return int(row[0])


@dataclass(frozen=True)
class Recompute:
    """What a recompute did."""

    jobs: int  # jobs with usage in the range
    changed: int  # of which the cost changed
    old_total: Decimal
    new_total: Decimal
    unpriced: int  # jobs that now have no price for some unit (cost unknown)


def recompute(db: Database, by: str, start: date, end: date, now: datetime) -> Recompute:
    """Re-price every job created from ``start`` to ``end`` (inclusive) at today's table."""
    lo = datetime.combine(start, datetime.min.time())
    hi = datetime.combine(end, datetime.min.time()) + timedelta(days=1)
    rows = db.fetchall(
        "SELECT id, provider, model, usage, coalesce(started_at, created_at), width, height, "
        "quality, cost_usd FROM jobs WHERE usage IS NOT NULL AND created_at >= ? "
        "AND created_at < ? ORDER BY created_at", [lo, hi])
    changes: list[tuple[str, costs.Cost]] = []
    old_total = new_total = Decimal(0)
    unpriced = 0
    for job_id, provider, model, usage, at, w, h, quality, old in rows:
        size = f"{w}x{h}" if w and h else None
        cost = costs.cost_of(db, provider, model, json.loads(usage), at, size, quality)
        old_total += old or 0
        new_total += cost.total or 0
        unpriced += cost.total is None
        if cost.total != old:
            changes.append((job_id, cost))
    with db.write() as cur:
        for job_id, cost in changes:
            store.reprice(cur, job_id, cost.total, cost.price_ids)
            ids = [r[0] for r in cur.execute(
                "SELECT id FROM images WHERE job_id = ? ORDER BY idx", [job_id]).fetchall()]
            deleted = int((cur.execute("SELECT coalesce(images_deleted, 0) FROM jobs "
                                       "WHERE id = ?", [job_id]).fetchone() or (0,))[0])
            # Split over every image made: a deleted image keeps its share on the job.
            parts = costs.split(cost.total, len(ids) + deleted)
            for image_id, part in zip(ids, parts, strict=False):
                cur.execute("UPDATE images SET cost_usd = ? WHERE id = ?", [part, image_id])
            if deleted:
                gone = parts[len(ids):]
                known = sum((g for g in gone if g is not None), Decimal(0))
                store.set_deleted_cost(cur, job_id, None if None in gone else known)
        result = Recompute(len(rows), len(changes), old_total, new_total, unpriced)
        _audit(cur, by, "recompute", {"from": start, "to": end, "jobs": result.jobs,
                                      "changed": result.changed, "old_total": str(old_total),
                                      "new_total": str(new_total)}, now)
        audit_log.record(cur, Action.PRICE_RECOMPUTE, f"{start}..{end}", {
            "jobs": result.jobs, "changed": result.changed, "old_total": str(old_total),
            "new_total": str(new_total)}, at=now, actor=by)
    return result


def audit(db: Database, limit: int = 100) -> list[dict[str, Any]]:
    """The newest audit rows first."""
    return db.dicts('SELECT "at", by_user, action, detail FROM price_audit '
                    'ORDER BY id DESC LIMIT ?', [limit])
