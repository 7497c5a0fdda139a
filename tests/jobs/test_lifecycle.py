"""Model lifecycle on the form: a model its maker shut down is not offered from that day on."""

from __future__ import annotations

from datetime import date

import pytest

from lib.compare import grid as compare
from lib.jobs import forms
from lib.providers import registry


def test_a_shut_down_openai_model_is_offered_until_its_day_and_not_after() -> None:
    before = forms.options("openai", None, date(2026, 11, 30))
    after = forms.options("openai", None, date(2026, 12, 1))
    assert "gpt-image-1.5" in before.models and "gpt-image-1-mini" in before.models
    assert after.models == ("gpt-image-2",)


def test_a_shut_down_model_still_gets_its_notice_when_named() -> None:
    opts = forms.options("openai", "gpt-image-1.5", date(2026, 12, 6))
    assert opts.notices == (
        "OpenAI shut down gpt-image-1.5 on 2026-12-01; use gpt-image-2 instead.",)


@pytest.mark.parametrize("day", [date(2026, 11, 2), date(2026, 12, 6)])
@pytest.mark.parametrize("provider", sorted(registry.PROVIDERS))
def test_every_provider_offers_its_default_model(provider: str, day: date) -> None:
    cls = registry.get(provider)
    assert cls.caps.default_model in forms.options(provider, None, day).models


def test_compare_offers_no_retired_model() -> None:
    values = {v for v, _, _ in compare.model_choices(date(2026, 12, 6))}
    assert "openai/gpt-image-2" in values
    assert not {"openai/gpt-image-1.5", "gemini/gemini-3-pro-image-preview"} & values
