"""Shutdown warnings on Compare, Styles and Admin under AppTest. Page tests run on a clock
pinned to 2026-11-02 (tests.helpers.PinnedClock): 29 days before OpenAI shuts gpt-image-1.5
and gpt-image-1-mini down (2026-12-01), so both are inside the 30-day warning."""

from __future__ import annotations

import pytest

from lib import ui
from lib.core.text import plain
from lib.styles import library as styles
from tests.builders import ADMIN_USER
from tests.helpers import app_as

pytestmark = pytest.mark.usefixtures("page_engine")  # tests/conftest.py

SAID = "OpenAI shuts down gpt-image-1.5 on 2026-12-01; use gpt-image-2 instead."


def _poster() -> styles.Style:
    eng = ui.engine()
    return styles.save(eng.db, ADMIN_USER, styles.Style(
        "poster", "Poster", "a poster of {prompt}",
        settings={"provider": "openai", "model": "gpt-image-1.5"}), eng.clock.now())


def _warnings(at: object) -> list[str]:
    return [w.value for w in at.warning]  # type: ignore[attr-defined]


def test_compare_warns_about_a_chosen_model_that_shuts_down_soon() -> None:
    at = app_as("ann", "member", page="screens/compare.py")
    labels = at.multiselect(key="cmp_models").options
    assert "OpenAI Images: gpt-image-1.5 (not set up) (shuts down 2026-12-01)" in labels
    assert SAID not in _warnings(at)
    at.multiselect(key="cmp_models").set_value(["openai/gpt-image-1.5"]).run()
    assert not at.exception and SAID in _warnings(at)


def test_a_member_sees_the_warning_on_a_style_but_no_move_button() -> None:
    _poster()
    at = app_as("ann", "member", page="screens/styles.py")
    assert not at.exception and SAID in _warnings(at)
    assert not [b for b in at.button if b.key == "lib_move_poster"]


def test_an_admin_moves_a_style_to_the_replacement_in_one_click() -> None:
    _poster()
    at = app_as("root", "admin", page="screens/styles.py")
    at.button(key="lib_move_poster").click().run()
    assert not at.exception
    assert styles.find(ui.engine().db, "poster").settings["model"] == "gpt-image-2"
    assert any("now suggests gpt-image-2" in s.value for s in at.success)
    assert SAID not in _warnings(at)


def test_admin_providers_lists_what_shuts_down_and_the_styles_that_suggest_it() -> None:
    _poster()
    at = app_as("root", "admin", page="screens/admin.py")
    assert not at.exception
    said = _warnings(at)
    assert plain(SAID + " Styles that suggest it: Poster (move them on the Styles tab).") in said
    assert ("OpenAI shuts down gpt-image-1-mini on 2026-12-01; use gpt-image-2 instead."
            in said)
