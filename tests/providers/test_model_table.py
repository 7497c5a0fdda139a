"""The README's table of every provider x model, and the seed's consistency with the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.money import costs, model_table

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- model-table:start -->\n", "<!-- model-table:end -->"


def test_the_readme_shows_the_generated_table() -> None:
    text = README.read_text(encoding="utf-8")
    shown = text.split(START, 1)[1].split(END, 1)[0]
    assert shown == model_table.markdown(), "run: python -m lib.money.model_table"


def test_every_offered_model_is_priced_and_every_price_names_a_model() -> None:
    assert model_table.problems() == []


def test_a_model_without_a_price_row_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    seed = [r for r in costs.seed_rows() if r["model"] != "sd3.5-medium"]
    monkeypatch.setattr(costs, "seed_rows", lambda: seed)
    assert model_table.problems() == ["stability/sd3.5-medium is offered but has no price row"]


def test_a_row_pricing_only_the_provider_s_own_figure_does_not_count(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = [r for r in costs.seed_rows() if r["model"] != "flux-2-max"]  # BFL's "*" credits
    monkeypatch.setattr(costs, "seed_rows", lambda: seed)  # row stays
    assert model_table.problems() == ["bfl/flux-2-max is offered but has no price row"]


def test_a_price_row_for_no_model_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    stray = {"provider": "stability", "model": "sd4-ultra", "variant": "*", "unit": "images",
             "usd_per_unit": "0.1", "effective_from": "2026-11-01", "source": "a typo"}
    ghost = {**stray, "provider": "stabilty", "model": "*"}
    seed = [*costs.seed_rows(), stray, ghost]
    monkeypatch.setattr(costs, "seed_rows", lambda: seed)
    assert model_table.problems() == [
        "a stability price row names 'sd4-ultra', which stability does not have",
        "a price row names the provider 'stabilty', which does not exist"]


def test_the_table_has_a_row_per_model_with_its_lifecycle() -> None:
    rows = {(r.provider, r.model): r for r in model_table.rows()}
    assert rows[("gemini", "gemini-2.5-flash-image")].lifecycle == (
        "shutdown 2026-10-02 → gemini-3.1-flash-image")
    assert rows[("openai", "gpt-image-2")].prices.startswith("$5/1M text in tokens")
    assert "never offered here" in rows[("openai", "dall-e-2")].lifecycle
    assert rows[("replicate", "any other id")].prices == (
        "cost unknown until an admin adds a price")
    assert rows[("stability", "core")].prices == "$0.03 per image"
