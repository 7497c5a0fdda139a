"""A board as a browser shows it: its name, description, count, total cost and date range
over a grid of its images (real thumbnails), and Add to board from the Gallery's select mode,
on a desktop and a phone (issue #17, item 1)."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from unittest import mock

import pytest
from PIL import Image
from playwright.sync_api import ViewportSize, expect

from lib.auth.access import Viewer
from lib.boards import store as boards
from lib.core import config
from lib.engine import Engine
from lib.storage.keys import image_keys
from tests.browser import harness as h
from tests.browser.conftest import ServerFactory
from tests.builders import add_image

COLOURS = [(200, 90, 60), (40, 120, 180), (90, 160, 80), (220, 180, 40)]


def _server_with_a_board(factory: ServerFactory) -> tuple[h.AppServer, str]:
    """Four of the admin's images (real PNGs), three of them on the board "Spring campaign"."""
    workdir = factory.workdir / "boards-server"
    data = workdir / "data"
    data.mkdir(parents=True)
    server = h.AppServer("boards", data, workdir / "server.log", env=h.clean_env(
        data, PROMPTBOARD_ADMIN_USER=h.ADMIN_USER, PROMPTBOARD_ADMIN_PASSWORD=h.ADMIN_PASSWORD,
        PROMPTBOARD_MODEL_CHECK_HOURS="0"))
    with mock.patch.dict(os.environ, server.env, clear=True):
        eng = Engine(config.load())
        try:
            now = eng.clock.now().replace(tzinfo=None)
            for i, colour in enumerate(COLOURS):
                keys = image_keys(f"job-b{i}", f"b{i}")
                for key, side in zip(keys, (512, 512, 160), strict=True):
                    if key:
                        buf = io.BytesIO()
                        Image.new("RGB", (side, side), colour).save(buf, "PNG")
                        eng.storage.put(key, buf.getvalue(), "image/png")
                add_image(eng, f"b{i}", h.ADMIN_USER, prompt=f"spring poster {i + 1}",
                          cost="0.04", keys=keys, created=now - timedelta(days=3 - i))
            admin = Viewer(h.ADMIN_USER, "admin")
            board = boards.create(eng.db, admin, "Spring campaign",
                                  description="Posters for the April launch", now=now)
            boards.add_images(eng.db, admin, board.id, ["b0", "b1", "b2"], now=now)
        finally:
            eng.close()
    factory.servers.append(server)
    return server.start(), board.id


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [h.DESKTOP, h.PHONE], ids=["desktop", "phone"])
def test_a_board_shows_its_grid_count_cost_and_dates(
        browsing: h.Browsing, server_factory: ServerFactory, viewport: ViewportSize) -> None:
    server, board_id = _server_with_a_board(server_factory)
    size = "desktop" if viewport == h.DESKTOP else "phone"
    page = browsing.new_page(server, viewport)
    h.open_app(page, server)
    h.sign_in(page, h.ADMIN_USER, h.ADMIN_PASSWORD)
    h.wait_for_cookie(page)
    h.open_app(page, server, f"boards?board={board_id}")
    expect(page.get_by_text("Spring campaign", exact=True)).to_be_visible()
    images = page.get_by_test_id("stMetric").filter(has_text="Images")
    expect(images).to_contain_text("3")
    expect(page.get_by_test_id("stMetric").filter(has_text="Total cost")).to_contain_text("0.12")
    expect(page.get_by_text("Made from ", exact=False)).to_be_visible()
    tiles = page.locator("button.pb-tile")
    expect(tiles).to_have_count(3)
    for i in range(3):
        picture = tiles.nth(i).locator("img")
        picture.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete", arg=picture.element_handle(),
                               timeout=h.JOB_TIMEOUT)
        assert picture.evaluate("img => img.naturalWidth > 0"), f"tile {i} did not load"
    page.get_by_text("Spring campaign", exact=True).scroll_into_view_if_needed()
    h.screenshot(page, f"board-{size}")
