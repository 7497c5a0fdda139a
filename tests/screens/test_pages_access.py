"""Admin → Access under AppTest: an admin limits the member role, and Generate, Compare and
the API's catalog offer a member only what the list allows; a daily cap shows on Generate and
on Analytics. Page tests run on a clock pinned to 2026-11-02 (tests.helpers.PinnedClock)."""

from __future__ import annotations

import pytest

from lib import ui
from lib.core.text import plain
from lib.grants import caps as daily
from lib.grants import rules
from tests.helpers import app_as

pytestmark = pytest.mark.usefixtures("page_engine")  # tests/conftest.py

PRO, FLASH = "gemini-3-pro-image", "gemini-3.1-flash-image"


@pytest.fixture(autouse=True)
def _gemini_set_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-test-key-never-called")
    monkeypatch.setenv("GEMINI_BASE_URL", "http://127.0.0.1:9")  # no page here calls it


def test_an_admin_limits_the_member_role_and_generate_offers_only_that() -> None:
    admin = app_as("root", "admin", page="screens/admin.py")
    admin.session_state["admin_tab"] = "Access"
    admin.run()
    assert not admin.exception
    admin.toggle(key="access_role_member_on").set_value(True).run()
    admin.multiselect(key="access_role_member_models").set_value([f"gemini/{PRO}"]).run()
    admin.button(key="access_role_member_save").click().run()
    assert not admin.exception
    assert not [e.value for e in admin.error if "list" in e.value or "model" in e.value], [
        e.value for e in admin.error]  # (other tabs may show a provider's own warning)
    assert plain("Saved the member role's list: 1 entry.") in [s.value for s in admin.success]
    eng = ui.engine()
    assert rules.grant_for(eng.db, "ann", "member").pairs == frozenset({("gemini", PRO)})

    at = app_as("ann", "member", page="screens/generate.py")
    assert not at.exception
    assert at.selectbox(key="gen_provider").options == ["Google Gemini"]
    assert at.selectbox(key="gen_model_gemini").options == [PRO]

    cmp = app_as("ann", "member", page="screens/compare.py")
    assert [o for o in cmp.multiselect(key="cmp_models").options] == [f"Google Gemini: {PRO}"]

    rules.set_list(eng.db, "root", "role", "member", [], eng.clock.now())
    at = app_as("ann", "member", page="screens/generate.py")
    assert not at.exception
    assert "allows no model of a provider that is set up" in " ".join(i.value for i in at.info)


def test_a_daily_cap_is_set_on_access_and_shown_on_generate_and_analytics() -> None:
    admin = app_as("root", "admin", page="screens/admin.py")
    from tests.helpers import ensure_user
    ensure_user("ann", "member")
    admin.session_state["admin_tab"] = "Access"
    admin.run()
    admin.selectbox(key="access_user").set_value("ann").run()
    admin.toggle(key="access_cap_on_ann").set_value(True).run()
    admin.number_input(key="access_cap_ann").set_value(7).run()
    admin.button(key="access_cap_save_ann").click().run()
    assert not admin.exception
    assert not [e.value for e in admin.error if "cap" in e.value or "user" in e.value], [
        e.value for e in admin.error]
    eng = ui.engine()
    assert daily.cap_of(eng.db, "ann") == 7

    at = app_as("ann", "member", page="screens/generate.py")
    assert "Your daily cap: 0 of 7 images asked for today (UTC)." in [
        c.value for c in at.caption]
    an = app_as("ann", "member", page="screens/analytics.py")
    assert not an.exception
    assert "Daily image caps (today, UTC)" in [h.value for h in an.subheader]
