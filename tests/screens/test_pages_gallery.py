"""The Gallery page under AppTest: what each role sees, and no way around it."""

from __future__ import annotations

import time
import urllib.parse

import pytest

from lib import jobs, ui
from lib.auth import links
from lib.auth.cookies import cookie_key
from lib.gallery import queries as gallery
from tests.helpers import app_as, click_tile, ensure_user, grid_tiles, run_next

pytestmark = pytest.mark.usefixtures("page_engine")  # tests/conftest.py


def _image(user: str, prompt: str, shared: bool = False) -> str:
    ensure_user(user, "member")
    eng = ui.engine()
    job_id = jobs.submit(eng, user, jobs.JobSpec(prompt=prompt, width=64, height=64))
    while jobs.get(eng, job_id).status in jobs.ACTIVE:  # type: ignore[union-attr]
        run_next(eng)
    image_id = str(eng.db.scalar("SELECT id FROM images WHERE job_id = ?", [job_id]))
    if shared:
        gallery.set_shared(eng.db, gallery.Viewer(user, "member"), [image_id], True)
    return image_id


def _captions(at: object) -> str:
    """Captions, including those under images and on the grid's tiles."""
    images = [img.proto.imgs[0].caption for img in at.get("image")]  # type: ignore[attr-defined]
    tiles = [t["caption"] for t in grid_tiles(at)]
    return " ".join([c.value for c in at.caption] + images + tiles)  # type: ignore[attr-defined]


def test_a_member_sees_own_and_shared_images_only() -> None:
    at = app_as("ann", "member")
    _image("ann", "ann private fox")
    _image("bob", "bob private boat")
    _image("bob", "bob shared kite", shared=True)
    at.switch_page("screens/gallery.py").run()
    assert not at.exception
    text = _captions(at)
    assert "ann private fox" in text and "bob shared kite" in text
    assert "bob private boat" not in text
    assert "2 images match" in text


def test_an_analyst_sees_everyone_and_can_filter_by_user() -> None:
    at = app_as("ana", "analyst")
    _image("ann", "ann private fox")
    _image("bob", "bob private boat")
    at.switch_page("screens/gallery.py").run()
    assert not at.exception
    assert "2 images match" in _captions(at)
    at.text_input(key="gal_text").input("boat").run()
    assert "1 image matches" in _captions(at)


@pytest.mark.parametrize("way", ["url", "tile click"])
def test_a_member_cannot_open_another_members_private_image(way: str) -> None:
    """Neither by the URL nor by a forged tile click: trigger values come from the browser
    too, so a hand-made one is just another untrusted id."""
    at = app_as("ann", "member")
    _image("ann", "ann private fox")  # so the page draws a grid to click in
    private = _image("bob", "bob private boat")
    at.switch_page("screens/gallery.py")
    if way == "url":
        at.query_params["image"] = private
        at.run()
    else:
        click_tile(at.run(), "open", private)
    assert not at.exception
    assert any("not yours to see" in e.value for e in at.error)
    assert "bob private boat" not in " ".join(m.value for m in at.markdown)


def test_opening_my_image_shows_its_parameters() -> None:
    at = app_as("ann", "member")
    mine = _image("ann", "ann private fox")
    at.switch_page("screens/gallery.py")
    at.query_params["image"] = mine
    at.run()
    assert not at.exception
    assert any("ann private fox" in m.value for m in at.markdown)
    assert any(b.label == "Download original" for b in at.get("download_button"))


def test_thumbnail_data_urls_are_read_once_and_the_cache_stays_bounded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    eng = ui.engine()
    for i in range(3):
        eng.storage.put(f"t/{i}.webp", b"RIFF" + bytes([i]), "image/webp")
    reads: list[str] = []
    real_get = eng.storage.get
    monkeypatch.setattr(eng.storage, "get", lambda k: reads.append(k) or real_get(k))
    monkeypatch.setattr(ui.media._THUMBS, "maxsize", 2)
    ui.media._THUMBS.clear()
    first = ui.thumbnail(eng, "t/0.webp")
    assert first == "data:image/webp;base64,UklGRgA="
    assert ui.thumbnail(eng, "t/0.webp") == first and reads == ["t/0.webp"]
    ui.thumbnail(eng, "t/1.webp")
    ui.thumbnail(eng, "t/0.webp")  # most recently used again
    ui.thumbnail(eng, "t/2.webp")  # evicts t/1, the least recently used
    assert len(ui.media._THUMBS) == 2 and reads == ["t/0.webp", "t/1.webp", "t/2.webp"]
    ui.thumbnail(eng, "t/1.webp")
    assert reads[-1] == "t/1.webp"


def test_the_grid_is_one_element_and_a_click_on_a_tile_opens_its_image() -> None:
    at = app_as("ann", "member")
    fox = _image("ann", "ann private <b>fox</b>")
    at.switch_page("screens/gallery.py").run()
    [tile] = grid_tiles(at)
    assert (tile["id"], tile["event"], tile["target"]) == (fox, "open", fox)
    assert tile["prompt"] == "ann private <b>fox</b>"  # as typed: the browser sets it as text
    assert tile["label"] == "Open image: ann private <b>fox</b>"
    assert tile["src"].startswith("data:image/webp;base64,")  # AppTest has no page URL


def test_in_a_browser_a_thumbnail_is_a_url_signed_for_this_session(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ui.media, "_origin", lambda: "http://127.0.0.1:8501")
    at = app_as("ann", "member")
    fox = _image("ann", "ann private fox")
    at.switch_page("screens/gallery.py").run()
    [tile] = grid_tiles(at)
    path, _, query = tile["src"].removeprefix("http://127.0.0.1:8501").partition("?")
    assert path == f"/api/v1/images/{fox}/thumbnail"
    eng = ui.engine()
    params = dict(urllib.parse.parse_qsl(query))
    user = links.verify(eng.db, cookie_key(eng.settings), path, params, time.time())
    assert user is not None and user.username == "ann"
    assert links.verify(eng.db, cookie_key(eng.settings), path.replace(fox, "other"), params,
                        time.time()) is None  # never another image's
    at.run()
    assert grid_tiles(at)[0]["src"] == tile["src"]  # the same URL next run: the cache answers
    assert not at.get("image") and not [b for b in at.button if b.label == "Open"]
    click_tile(at, "open", fox)
    assert not at.exception
    assert any(b.label == "Download original" for b in at.get("download_button"))
    at.run()  # the click was one event: the next run does not open it again
    assert not at.get("download_button")


def test_select_mode_draws_tick_boxes_instead_of_the_grid() -> None:
    at = app_as("ann", "member")
    fox = _image("ann", "ann private fox")
    at.switch_page("screens/gallery.py").run()
    at.toggle(key="gal_selecting").set_value(True).run()
    assert not at.exception
    assert grid_tiles(at) == []
    at.checkbox(key=f"sel-{fox}").check().run()
    assert at.session_state["gal_selected"] == {fox}


def test_the_style_filter_names_styles_as_generate_does() -> None:
    at = app_as("ann", "member")
    ensure_user("ann", "member")
    eng = ui.engine()
    job_id = jobs.submit(eng, "ann", jobs.JobSpec(prompt="fox", width=64, height=64,
                                                  style="cartoon"))
    while jobs.get(eng, job_id).status in jobs.ACTIVE:  # type: ignore[union-attr]
        run_next(eng)
    at.switch_page("screens/gallery.py").run()
    assert at.multiselect(key="gal_styles").options == ["Cartoon"]
    at.multiselect(key="gal_styles").select("cartoon").run()
    assert not at.exception and "1 image matches" in _captions(at)


def test_home_shows_my_latest_and_shared_images_as_grids_that_open_on_click() -> None:
    at = app_as("ann", "member")
    mine = _image("ann", "ann private fox")
    kite = _image("bob", "bob shared kite", shared=True)
    _image("bob", "bob private boat")
    at.switch_page("screens/home.py").run()
    assert [t["id"] for t in grid_tiles(at, "home_mine")] == [mine]
    assert [t["id"] for t in grid_tiles(at, "home_team")] == [kite]
    click_tile(at, "open", kite, key="home_team")
    assert not at.exception
    assert any("bob shared kite" in m.value for m in at.markdown)
    assert any(b.label == "Download original" for b in at.get("download_button"))
