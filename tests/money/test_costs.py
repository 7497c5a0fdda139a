"""The dated price table: lookup order, effective dates, unknown prices, exact splits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest

from lib.core import config
from lib.core.clock import utcnow
from lib.db.database import Database
from lib.money import costs


@pytest.fixture
def db() -> Iterator[Database]:
    database = Database(config.load().db_path)
    yield database
    database.close()


def add(db: Database, provider: str, model: str, variant: str, unit: str, usd: str,
        since: str) -> None:
    with db.write() as cur:
        cur.execute(
            "INSERT INTO prices (provider, model, variant, unit, usd_per_unit, effective_from,"
            " source, created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            [provider, model, variant, unit, Decimal(usd), since, "test", "test", utcnow()],
        )


def test_seeding_is_idempotent_and_prices_the_sandbox_at_zero(db: Database) -> None:
    first = costs.seed_prices(db)
    assert first >= 1 and costs.seed_prices(db) == 0
    cost = costs.cost_of(db, "sandbox", "sandbox-v1", {"images": 3}, utcnow())
    assert cost.total == Decimal("0") and not cost.unpriced


def test_the_price_in_effect_at_the_time_is_used(db: Database) -> None:
    add(db, "p", "m", "*", "images", "0.04", "2026-01-01")
    add(db, "p", "m", "*", "images", "0.05", "2026-06-01")
    usage = {"images": 2}
    assert costs.cost_of(db, "p", "m", usage, datetime(2026, 3, 1)).total == Decimal("0.08")
    assert costs.cost_of(db, "p", "m", usage, datetime(2026, 6, 1)).total == Decimal("0.10")
    assert costs.cost_of(db, "p", "m", usage, datetime(2025, 12, 31)).total is None


def test_a_price_added_after_a_lookup_is_used_at_once(db: Database) -> None:
    """The price table is cached between writes; a new price row must still win at once."""
    add(db, "p", "m", "*", "images", "0.04", "2026-01-01")
    at = datetime(2026, 7, 1)
    assert costs.cost_of(db, "p", "m", {"images": 1}, at).total == Decimal("0.04")
    add(db, "p", "m", "*", "images", "0.05", "2026-06-01")
    assert costs.cost_of(db, "p", "m", {"images": 1}, at).total == Decimal("0.05")


def test_specific_model_and_variant_beat_wildcards(db: Database) -> None:
    add(db, "p", "*", "*", "images", "1", "2026-01-01")
    add(db, "p", "m", "*", "images", "2", "2026-01-01")
    add(db, "p", "m", "1024x1024", "images", "3", "2026-01-01")
    add(db, "p", "m", "1024x1024/high", "images", "4", "2026-01-01")
    at = datetime(2026, 2, 1)
    one = {"images": 1}
    assert costs.cost_of(db, "p", "m", one, at, "1024x1024", "high").total == 4
    assert costs.cost_of(db, "p", "m", one, at, "1024x1024", "low").total == 3
    assert costs.cost_of(db, "p", "m", one, at, "512x512", None).total == 2
    assert costs.cost_of(db, "p", "other", one, at).total == 1


def test_a_unit_without_a_price_makes_the_cost_unknown_not_zero(db: Database) -> None:
    add(db, "p", "m", "*", "output_image_tokens", "0.00003", "2026-01-01")
    cost = costs.cost_of(db, "p", "m", {"output_image_tokens": 1290, "thinking_tokens": 50},
                         datetime(2026, 2, 1))
    assert cost.total is None and cost.unpriced == ("thinking_tokens",)


def test_token_costs_are_exact_decimals(db: Database) -> None:
    add(db, "p", "m", "*", "output_image_tokens", "0.00003", "2026-01-01")
    add(db, "p", "m", "*", "input_tokens", "0.0000003", "2026-01-01")
    cost = costs.cost_of(db, "p", "m", {"output_image_tokens": 1290, "input_tokens": 12},
                         datetime(2026, 2, 1))
    assert cost.total == Decimal("0.0387036")


@pytest.mark.parametrize(
    ("total", "n"),
    [(Decimal("0.1"), 3), (Decimal("0.0387"), 7), (Decimal("1"), 1), (Decimal("0"), 4)],
)
def test_split_parts_add_up_exactly(total: Decimal, n: int) -> None:
    parts = costs.split(total, n)
    assert len(parts) == n and sum(parts) == total  # type: ignore[arg-type]
    assert max(parts) - min(parts) <= Decimal("0.00000001") * n  # type: ignore[type-var]


def test_split_of_an_unknown_cost_is_unknown() -> None:
    assert costs.split(None, 2) == [None, None]
