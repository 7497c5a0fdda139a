"""The shipped prices of Stability, AUTOMATIC1111 and Replicate, hand-computed from providers.md.

Stability (§3): 1 credit = $0.01; Ultra 8, SD3.5 Large 6.5, Large Turbo 4, Medium 3.5,
Core 3 credits per image. Replicate (§5): flux-schnell $3 per 1000 images, flux-dev $0.025
per image; community models bill per GPU-second at rates not in providers.md, so unknown.
AUTOMATIC1111 (§4): a local server costs nothing unless an admin sets a rate.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from lib.db.database import Database
from lib.money import costs
from lib.providers.a1111 import A1111Provider
from lib.providers.base import GenerationRequest, Provider
from lib.providers.replicate import ReplicateProvider
from lib.providers.stability import StabilityProvider

AT = datetime(2026, 11, 2, 9, 0)
BEFORE = datetime(2026, 7, 31, 23, 59)  # before the figures of August 2026 took effect
FILES = ("stability.csv", "a1111.csv", "replicate.csv")

CASES = [
    # provider, model, size, quality, usage, expected USD (None = unknown)
    ("stability", "core", None, None, {"images": 1}, "0.03"),
    ("stability", "ultra", None, None, {"images": 2}, "0.16"),
    ("stability", "sd3.5-large", None, None, {"images": 3}, "0.195"),
    ("stability", "sd3.5-large-turbo", "1344x768", None, {"images": 1}, "0.04"),
    ("stability", "sd3.5-medium", None, None, {"images": 4}, "0.14"),
    ("stability", "sd3-large", None, None, {"images": 1}, "0.065"),  # UNVERIFIED legacy row
    ("stability", "sd3-medium", None, None, {"images": 2}, "0.07"),  # UNVERIFIED legacy row
    ("stability", "stable-diffusion-xl", None, None, {"images": 1}, None),  # no row: unknown
    ("a1111", "default", "512x512", None, {"gpu_seconds": 12.5}, "0"),
    ("a1111", "sd_xl_base_1.0.safetensors", None, None, {"gpu_seconds": 300}, "0"),
    ("replicate", "black-forest-labs/flux-schnell", None, None, {"images": 4}, "0.012"),
    ("replicate", "black-forest-labs/flux-schnell", None, None, {"images": 1}, "0.003"),
    ("replicate", "black-forest-labs/flux-dev", None, None, {"images": 2}, "0.05"),
    ("replicate", "owner/model:abc123", None, None, {"predict_seconds": 2.5}, None),
    ("replicate", "someone/unpriced-official", None, None, {"images": 1}, None),
]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    folder = tmp_path_factory.mktemp("prices")
    database = Database(folder / "prices.duckdb")
    costs.seed_prices(database)
    yield database
    database.close()


@pytest.mark.parametrize(("provider", "model", "size", "quality", "usage", "expected"), CASES,
                         ids=[f"{c[0]}-{c[1]}-{next(iter(c[4].values()))}" for c in CASES])
def test_cost_matches_the_hand_computed_price(
    db: Database, provider: str, model: str, size: str | None, quality: str | None,
    usage: dict[str, float], expected: str | None,
) -> None:
    cost = costs.cost_of(db, provider, model, usage, AT, size, quality)
    assert cost.total == (None if expected is None else Decimal(expected))
    if expected is None:
        assert cost.unpriced == tuple(usage)


def test_nothing_is_priced_before_the_figures_took_effect(db: Database) -> None:
    assert costs.cost_of(db, "stability", "core", {"images": 1}, BEFORE).total is None
    assert costs.cost_of(db, "a1111", "default", {"gpu_seconds": 1}, BEFORE).total == 0


def test_an_admins_gpu_rate_prices_the_local_server(tmp_path: Path) -> None:
    database = Database(tmp_path / "own.duckdb")  # not the shared table: this adds a row
    try:
        costs.seed_prices(database)
        with database.write() as cur:
            cur.execute(
                "INSERT INTO prices (provider, model, variant, unit, usd_per_unit, "
                "effective_from, source, created_by, created_at) VALUES "
                "('a1111','*','*','gpu_seconds',0.0005,'2026-10-01','internal rate','admin',?)",
                [AT])
        usage = {"gpu_seconds": 40.0}
        assert costs.cost_of(database, "a1111", "default", usage, AT).total == Decimal("0.02")
        assert costs.cost_of(database, "a1111", "default", usage, datetime(2026, 9, 1)).total == 0
    finally:
        database.close()


def test_every_row_cites_providers_md_and_unverified_rows_say_so() -> None:
    folder = Path(costs.__file__).with_name("prices")
    for name in FILES:
        with (folder / name).open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        assert rows and all(r["provider"] == name.removesuffix(".csv") for r in rows)
        for r in rows:
            assert "providers.md" in r["source"] and Decimal(r["usd_per_unit"]) >= 0
            datetime.fromisoformat(r["effective_from"])
            legacy = r["model"].startswith("sd3-")
            assert r["source"].startswith("UNVERIFIED:") == legacy, r


@pytest.mark.parametrize(("provider", "model", "n", "expected"), [
    (StabilityProvider(), "sd3.5-large", 2, "0.13"),
    (ReplicateProvider(), "black-forest-labs/flux-schnell", 4, "0.012"),
    (ReplicateProvider(), "owner/model:abc123", 1, None),
    (A1111Provider(), "default", 8, "0"),
], ids=["stability", "replicate-official", "replicate-version", "a1111"])
def test_estimates_before_a_run_use_the_same_prices(
    db: Database, provider: Provider, model: str, n: int, expected: str | None
) -> None:
    req = GenerationRequest(prompt="x", model=model, n=n)
    estimate = costs.estimate(db, provider.id, provider, req, AT)
    assert estimate == (None if expected is None else Decimal(expected))
