"""Shutdown warnings: 30 days before a model's shutdown and after it, the same words on every
page, and styles that suggest such a model moved to its replacement in one click."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pytest

from lib.catalog import lifecycle
from lib.core import config
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.providers import registry
from lib.styles import library as styles
from lib.styles import lifecycle as style_lifecycle
from lib.styles.library import Style, StyleError
from tests.builders import ADMIN_USER as ADMIN
from tests.builders import MEMBER_USER as MEMBER

MINI_ENDS = date(2026, 12, 1)  # OpenAI shuts gpt-image-1.5 and gpt-image-1-mini down


@pytest.mark.parametrize(("today", "said"), [
    (date(2026, 10, 31), None),  # 31 days before: nothing yet
    (date(2026, 11, 1), "OpenAI shuts down gpt-image-1.5 on 2026-12-01; use gpt-image-2 instead."),
    (date(2026, 11, 30), "OpenAI shuts down gpt-image-1.5 on 2026-12-01; use gpt-image-2 instead."),
    (date(2026, 12, 1), "OpenAI shut down gpt-image-1.5 on 2026-12-01; use gpt-image-2 instead."),
])
def test_a_warning_starts_thirty_days_before_and_stays_after(today: date,
                                                             said: str | None) -> None:
    found = lifecycle.warning("openai", "gpt-image-1.5", today)
    assert (found.text(today) if found else None) == said
    if found:  # the same words as Generate's notice and the refusal at submit
        assert found.text(today) == registry.get("openai")().shutdown_notice("gpt-image-1.5", today)
    assert (found is not None and found.past(today)) == (today >= MINI_ENDS)


def test_models_without_a_shutdown_and_unknown_ids_have_no_warning() -> None:
    today = date(2026, 11, 20)
    assert lifecycle.warning("openai", "gpt-image-2", today) is None
    assert lifecycle.warning("sandbox", "sandbox-v1", today) is None
    assert lifecycle.warning("nope", "gpt-image-1.5", today) is None
    assert lifecycle.warning("openai", None, today) is None


def test_coming_lists_offered_models_soonest_first_and_not_the_past() -> None:
    soon = lifecycle.coming(date(2026, 11, 15))
    assert [(w.provider, w.model) for w in soon] == [("openai", "gpt-image-1-mini"),
                                                     ("openai", "gpt-image-1.5")]
    assert lifecycle.coming(date(2026, 12, 2)) == []  # shut down: refused, not "coming"


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine(config.load(), clock=FakeClock(datetime(2026, 11, 20, 9, 0)))
    yield eng
    eng.close()


def _style(engine: Engine, model: str) -> Style:
    return styles.save(engine.db, ADMIN, Style("", "Poster", "a poster of {prompt}", settings={
        "provider": "openai", "model": model, "quality": "high", "size": "1024x1536"}),
        engine.clock.now())


def test_a_style_on_a_retiring_model_is_flagged_and_moved_in_one_click(engine: Engine) -> None:
    poster = _style(engine, "gpt-image-1.5")
    kept = _style(engine, "gpt-image-2")
    today = engine.clock.now().date()
    assert [(s.id, w.replacement) for s, w in style_lifecycle.flagged(engine.db, today)] == [
        (poster.id, "gpt-image-2")]
    moved = style_lifecycle.move_to_replacement(engine.db, ADMIN, poster.id, engine.clock.now())
    assert moved.settings == {"provider": "openai", "model": "gpt-image-2", "quality": "high",
                              "size": "1024x1536"}
    assert styles.find(engine.db, poster.id) == moved
    assert style_lifecycle.flagged(engine.db, today) == []
    with pytest.raises(StyleError, match="suggests no model that is being shut down"):
        style_lifecycle.move_to_replacement(engine.db, ADMIN, kept.id, engine.clock.now())


def test_only_an_admin_moves_a_style(engine: Engine) -> None:
    poster = _style(engine, "gpt-image-1-mini")
    with pytest.raises(StyleError, match="admin"):
        style_lifecycle.move_to_replacement(engine.db, MEMBER, poster.id, engine.clock.now())
    assert styles.find(engine.db, poster.id) == poster
