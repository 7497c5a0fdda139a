"""Money: the dated price table, cost from raw usage, estimates before a run.

A price row says: for ``provider``/``model`` (``*`` = any model), usage unit
``unit`` (a key of the provider's raw usage, e.g. ``images``,
``output_image_tokens``, ``credits``) in ``variant`` (``WxH/quality``,
``WxH``, ``quality`` or ``*``) costs ``usd_per_unit`` from ``effective_from``
on. Rows are never overwritten: a correction is a new row with a later date.

Cost of a generation = sum over its usage units of amount x the price in
effect at its time, most specific model and variant first. A unit with no
price makes the cost unknown (NULL), never a silent zero. The unit ``usd`` (a
gateway's own figure in dollars, reported usage) is priced 1:1 without a row.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from lib.core.clock import utcnow
from lib.db.database import Database

if TYPE_CHECKING:
    from lib.providers.base import GenerationRequest, Provider

SEED_DIR = Path(__file__).with_name("prices")  # one CSV per provider
QUANT = Decimal("0.00000001")  # costs are stored to 1e-8 USD
USD = "usd"  # a usage unit that is already dollars: priced 1:1, needs no price row


@dataclass(frozen=True)
class Cost:
    """A computed cost: the total (None when some unit had no price) and its lines."""

    total: Decimal | None
    lines: tuple[tuple[str, float, Decimal], ...] = ()  # (unit, amount, usd per unit)
    unpriced: tuple[str, ...] = field(default_factory=tuple)
    price_ids: tuple[int, ...] = ()  # the price rows used, recorded on the job


def variants_for(size: str | None, quality: str | None) -> list[str]:
    """Variant keys from most to least specific."""
    out: list[str] = []
    if size and quality:
        out.append(f"{size}/{quality}")
    if size:
        out.append(size)
    if quality:
        out.append(quality)
    out.append("*")
    return out


def seed_rows(folder: Path = SEED_DIR) -> list[dict[str, str]]:
    """Every shipped price row, from lib/money/prices/*.csv."""
    rows: list[dict[str, str]] = []
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            rows.extend(csv.DictReader(fh))
    return rows


def seed_prices(db: Database, folder: Path = SEED_DIR) -> int:
    """Insert the shipped price rows that are not in the table yet; return how many."""
    rows = seed_rows(folder)
    added = 0
    now = utcnow()
    with db.write() as cur:
        for r in rows:
            exists = cur.execute(
                "SELECT 1 FROM prices WHERE provider=? AND model=? AND variant=? AND unit=? "
                "AND effective_from=?",
                [r["provider"], r["model"], r["variant"], r["unit"], r["effective_from"]],
            ).fetchone()
            if exists:
                continue
            cur.execute(
                "INSERT INTO prices (provider, model, variant, unit, usd_per_unit, "
                "effective_from, source, created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    r["provider"],
                    r["model"],
                    r["variant"],
                    r["unit"],
                    Decimal(r["usd_per_unit"]),
                    r["effective_from"],
                    r["source"],
                    "seed",
                    now,
                ],
            )
            added += 1
    return added


PriceRow = tuple[datetime, str, str, Decimal, int]  # since, model, variant, usd per unit, id
PriceTable = dict[tuple[str, str], list[PriceRow]]  # (provider, unit) -> rows, newest first


def _price_table(db: Database) -> PriceTable:
    """The whole (small) price table by (provider, unit), newest first; cached per write."""

    def load() -> PriceTable:
        table: PriceTable = {}
        for provider, unit, model, variant, usd, row_id, since in db.fetchall(
            "SELECT provider, unit, model, variant, usd_per_unit, id, effective_from FROM prices "
            "ORDER BY effective_from DESC, id DESC"
        ):
            table.setdefault((provider, unit), []).append((since, model, variant, usd, row_id))
        return table

    return db.cached("costs.prices", load, ("prices",))


def unit_price(
    db: Database, provider: str, model: str, unit: str, variants: list[str], at: datetime
) -> tuple[Decimal, int] | None:
    """(price, row id) of one unit in effect at ``at``: exact model before ``*``, then variant."""
    best: tuple[int, int] | None = None
    price: tuple[Decimal, int] | None = None
    for since, row_model, row_variant, usd, row_id in _price_table(db).get((provider, unit), ()):
        if since > at or row_model not in (model, "*") or row_variant not in variants:
            continue
        rank = (0 if row_model == model else 1, variants.index(row_variant))
        if best is None or rank < best:  # first hit per rank is the newest
            best, price = rank, (usd, row_id)
    return price


def cost_of(
    db: Database,
    provider: str,
    model: str,
    usage: dict[str, float],
    at: datetime,
    size: str | None = None,
    quality: str | None = None,
) -> Cost:
    """Cost of raw usage at time ``at``."""
    variants = variants_for(size, quality)
    lines: list[tuple[str, float, Decimal]] = []
    unpriced: list[str] = []
    ids: list[int] = []
    total = Decimal(0)
    for unit, amount in sorted(usage.items()):
        if not amount:
            continue
        if unit == USD:
            lines.append((unit, float(amount), Decimal(1)))
            total += Decimal(str(amount))
            continue
        found = unit_price(db, provider, model, unit, variants, at)
        if found is None:
            unpriced.append(unit)
            continue
        lines.append((unit, float(amount), found[0]))
        ids.append(found[1])
        total += Decimal(str(amount)) * found[0]
    if unpriced:
        return Cost(None, tuple(lines), tuple(unpriced), tuple(ids))
    return Cost(total.quantize(QUANT, rounding=ROUND_HALF_EVEN), tuple(lines), (), tuple(ids))


def split(total: Decimal | None, n: int) -> list[Decimal | None]:
    """Split a job's cost over its n images so that the parts add up exactly."""
    if n <= 0:
        return []
    if total is None:
        return [None] * n
    part = (total / n).quantize(QUANT, rounding=ROUND_HALF_EVEN)
    parts: list[Decimal | None] = [part] * (n - 1)
    parts.append(total - part * (n - 1))
    return parts


def estimate(
    db: Database,
    provider_id: str,
    provider: Provider,
    req: GenerationRequest,
    at: datetime,
) -> Decimal | None:
    """What a request will probably cost, from the provider's typical usage and today's prices."""
    usage = provider.typical_usage(req)
    return cost_of(db, provider_id, req.model, usage, at, req.size, req.quality).total
