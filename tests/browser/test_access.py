"""A model off a member's allow-list, as a browser shows it: Generate offers the member only
what the member role's list allows, and a style suggesting another model says why Generate
keeps its own (issue #17: "a refused model"), on a desktop and a phone."""

from __future__ import annotations

import os
from unittest import mock

import pytest
from playwright.sync_api import ViewportSize, expect

from lib.auth import accounts as auth
from lib.core import config
from lib.engine import Engine
from lib.grants import rules
from lib.styles import library as styles
from tests.browser import harness as h
from tests.browser.conftest import ServerFactory
from tests.builders import ADMIN_USER

PRO, FLASH = "gemini-3-pro-image", "gemini-3.1-flash-image"
MEMBER = "mia"


def _server_with_a_listed_member_role(factory: ServerFactory) -> h.AppServer:
    """Gemini set up (never called), the member role limited to gemini-3-pro-image, a member
    mia, and a style "Banana" suggesting gemini-3.1-flash-image, stored before the start."""
    workdir = factory.workdir / "access-server"
    data = workdir / "data"
    data.mkdir(parents=True)
    server = h.AppServer("access", data, workdir / "server.log", env=h.clean_env(
        data, PROMPTBOARD_ADMIN_USER=h.ADMIN_USER, PROMPTBOARD_ADMIN_PASSWORD=h.ADMIN_PASSWORD,
        GEMINI_API_KEY="AIza-browser-test-never-called", GEMINI_BASE_URL="http://127.0.0.1:9",
        PROMPTBOARD_MODEL_CHECK_HOURS="0"))
    with mock.patch.dict(os.environ, server.env, clear=True):
        eng = Engine(config.load())
        try:
            now = eng.clock.now()
            auth.create_user(eng.db, MEMBER, "Mia", None, "member", h.ADMIN_PASSWORD, now=now)
            rules.set_list(eng.db, "admin", "role", "member", [("gemini", PRO)], now)
            styles.save(eng.db, ADMIN_USER, styles.Style(
                "banana", "Banana", "{prompt}, glossy product shot",
                settings={"provider": "gemini", "model": FLASH}), now)
        finally:
            eng.close()
    factory.servers.append(server)
    return server.start()


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [h.DESKTOP, h.PHONE], ids=["desktop", "phone"])
def test_a_member_is_offered_only_the_listed_model_and_told_about_the_rest(
        browsing: h.Browsing, server_factory: ServerFactory, viewport: ViewportSize) -> None:
    server = _server_with_a_listed_member_role(server_factory)
    size = "desktop" if viewport == h.DESKTOP else "phone"
    page = browsing.new_page(server, viewport)
    h.open_app(page, server)
    h.sign_in(page, MEMBER, h.ADMIN_PASSWORD)
    h.wait_for_cookie(page)
    h.open_app(page, server, "generate")
    expect(page.get_by_role("combobox", name="Provider", exact=True)).to_have_value(
        "Google Gemini")
    model = page.get_by_role("combobox", name="Model", exact=True)
    expect(model).to_have_value(PRO)
    model.click()
    expect(page.get_by_role("option")).to_have_count(1)  # only the listed model
    page.keyboard.press("Escape")
    h.wait_settled(page)
    h.screenshot(page, f"access-generate-listed-only-{size}")
    h.open_app(page, server, "styles")
    card = page.get_by_test_id("stVerticalBlock").filter(
        has=page.get_by_text("Banana", exact=True)).filter(
        has=page.get_by_role("button", name="Use", exact=True)).last
    use = card.get_by_role("button", name="Use", exact=True)
    use.scroll_into_view_if_needed()
    use.click()
    toast = page.get_by_test_id("stToast").filter(has_text="which is not on your list")
    expect(toast).to_be_visible()
    expect(model).to_have_value(PRO)
    h.screenshot(page, f"access-style-refused-model-{size}")
