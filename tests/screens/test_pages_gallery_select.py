"""Gallery select mode under AppTest: the count, the zip and the delete are what is ticked."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1.element_tree import Block

from lib import jobs, ui
from lib.gallery import queries as gallery
from tests.helpers import app_as, ensure_user, run_next

pytestmark = pytest.mark.usefixtures("page_engine")  # tests/conftest.py


def _images(user: str, *prompts: str) -> list[str]:
    """One finished 64 px image per prompt, oldest first."""
    ensure_user(user, "member")
    eng = ui.engine()
    ids = []
    for prompt in prompts:
        job_id = jobs.submit(eng, user, jobs.JobSpec(prompt=prompt, width=64, height=64))
        while jobs.get(eng, job_id).status in jobs.ACTIVE:  # type: ignore[union-attr]
            run_next(eng)
        ids.append(str(eng.db.scalar("SELECT id FROM images WHERE job_id = ?", [job_id])))
    return ids


@pytest.fixture
def zips(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Callable[[], Any]]]:
    """The deferred download callables the last runs registered, by file name.

    AppTest's media manager lives for one run, so the callable behind a download button is
    caught as it is registered; calling it builds the file the browser would receive.
    """
    seen: dict[str, Callable[[], Any]] = {}
    real = MediaFileManager.add_deferred

    def record(self: MediaFileManager, data_callable: Callable[[], Any], *args: Any,
               **kwargs: Any) -> str:
        seen[str(kwargs.get("file_name"))] = data_callable
        return real(self, data_callable, *args, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    yield seen


def _selecting(user: str = "ann") -> Any:
    at = app_as(user, "member", page="screens/gallery.py")
    at.toggle(key="gal_selecting").set_value(True).run()
    return at


def _bar(at: Any) -> str:
    """The bulk bar's "N selected", or "" when the bar is not drawn."""
    found = [m.value for m in at.markdown if m.value.endswith("selected**")]
    return found[0] if found else ""


def _ticked(at: Any) -> set[str]:
    return {c.key.removeprefix("sel-") for c in at.checkbox
            if (c.key or "").startswith("sel-") and c.value}


def _previews(at: Any) -> list[Any]:
    """The thumbnails inside the delete confirmation (a container keyed delete-preview)."""
    for node in at._tree:
        if isinstance(node, Block) and node._block_id.endswith("delete-preview"):
            return [img for el in node.get("image") for img in el.proto.imgs]
    return []


def _tick(at: Any, *ids: str, on: bool = True) -> None:
    for image_id in ids:
        at.checkbox(key=f"sel-{image_id}").set_value(on).run()
        assert not at.exception


def test_ticking_three_images_counts_three_and_the_zip_holds_those_three(
        zips: dict[str, Callable[[], Any]]) -> None:
    ids = _images("ann", "fox", "owl", "kite", "boat")
    at = _selecting()
    _tick(at, ids[0])
    assert _bar(at) == "**1 selected**"  # the first tick counts at once
    _tick(at, ids[1], ids[2])
    assert _bar(at) == "**3 selected**"
    with zipfile.ZipFile(io.BytesIO(zips["promptboard-images.zip"]())) as zf:
        names = sorted(zf.namelist())
    assert names[-1] == "manifest.csv"  # and the images are named by date, prompt and whole id
    assert sorted(n.rsplit("_", 1)[1] for n in names[:-1]) == sorted(f"{i}.png" for i in ids[:3])


def test_clear_unticks_every_box_and_the_next_interaction_shows_nothing_selected() -> None:
    ids = _images("ann", "fox", "owl", "kite", "boat")
    at = _selecting()
    _tick(at, *ids[:3])
    at.button(key="bulk-clear").click().run()
    assert not at.exception
    assert _ticked(at) == set() and _bar(at) == ""
    at.text_input(key="gal_text").input("o").run()  # any later interaction
    assert _ticked(at) == set() and _bar(at) == ""
    assert at.session_state["gal_selected"] == set()


def test_unticking_every_box_takes_the_bar_away_at_once() -> None:
    ids = _images("ann", "fox", "owl")
    at = _selecting()
    _tick(at, *ids)
    assert _bar(at) == "**2 selected**"
    _tick(at, ids[0], on=False)
    assert _bar(at) == "**1 selected**"
    _tick(at, ids[1], on=False)
    assert _bar(at) == ""


def test_delete_after_clear_deletes_only_what_is_ticked_and_shows_each_one_first() -> None:
    ids = _images("ann", "fox", "owl", "kite", "boat")
    at = _selecting()
    _tick(at, *ids[:3])
    at.button(key="bulk-clear").click().run()
    _tick(at, ids[3])
    at.button(key="bulk-delete").click().run()
    assert not at.exception
    assert len(_previews(at)) == 1  # the confirmation shows the one image it will delete
    at.button(key="confirm-del").click().run()
    assert not at.exception
    left = {r[0] for r in ui.engine().db.fetchall("SELECT id FROM images")}
    assert left == set(ids[:3])
    assert _ticked(at) == set() and _bar(at) == ""
    assert [t.value for t in at.toast] == ["Deleted 1 image."]  # said after the rerun


def test_the_delete_confirmation_follows_the_ticks_while_it_is_open() -> None:
    ids = _images("ann", "fox", "owl", "kite")
    at = _selecting()
    _tick(at, *ids)
    at.button(key="bulk-delete").click().run()
    _tick(at, ids[0], on=False)  # changed my mind about one
    assert any("Delete 2 images?" in w.value for w in at.warning)
    assert len(_previews(at)) == 2
    at.button(key="confirm-del").click().run()
    left = {r[0] for r in ui.engine().db.fetchall("SELECT id FROM images")}
    assert left == {ids[0]}


def test_unticking_everything_closes_the_delete_question_for_good() -> None:
    [fox] = _images("ann", "fox")
    at = _selecting()
    _tick(at, fox)
    at.button(key="bulk-delete").click().run()
    _tick(at, fox, on=False)
    _tick(at, fox)  # ticking again later does not reopen it
    assert not any("Delete 1 image?" in w.value for w in at.warning)


def test_leaving_select_mode_clears_the_selection() -> None:
    ids = _images("ann", "fox", "owl")
    at = _selecting()
    _tick(at, *ids)
    at.toggle(key="gal_selecting").set_value(False).run()
    assert _bar(at) == "" and at.session_state["gal_selected"] == set()
    at.toggle(key="gal_selecting").set_value(True).run()
    assert _ticked(at) == set()


def test_deleting_from_the_detail_view_asks_inside_the_dialog_with_the_image_in_view() -> None:
    [fox, owl] = _images("ann", "fox", "owl")
    at = _detail(fox)
    at.session_state["gal_open"] = fox  # in a browser a click reruns the open dialog
    at.button(key="dlg-del").click().run()
    assert not at.exception
    assert any("Delete this image?" in w.value for w in at.warning)
    assert any(b.label == "Download original" for b in at.get("download_button"))  # still open
    at.session_state["gal_open"] = fox
    at.button(key="dlg-confirm-del").click().run()
    assert not at.exception
    assert {r[0] for r in ui.engine().db.fetchall("SELECT id FROM images")} == {owl}


def test_keep_it_in_the_detail_view_deletes_nothing() -> None:
    [fox] = _images("ann", "fox")
    at = _detail(fox)
    at.session_state["gal_open"] = fox
    at.button(key="dlg-del").click().run()
    at.session_state["gal_open"] = fox
    at.button(key="dlg-keep").click().run()
    assert not at.exception
    assert ui.engine().db.scalar("SELECT count(*) FROM images") == 1
    assert not any("Delete this image?" in w.value for w in at.warning)


def test_a_teammates_shared_image_in_the_selection_is_named_before_any_delete() -> None:
    [mine] = _images("ann", "fox")
    [theirs] = _images("bob", "kite")
    gallery.set_shared(ui.engine().db, gallery.Viewer("bob", "member"), [theirs], True)
    at = _selecting()
    _tick(at, mine, theirs)
    at.button(key="bulk-delete").click().run()
    assert any("1 image of these is not yours" in e.value for e in at.error)
    assert at.button(key="confirm-del").disabled
    _tick(at, theirs, on=False)
    assert not at.button(key="confirm-del").disabled
    at.button(key="confirm-del").click().run()
    assert {r[0] for r in ui.engine().db.fetchall("SELECT id FROM images")} == {theirs}


def _detail(image_id: str) -> Any:
    """The Gallery with one image's dialog open, as the signed-in ann."""
    at = app_as("ann", "member", page="screens/gallery.py")
    at.query_params["image"] = image_id
    return at.run()
