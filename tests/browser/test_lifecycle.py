"""A style that suggests a model its maker has shut down, as a browser shows it: the warning
on Styles and on Admin → Styles, and the admin's one-click move to the replacement."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from lib.auth.access import Viewer
from lib.catalog import store
from lib.compare import grid as cmp
from lib.compare import store as compare_store
from lib.core import config
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.styles import library as styles
from tests.browser import harness as h
from tests.browser.conftest import ServerFactory
from tests.builders import ADMIN_USER

SAID = "OpenAI shut down gpt-image-1.5 on 2026-12-01; use gpt-image-2 instead."


def _server_with_a_poster_style(factory: ServerFactory) -> h.AppServer:
    """A server whose library holds "Poster", suggesting OpenAI's gpt-image-1.5 (shut down
    on 2026-12-01, so flagged on any day from now on), stored before the server starts."""
    workdir = factory.workdir / "lifecycle-server"
    data = workdir / "data"
    data.mkdir(parents=True)
    server = h.AppServer("lifecycle", data, workdir / "server.log", env=h.clean_env(
        data, PROMPTBOARD_ADMIN_USER=h.ADMIN_USER, PROMPTBOARD_ADMIN_PASSWORD=h.ADMIN_PASSWORD))
    with mock.patch.dict(os.environ, server.env, clear=True):
        eng = Engine(config.load())
        try:
            styles.save(eng.db, ADMIN_USER, styles.Style(
                "poster", "Poster", "a travel poster of {prompt}, bold flat colours",
                settings={"provider": "openai", "model": "gpt-image-1.5", "quality": "high"}),
                eng.clock.now())
        finally:
            eng.close()
    factory.servers.append(server)
    return server.start()


@pytest.mark.browser
def test_a_style_on_a_shut_down_model_is_flagged_and_an_admin_moves_it(
        browsing: h.Browsing, server_factory: ServerFactory) -> None:
    server = _server_with_a_poster_style(server_factory)
    page = browsing.new_page(server)
    h.open_app(page, server)
    h.sign_in(page, h.ADMIN_USER, h.ADMIN_PASSWORD)
    expect(h.signed_in_as(page)).to_be_visible()
    h.navigate(page, "Styles")
    card = page.get_by_test_id("stVerticalBlock").filter(
        has=page.get_by_text("Poster", exact=True)).filter(has=page.get_by_test_id("stAlert")).last
    expect(card.get_by_test_id("stAlert")).to_contain_text(SAID)
    expect(page.get_by_test_id("stAlert")).to_have_count(1)  # no other style is flagged
    move = card.get_by_role("button", name="Suggest gpt-image-2 instead")
    expect(move).to_be_visible()
    move.scroll_into_view_if_needed()
    h.screenshot(page, "styles-shutdown-warning-desktop")
    move.click()
    expect(page.get_by_text("“Poster” now suggests gpt-image-2.")).to_be_visible()
    h.wait_settled(page)
    expect(page.get_by_text(SAID)).to_have_count(0)
    h.screenshot(page, "styles-moved-to-replacement-desktop")
    assert Path(h.SCREENSHOTS / "styles-shutdown-warning-desktop.png").exists()


FLASH, PRO = "gemini-3.1-flash-image", "gemini-3-pro-image"


def _server_with_a_dated_gemini_model(factory: ServerFactory) -> tuple[h.AppServer, str]:
    """A server where an admin has set gemini-3.1-flash-image to shut down in 12 days (on
    Admin → Models; stored before the server starts), and a style suggests it."""
    workdir = factory.workdir / "catalog-server"
    data = workdir / "data"
    data.mkdir(parents=True)
    server = h.AppServer("catalog", data, workdir / "server.log", env=h.clean_env(
        data, PROMPTBOARD_ADMIN_USER=h.ADMIN_USER, PROMPTBOARD_ADMIN_PASSWORD=h.ADMIN_PASSWORD,
        GEMINI_API_KEY="AIza-browser-test-never-called", GEMINI_BASE_URL="http://127.0.0.1:9"))
    with mock.patch.dict(os.environ, server.env, clear=True):
        eng = Engine(config.load())
        try:
            on = eng.clock.now().date() + timedelta(days=12)
            store.update(eng.db, "admin", "gemini", FLASH, enabled=True, is_default=False,
                         shutdown=on, replacement=PRO, now=eng.clock.now())
            styles.save(eng.db, ADMIN_USER, styles.Style(
                "banana", "Banana", "{prompt}, glossy product shot",
                settings={"provider": "gemini", "model": FLASH}), eng.clock.now())
        finally:
            eng.close()
    factory.servers.append(server)
    return server.start(), f"Google shuts down {FLASH} on {on.isoformat()}; use {PRO} instead."


def _choose(page: Page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label``, as a user clicks it."""
    page.get_by_test_id("stSelectbox").filter(has_text=label).first.click()
    page.get_by_role("option", name=option, exact=True).click()
    h.wait_settled(page)


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [h.DESKTOP, h.PHONE], ids=["desktop", "phone"])
def test_an_admins_shutdown_date_warns_on_generate_compare_and_styles(
        browsing: h.Browsing, server_factory: ServerFactory, viewport: ViewportSize) -> None:
    server, said = _server_with_a_dated_gemini_model(server_factory)
    size = "desktop" if viewport == h.DESKTOP else "phone"
    page = browsing.new_page(server, viewport)
    h.open_app(page, server)
    h.sign_in(page, h.ADMIN_USER, h.ADMIN_PASSWORD)
    h.wait_for_cookie(page)
    h.open_app(page, server, "generate")  # by address: a phone's sidebar is folded away
    _choose(page, "Provider", "Google Gemini")
    _choose(page, "Model", FLASH)
    expect(page.get_by_test_id("stAlert").filter(has_text=said)).to_be_visible()
    h.screenshot(page, f"generate-shutdown-warning-{size}")
    h.open_app(page, server, "compare")
    box = page.get_by_test_id("stMultiSelect").filter(has_text="Provider / model").first
    box.scroll_into_view_if_needed()
    box.click()
    page.keyboard.type(FLASH)  # typing filters the options
    page.get_by_role("option", name=re.compile(f"Google Gemini: {re.escape(FLASH)}")).click()
    page.keyboard.press("Escape")
    h.wait_settled(page)
    warned = page.get_by_test_id("stAlert").filter(has_text=said)
    expect(warned).to_be_visible()
    warned.scroll_into_view_if_needed()
    h.screenshot(page, f"compare-shutdown-warning-{size}")
    h.open_app(page, server, "styles")
    warned = page.get_by_test_id("stAlert").filter(has_text=said)
    expect(warned).to_be_visible()
    warned.scroll_into_view_if_needed()
    h.screenshot(page, f"styles-admin-dated-warning-{size}")
    h.open_app(page, server, "admin")
    page.get_by_role("tab", name="Models").click()
    h.wait_settled(page)
    page.get_by_text("Google Gemini: 2 models offered today").click()
    expect(page.get_by_role("button", name="Save changes").first).to_be_visible()
    page.get_by_text("Google Gemini: 2 models offered today").scroll_into_view_if_needed()
    h.screenshot(page, f"admin-models-{size}")


OLD_PROMPT = "a lighthouse at dusk, teal and orange"


def _server_with_an_image_of_a_retired_model(factory: ServerFactory) -> tuple[h.AppServer, str]:
    """A server whose gallery holds an image made with OpenAI's gpt-image-1.5 before its
    shutdown (2026-12-01): real PNG bytes, stored before the server starts."""
    import io

    from PIL import Image

    from lib.storage.keys import image_keys
    from tests.builders import add_image
    workdir = factory.workdir / "retired-server"
    data = workdir / "data"
    data.mkdir(parents=True)
    server = h.AppServer("retired", data, workdir / "server.log", env=h.clean_env(
        data, PROMPTBOARD_ADMIN_USER=h.ADMIN_USER, PROMPTBOARD_ADMIN_PASSWORD=h.ADMIN_PASSWORD,
        OPENAI_API_KEY="sk-browser-test-never-called", OPENAI_BASE_URL="http://127.0.0.1:9"))
    with mock.patch.dict(os.environ, server.env, clear=True):
        eng = Engine(config.load())
        try:
            keys = image_keys("job-old", "old")
            for key, side in zip(keys, (512, 512, 160), strict=True):
                if key:
                    buf = io.BytesIO()
                    Image.new("RGB", (side, side), (24, 96, 120)).save(buf, "PNG")
                    eng.storage.put(key, buf.getvalue(), "image/png")
            add_image(eng, "old", h.ADMIN_USER, prompt=OLD_PROMPT, provider="openai",
                      model="gpt-image-1.5", cost="0.05", keys=keys,
                      created=eng.clock.now().replace(tzinfo=None) - timedelta(days=20))
        finally:
            eng.close()
        before = Engine(config.load(), clock=FakeClock(datetime(2026, 11, 20, 9)))
        try:  # a comparison saved before the shutdown, one column on gpt-image-1.5
            cid = compare_store.start(before, Viewer(h.ADMIN_USER, "admin"), cmp.Grid(
                rows=(OLD_PROMPT,), columns=(cmp.Column(provider="openai", model="gpt-image-1.5"),
                                             cmp.Column(provider="sandbox")), seed=7),
                "Lighthouse before the shutdown")
        finally:
            before.close()
    factory.servers.append(server)
    return server.start(), cid


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [h.DESKTOP, h.PHONE], ids=["desktop", "phone"])
def test_a_retired_models_image_stays_readable_and_reusing_it_moves_to_the_replacement(
        browsing: h.Browsing, server_factory: ServerFactory, viewport: ViewportSize) -> None:
    server, cid = _server_with_an_image_of_a_retired_model(server_factory)
    size = "desktop" if viewport == h.DESKTOP else "phone"
    page = browsing.new_page(server, viewport)
    h.open_app(page, server)
    h.sign_in(page, h.ADMIN_USER, h.ADMIN_PASSWORD)
    h.wait_for_cookie(page)
    h.open_app(page, server, "gallery")
    page.locator('button.pb-tile[data-id="old"]').click()  # (the comparison made one more)
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("gpt-image-1.5").first).to_be_visible()  # its history is kept
    dialog.get_by_role("button", name="Reuse settings").click()
    h.wait_settled(page)
    note = page.get_by_test_id("stAlert").filter(has_text=SAID)
    expect(note).to_be_visible()
    expect(note).to_contain_text("Using gpt-image-2.")
    note.scroll_into_view_if_needed()
    h.screenshot(page, f"generate-retired-model-refused-{size}")
    model = page.get_by_role("combobox", name="Model", exact=True)
    expect(model).to_have_value("gpt-image-2")
    model.click()
    expect(page.get_by_role("option", name="gpt-image-1.5", exact=True)).to_have_count(0)
    page.keyboard.press("Escape")
    h.open_app(page, server, f"compare?id={cid}")  # a saved comparison: flagged, with the move
    flagged = page.get_by_test_id("stAlert").filter(has_text="Column 1 (").filter(has_text=SAID)
    expect(flagged).to_be_visible()
    expect(page.get_by_role("button", name="Run again with gpt-image-2")).to_be_visible()
    flagged.scroll_into_view_if_needed()
    h.screenshot(page, f"compare-retired-model-flagged-{size}")
