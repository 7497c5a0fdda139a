"""The Gallery page under AppTest: what each role sees, and no way around it."""

from __future__ import annotations

import pytest

from lib import gallery, jobs, ui
from tests.helpers import app_as, ensure_user, run_next

pytestmark = pytest.mark.usefixtures("app_test_seam")  # tests/conftest.py


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
    """Captions, including those under images."""
    images = [img.proto.imgs[0].caption for img in at.get("image")]  # type: ignore[attr-defined]
    return " ".join([c.value for c in at.caption] + images)  # type: ignore[attr-defined]


def test_a_member_sees_own_and_shared_images_only() -> None:
    at = app_as("ann", "member")
    _image("ann", "ann private fox")
    _image("bob", "bob private boat")
    _image("bob", "bob shared kite", shared=True)
    at.switch_page("pages/gallery.py").run()
    assert not at.exception
    text = _captions(at)
    assert "ann private fox" in text and "bob shared kite" in text
    assert "bob private boat" not in text
    assert "2 image(s) match" in text


def test_an_analyst_sees_everyone_and_can_filter_by_user() -> None:
    at = app_as("ana", "analyst")
    _image("ann", "ann private fox")
    _image("bob", "bob private boat")
    at.switch_page("pages/gallery.py").run()
    assert not at.exception
    assert "2 image(s) match" in _captions(at)
    at.text_input(key="gal_text").input("boat").run()
    assert "1 image(s) match" in _captions(at)


def test_a_member_cannot_open_another_members_private_image_by_url() -> None:
    at = app_as("ann", "member")
    private = _image("bob", "bob private boat")
    at.switch_page("pages/gallery.py")
    at.query_params["image"] = private
    at.run()
    assert not at.exception
    assert any("not yours to see" in e.value for e in at.error)
    assert "bob private boat" not in " ".join(m.value for m in at.markdown)


def test_opening_my_image_shows_its_parameters() -> None:
    at = app_as("ann", "member")
    mine = _image("ann", "ann private fox")
    at.switch_page("pages/gallery.py")
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
    monkeypatch.setattr(ui._THUMBS, "maxsize", 2)
    ui._THUMBS.clear()
    first = ui.thumbnail(eng, "t/0.webp")
    assert first == "data:image/webp;base64,UklGRgA="
    assert ui.thumbnail(eng, "t/0.webp") == first and reads == ["t/0.webp"]
    ui.thumbnail(eng, "t/1.webp")
    ui.thumbnail(eng, "t/0.webp")  # most recently used again
    ui.thumbnail(eng, "t/2.webp")  # evicts t/1, the least recently used
    assert len(ui._THUMBS) == 2 and reads == ["t/0.webp", "t/1.webp", "t/2.webp"]
    ui.thumbnail(eng, "t/1.webp")
    assert reads[-1] == "t/1.webp"
