"""server.maxMessageSize fits the app: every page's largest message, measured on a real server.

Streamlit's default (200 MB, both ways) let one signed-out websocket message cost the server
hundreds of megabytes (security finding 7). ``.streamlit/config.toml`` sets it far lower; this
signs an admin in on a seeded server, opens every page and an image dialog through the real
protocol, and checks that the largest message seen, plus the largest preview a dialog may
carry, stays within the limit with room to spare; and that a larger incoming message is cut off.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from websockets.exceptions import ConnectionClosed

from lib.gallery import media
from tests.browser import harness as h
from tests.reliability import report
from tests.reliability._wsclient import Session

CONFIG = Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml"
LIMIT = int(tomllib.loads(CONFIG.read_text())["server"]["maxMessageSize"] * 1_000_000)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.AppServer]:
    srv = h.start_server("message-size", tmp_path_factory.mktemp("message-size"), seed=True,
                         PROMPTBOARD_ADMIN_USER=h.ADMIN_USER,
                         PROMPTBOARD_ADMIN_PASSWORD=h.ADMIN_PASSWORD)
    yield srv
    srv.stop()


def test_every_page_and_the_image_dialog_fit_well_within_the_message_limit(
    server: h.AppServer,
) -> None:
    tab = Session(server.base_url, "admin")
    try:
        tab.open()
        tab.set("auth_login_username", string_value=h.ADMIN_USER)
        tab.set("auth_login_password", string_value=h.ADMIN_PASSWORD)
        assert "Signed in as" in tab.click("Sign in").text()
        sizes: dict[str, int] = {}
        for page in sorted(tab.pages):
            tab.largest = 0
            assert not tab.open(page).exceptions
            sizes[page or "home"] = tab.largest
        tab.open("gallery")
        tiles = [t["target"] for t in tab.tiles.get("gal_grid", []) if t["event"] == "open"]
        assert tiles, "the seeded gallery shows no tile to open"
        tab.largest = 0
        assert not tab.click_tile("gal_grid", "open", tiles[0]).exceptions
        sizes["image dialog"] = tab.largest
    finally:
        tab.close()
    preview = media.PREVIEW_MAX_BYTES * 4 // 3 + 4  # base64
    worst = max(sizes.values()) + preview
    for page, size in sizes.items():
        report.row("message_size", page=page, largest_bytes=size)
    report.figures("message_size", limit_bytes=LIMIT, preview_cap_bytes=preview,
                   worst_case_bytes=worst)
    assert worst * 2 <= LIMIT, sizes


def test_a_message_over_the_limit_is_cut_off(server: h.AppServer) -> None:
    tab = Session(server.base_url, "intruder")
    try:
        msg = BackMsg()
        msg.rerun_script.query_string = "x" * (LIMIT + 1)
        with pytest.raises((ConnectionClosed, OSError)):  # 1009, or reset mid-send
            tab._ws.send(msg.SerializeToString())
            tab._ws.recv(timeout=30)  # under the limit, the server would run the app
    finally:
        tab.close()
