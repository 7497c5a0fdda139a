"""Seeded Gemini and OpenAI prices: hand-computed costs, coverage of usage keys, sources."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from lib.core import config
from lib.core.clock import FakeClock
from lib.db.database import Database
from lib.engine import Engine
from lib.money import costs
from lib.providers.base import GenerationRequest
from lib.providers.gemini import GeminiProvider
from lib.providers.gemini_models import SHUTDOWNS
from lib.providers.openai_images import OpenAIImagesProvider

AT = datetime(2026, 11, 2, 9, 0)
PRICES = Path(costs.__file__).with_name("prices")

# the models priced by token classes (OpenAI), and Gemini's GA ids: live in the shipped catalog
# on 2026-11-30 (every other one has per-image prices only, or is a shut-down preview)
OPENAI_TOKEN_MODELS = OpenAIImagesProvider.seed_line().live(date(2026, 11, 30))
GEMINI_GA = GeminiProvider.seed_line().live(date(2026, 11, 30))


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """One seeded database for the module (prices are read only here)."""
    database = Database(tmp_path_factory.mktemp("prices") / "p.duckdb")
    costs.seed_prices(database)
    yield database
    database.close()


# (provider, model, size, quality, usage, expected USD), each figure from providers.md §1/§2
# or, for the GA Gemini ids, ai.google.dev/gemini-api/docs/pricing (see lib/money/prices/gemini.csv)
CASES = [
    # gemini-3-pro-image: $120/1M image tokens, "equivalent to $0.134 per 1K/2K image and $0.24
    # per 4K image" (1120 and 2000 tokens)
    ("gemini", "gemini-3-pro-image", None, "1K", {"output_image_tokens": 1120}, "0.1344"),
    ("gemini", "gemini-3-pro-image", None, "4K", {"output_image_tokens": 2000}, "0.24"),
    ("gemini", "gemini-3-pro-image", None, "2K",  # + 10 x $2/1M and 800 x $12/1M (UNVERIFIED)
     {"input_tokens": 10, "output_image_tokens": 1120, "output_text_tokens": 800}, "0.14402"),
    ("gemini", "gemini-3-pro-image", None, "2K", {"images": 1}, "0.134"),
    ("gemini", "gemini-3-pro-image", None, "4K", {"images": 2}, "0.48"),
    # gemini-3.1-flash-image: $60/1M image tokens; $0.067 / $0.101 / $0.151 per 1K / 2K / 4K
    ("gemini", "gemini-3.1-flash-image", None, "1K", {"output_image_tokens": 1120}, "0.0672"),
    ("gemini", "gemini-3.1-flash-image", None, "2K", {"output_image_tokens": 1680}, "0.1008"),
    ("gemini", "gemini-3.1-flash-image", None, "4K",  # + 100 x $0.50/1M (UNVERIFIED)
     {"input_tokens": 100, "output_image_tokens": 2520}, "0.15125"),
    ("gemini", "gemini-3.1-flash-image", None, "4K", {"images": 1}, "0.151"),
    ("gemini", "gemini-3.1-flash-image", None, None, {"images": 3}, "0.201"),
    ("gemini", "gemini-2.5-flash-image", None, None, {"output_image_tokens": 1290}, "0.0387"),
    ("gemini", "gemini-2.5-flash-image", None, "1K",
     {"input_tokens": 270, "output_image_tokens": 1290}, "0.038781"),  # + 270 x $0.30/1M
    ("gemini", "gemini-2.5-flash-image", None, None, {"images": 2}, "0.078"),  # no usageMetadata
    ("gemini", "gemini-3-pro-image-preview", None, "1K", {"output_image_tokens": 1120}, "0.1344"),
    ("gemini", "gemini-3-pro-image-preview", None, "4K", {"output_image_tokens": 2000}, "0.24"),
    ("gemini", "gemini-3-pro-image-preview", None, "2K",  # thinking at the (UNVERIFIED) $12/1M
     {"input_tokens": 10, "output_image_tokens": 1120, "output_text_tokens": 800}, "0.14402"),
    ("gemini", "gemini-3-pro-image-preview", None, "4K", {"images": 1}, "0.24"),
    ("gemini", "gemini-3.1-flash-image-preview", None, "2K", {"output_image_tokens": 1680},
     "0.1008"),
    ("gemini", "gemini-3.1-flash-image-preview", None, "4K", {"output_image_tokens": 2520},
     "0.1512"),
    ("gemini", "gemini-3.1-flash-image-preview", None, "2K", {"images": 1}, "0.101"),
    ("openai", "gpt-image-1", "1024x1024", "medium", {"output_image_tokens": 1056}, "0.04224"),
    ("openai", "gpt-image-1", "1536x1024", "high",
     {"input_text_tokens": 100, "output_image_tokens": 6208}, "0.24882"),
    ("openai", "gpt-image-1", "1024x1536", "low",  # a reference image at $10/1M
     {"input_text_tokens": 20, "input_image_tokens": 323, "output_image_tokens": 408}, "0.01965"),
    ("openai", "gpt-image-1", "1024x1536", "medium", {"images": 1}, "0.063"),
    ("openai", "gpt-image-1-mini", "1024x1024", "low", {"images": 2}, "0.01"),
    ("openai", "gpt-image-1-mini", "1024x1024", "medium",
     {"input_text_tokens": 50, "input_image_tokens": 200, "output_image_tokens": 1000}, "0.0086"),
    ("openai", "gpt-image-2", "1024x1024", "medium",
     {"input_text_tokens": 50, "output_image_tokens": 1056}, "0.03193"),
    ("openai", "gpt-image-2", "1024x1024", "high", {"images": 1}, "0.21"),
    ("openai", "gpt-image-2", "2048x2048", "low", {"images": 1}, "0.006"),  # quality-only row
    ("openai", "gpt-image-2", None, "auto", {"images": 3}, "0.159"),  # the "*" row: medium
    ("openai", "gpt-image-1.5", "1536x1024", "high", {"images": 1}, "0.199"),
    ("openai", "dall-e-3", "1792x1024", "hd", {"images": 1}, "0.12"),
    ("openai", "dall-e-3", "1024x1024", "standard", {"images": 1}, "0.04"),
]


@pytest.mark.parametrize(("provider", "model", "size", "quality", "usage", "usd"), CASES,
                         ids=[f"{c[1]}-{c[2]}-{c[3]}-{'+'.join(c[4])}" for c in CASES])
def test_cost_matches_the_published_price(
    db: Database, provider: str, model: str, size: str | None, quality: str | None,
    usage: dict[str, float], usd: str,
) -> None:
    cost = costs.cost_of(db, provider, model, usage, AT, size, quality)
    assert cost.unpriced == () and cost.total == Decimal(usd)


GEMINI_UNITS = ("input_tokens", "output_image_tokens", "output_text_tokens", "images")
OPENAI_UNITS = ("input_text_tokens", "input_image_tokens", "output_image_tokens", "images")


@pytest.mark.parametrize("model", (*GeminiProvider.caps.models, *SHUTDOWNS))
def test_every_gemini_usage_key_has_a_price_for_every_model_and_size(
    db: Database, model: str
) -> None:
    for unit, quality in itertools.product(GEMINI_UNITS, (None, "1K", "2K", "4K")):
        cost = costs.cost_of(db, "gemini", model, {unit: 1}, AT, None, quality)
        assert cost.total is not None and cost.total > 0, (unit, quality)


@pytest.mark.parametrize("model", OPENAI_TOKEN_MODELS)
def test_every_openai_usage_key_has_a_price_for_every_model_size_and_quality(
    db: Database, model: str
) -> None:
    sizes = (None, *OpenAIImagesProvider.model_caps(model).sizes)
    for unit, size, quality in itertools.product(OPENAI_UNITS, sizes, (None, "low", "auto")):
        cost = costs.cost_of(db, "openai", model, {unit: 1}, AT, size, quality)
        assert cost.total is not None and cost.total > 0, (unit, size, quality)


def test_every_estimate_is_priced(db: Database) -> None:
    for model, quality, refs in itertools.product(GEMINI_GA, ("1K", "4K", None),
                                                  (0, 2)):
        req = GenerationRequest("a fox", model, quality=quality, reference_images=(b"x",) * refs)
        assert costs.estimate(db, "gemini", GeminiProvider(), req, AT), (model, quality)
    for model, quality, (w, h) in itertools.product(
            (*OPENAI_TOKEN_MODELS, "gpt-image-1"), ("low", "high", None),
            ((1024, 1536), (None, None))):
        req = GenerationRequest("a fox", model, width=w, height=h, quality=quality, n=2)
        assert costs.estimate(db, "openai", OpenAIImagesProvider(), req, AT), (model, quality)


def test_estimates_use_the_documented_token_tables(db: Database) -> None:
    pro = GenerationRequest("x" * 40, "gemini-3-pro-image", quality="4K", n=2)
    assert GeminiProvider().typical_usage(pro) == {
        "input_tokens": 20.0, "output_image_tokens": 4000.0, "output_text_tokens": 1600.0}
    old = GenerationRequest("x" * 8, "gpt-image-1", width=1024, height=1536, quality="high")
    assert OpenAIImagesProvider().typical_usage(old) == {
        "input_text_tokens": 2.0, "output_image_tokens": 6240.0}
    assert costs.estimate(db, "openai", OpenAIImagesProvider(), old, AT) == Decimal("0.24961")


@pytest.mark.parametrize(("size", "quality", "expected"), [
    ((1024, 1024), "high", "0.21"),  # the published 1024x1024 figure (providers.md §2)
    ((1536, 1024), "high", "0.315"),  # 1.5x the pixels: 1.5 x $0.21
    ((1024, 1536), "medium", "0.0795"),  # 1.5 x $0.053
    ((2048, 2048), "low", "0.024"),  # 4 x $0.006
])
def test_a_gpt_image_2_estimate_grows_with_the_pixels(
    db: Database, size: tuple[int, int], quality: str, expected: str
) -> None:
    """gpt-image-2 has published per-image figures for 1024x1024 only; output tokens grow with
    the area (gpt-image-1's table: 1056 tokens at 1024x1024, 1584 at 1024x1536, 1.5x), so an
    estimate scales the square figure by pixels instead of charging every size like a square."""
    req = GenerationRequest("a fox", "gpt-image-2", width=size[0], height=size[1],
                            quality=quality)
    assert costs.estimate(db, "openai", OpenAIImagesProvider(), req, AT) == Decimal(expected)


def test_text_output_has_its_own_price_where_openai_bills_it(db: Database) -> None:
    for model in ("gpt-image-2", "gpt-image-1.5"):
        cost = costs.cost_of(db, "openai", model, {"output_text_tokens": 1e6}, AT)
        assert cost.total == Decimal("10"), model  # $10/1M (UNVERIFIED rows)


def _rows(name: str) -> list[dict[str, str]]:
    with (PRICES / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("name", ["gemini.csv", "openai.csv"])
def test_price_rows_are_dated_sourced_and_unique(name: str) -> None:
    rows = _rows(name)
    assert rows and {r["provider"] for r in rows} == {name.removesuffix(".csv")}
    keys = [(r["model"], r["variant"], r["unit"], r["effective_from"]) for r in rows]
    assert len(keys) == len(set(keys))
    for r in rows:
        assert date.fromisoformat(r["effective_from"]) <= date(2026, 11, 2)
        assert r["source"].startswith(("providers.md §", "UNVERIFIED: ", "ai.google.dev/")), r
        if r["source"].startswith("ai.google.dev/"):  # a page, and the day it was checked
            assert "checked 2026-" in r["source"], r
        assert Decimal(r["usd_per_unit"]) > 0


def test_unverified_rates_are_flagged_for_admins() -> None:
    flagged = {(r["model"], r["unit"]) for r in _rows("gemini.csv") + _rows("openai.csv")
               if r["source"].startswith("UNVERIFIED: ")}
    assert {("gemini-3-pro-image", "input_tokens"), ("gemini-3-pro-image", "output_text_tokens"),
            ("gemini-3.1-flash-image", "input_tokens"),
            ("gemini-3.1-flash-image", "output_text_tokens"),
            ("gemini-3-pro-image-preview", "input_tokens"),
            ("gemini-3-pro-image-preview", "output_text_tokens"),
            ("gemini-3.1-flash-image-preview", "input_tokens"),
            ("gemini-3.1-flash-image-preview", "output_text_tokens"),
            ("gemini-2.5-flash-image", "output_text_tokens")} <= flagged
    assert {m for m, _ in flagged if m.startswith("gpt")} == {"gpt-image-1.5", "gpt-image-2"}
    assert {u for m, u in flagged if m == "gpt-image-2"} == {"output_text_tokens"}


def test_an_engine_seeds_these_prices() -> None:
    eng = Engine(config.load(), clock=FakeClock())
    try:
        n = eng.db.scalar("SELECT count(*) FROM prices WHERE provider IN ('gemini', 'openai')")
        assert n == len(_rows("gemini.csv")) + len(_rows("openai.csv"))
    finally:
        eng.close()


def test_the_ga_gemini_prices_start_on_the_ga_day_and_the_previews_keep_theirs(
    db: Database,
) -> None:
    rows = {(r["model"], r["effective_from"]) for r in _rows("gemini.csv")}
    ga = {m for m, day in rows if day == "2026-05-28"}  # ai.google.dev changelog: GA 2026-05-28
    assert ga == set(GEMINI_GA)
    assert set(SHUTDOWNS) <= {m for m, _ in rows}  # history stays priced
    before_ga = datetime(2026, 5, 1)
    assert costs.cost_of(db, "gemini", "gemini-3-pro-image", {"images": 1}, before_ga,
                         None, "1K").total is None
