"""Hand-computed costs for Black Forest Labs (credits per megapixel) and fal.ai (per whole
megapixel), each from the published figure in lib/money/prices/bfl.csv and fal.csv: BFL's
skill black-forest-labs/bfl-api (1 credit = $0.01; FLUX.2 [pro] 3 credits for the first
megapixel and 1.5 for each further one, [max] 7 / 3, [flex] 5 / 5, [klein] 4B 1.4 / 0.1,
9B 1.5 / 0.2) and fal's FLUX pages ([schnell] $0.003, [dev] $0.025 per megapixel, rounded up)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest
from PIL import Image

from lib.db.database import Database
from lib.money import costs
from lib.providers.base import GenerationRequest
from lib.providers.bfl import BFLProvider, usage_for
from lib.providers.fal import FalProvider

AT = datetime(2026, 12, 7, 9, 0)

CASES = [  # provider, model, usage, expected USD (None: no price, cost unknown)
    ("bfl", "flux-2-pro", {"images": 1}, "0.03"),  # 1024x1024: one megapixel, 3 credits
    ("bfl", "flux-2-pro", {"images": 1, "extra_megapixels": 1}, "0.045"),  # 2048x1024
    ("bfl", "flux-2-max", {"images": 1, "extra_megapixels": 3}, "0.16"),  # 2048x2048: 7 + 9
    ("bfl", "flux-2-flex", {"images": 1, "extra_megapixels": 1}, "0.10"),  # + a 1 MP reference
    ("bfl", "flux-2-klein-4b", {"images": 4}, "0.056"),  # 4 x 1.4 credits
    ("bfl", "flux-2-klein-9b", {"images": 1, "extra_megapixels": 1}, "0.017"),  # 1.5 + 0.2
    ("bfl", "flux-2-pro", {"credits": 4.5}, "0.045"),  # BFL's own figure: 4.5 credits
    ("bfl", "flux-3-ultra", {"images": 1}, None),  # no such model priced: unknown
    ("fal", "fal-ai/flux/schnell", {"megapixels": 2}, "0.006"),  # two 1024x768 images
    ("fal", "fal-ai/flux/dev", {"megapixels": 4}, "0.1"),  # one 2048x2048 image
    ("fal", "fal-ai/flux/dev", {"billable_units": 3}, "0.075"),  # fal's own count
    ("fal", "fal-ai/recraft/v3", {"megapixels": 1}, None),  # any other endpoint: unknown
]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    database = Database(tmp_path_factory.mktemp("prices") / "prices.duckdb")
    costs.seed_prices(database)
    yield database
    database.close()


@pytest.mark.parametrize(("provider", "model", "usage", "expected"), CASES,
                         ids=[f"{c[1]}-{'+'.join(c[2])}" for c in CASES])
def test_cost_matches_the_published_price(db: Database, provider: str, model: str,
                                          usage: dict[str, float], expected: str | None) -> None:
    cost = costs.cost_of(db, provider, model, usage, AT)
    assert cost.total == (None if expected is None else Decimal(expected))


@pytest.mark.parametrize(("provider", "req", "expected"), [
    (BFLProvider(), GenerationRequest("x", "flux-2-pro", width=2048, height=1024), "0.045"),
    (BFLProvider(), GenerationRequest("x", "flux-2-max", width=2048, height=2048, n=2), "0.32"),
    (FalProvider(), GenerationRequest("x", "fal-ai/flux/dev", width=1536, height=1024, n=2),
     "0.1"),  # 1.5 MP rounds up to 2, twice
], ids=["bfl-pro", "bfl-max", "fal-dev"])
def test_estimates_use_the_same_megapixels(db: Database, provider: BFLProvider | FalProvider,
                                           req: GenerationRequest, expected: str) -> None:
    assert costs.estimate(db, provider.id, provider, req, AT) == Decimal(expected)


def test_bfl_counts_a_reference_image_s_megapixels() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (1024, 1024)).save(buf, "PNG")
    req = GenerationRequest("x", "flux-2-flex", reference_images=(buf.getvalue(),))
    assert usage_for(req, 1) == {"images": 1.0, "extra_megapixels": 1.0}
