"""Tags on the Gallery page under AppTest: the dialog's editor (owner only), the filter and
the search, bulk tagging all-or-nothing, hostile tags shown inert, and no leak of a tag that
is only on another member's private image."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from lib import ui
from lib.gallery import queries as gallery
from lib.gallery import tags
from tests.builders import add_image
from tests.helpers import app_as, ensure_user

pytestmark = pytest.mark.usefixtures("page_engine")  # tests/conftest.py
NOW = datetime(2026, 11, 1, 12)


def _add(image_id: str, user: str, prompt: str, shared: bool = False, on: tuple[str, ...] = (),
         minutes: int = 0) -> str:
    ensure_user(user, "member")
    eng = ui.engine()
    add_image(eng, image_id, user, prompt=prompt, shared=shared,
              created=NOW + timedelta(minutes=minutes))
    if on:
        tags.set_tags(eng.db, gallery.Viewer(user, "member"), image_id, on, NOW)
    return image_id


def _tags(image_id: str) -> list[str]:
    return [r[0] for r in ui.engine().db.fetchall(
        "SELECT tag FROM image_tags WHERE image_id = ? ORDER BY tag", [image_id])]


def _captions(at: Any) -> str:
    return " ".join(c.value for c in at.caption)


def _detail(user: str, image_id: str) -> Any:
    at = app_as(user, "member", page="screens/gallery.py")
    at.query_params["image"] = image_id
    return at.run()


def test_the_owner_adds_and_removes_tags_in_the_dialog() -> None:
    fox = _add("ann-fox", "ann", "a fox", on=("old",))
    at = _detail("ann", fox)
    box = at.multiselect(key=f"dlg-tags-{fox}")
    assert box.value == ["old"]
    box.set_value(["Night  Sky", "FOREST"]).run()  # typed new, and "old" removed
    assert not at.exception
    assert _tags(fox) == ["forest", "night sky"]
    assert at.session_state[f"dlg-tags-{fox}"] == ["forest", "night sky"]  # as kept


def test_a_refused_tag_is_said_in_the_dialog_and_nothing_changes() -> None:
    fox = _add("ann-fox", "ann", "a fox", on=("old",))
    at = _detail("ann", fox)
    at.multiselect(key=f"dlg-tags-{fox}").set_value(["old", "x" * 41]).run()
    at.session_state["gal_open"] = fox  # in a browser the dialog stays open
    at.run()
    assert not at.exception
    assert any("at most 40 characters" in e.value for e in at.error)
    assert _tags(fox) == ["old"] and at.session_state[f"dlg-tags-{fox}"] == ["old"]


def test_another_member_sees_a_shared_images_tags_inert_but_cannot_edit_them() -> None:
    kite = _add("bob-kite", "bob", "a kite", shared=True,
                on=("**bold** [x](http://e.vil)", "=cmd()"))
    at = _detail("ann", kite)
    assert not at.exception
    assert not [m for m in at.multiselect if (m.key or "").startswith("dlg-tags-")]
    line = next(c.value for c in at.caption if c.value.startswith("Tags:"))
    assert "\\*\\*bold\\*\\* \\[x\\]\\(http" in line and "=cmd\\(\\)" in line


def test_the_filter_offers_only_tags_the_member_can_see_and_finds_by_tag() -> None:
    _add("ann-fox", "ann", "a fox", on=("animal", "red"))
    _add("ann-owl", "ann", "an owl", on=("animal",), minutes=1)
    _add("bob-kite", "bob", "a kite", shared=True, on=("toy",), minutes=2)
    _add("bob-boat", "bob", "a boat", on=("bobs secret plan",), minutes=3)
    at = app_as("ann", "member", page="screens/gallery.py")
    box = at.multiselect(key="gal_tags")
    assert box.options == ["animal", "red", "toy"]  # most used first; no private tag of bob's
    box.set_value(["animal", "toy"]).run()
    assert "3 images match" in _captions(at)
    at.toggle(key="gal_tags_all").set_value(True).run()
    assert "0 images match" in _captions(at)
    at.multiselect(key="gal_tags").set_value(["animal", "red"]).run()
    assert "1 image matches" in _captions(at)
    at.multiselect(key="gal_tags").set_value([]).run()
    at.text_input(key="gal_text").input("toy").run()  # the search box reads tags too
    assert "1 image matches" in _captions(at)
    at.text_input(key="gal_text").input("secret").run()
    assert "0 images match" in _captions(at)


def test_bulk_tagging_names_an_image_not_yours_and_changes_nothing_then_tags_the_rest(
        ) -> None:
    mine = [_add("ann-fox", "ann", "a fox"), _add("ann-owl", "ann", "an owl", minutes=1)]
    theirs = _add("bob-kite", "bob", "a kite", shared=True, minutes=2)
    at = app_as("ann", "member", page="screens/gallery.py")
    at.toggle(key="gal_selecting").set_value(True).run()
    for image_id in [*mine, theirs]:
        at.checkbox(key=f"sel-{image_id}").set_value(True).run()
    at.multiselect(key="bulk-tags").set_value(["Batch One"]).run()
    at.button(key="bulk-tag").click().run()
    assert not at.exception
    assert any(f"tag this image\\: {theirs}. Nothing was changed." in e.value  # plain()'s \\:
               for e in at.error)
    assert _tags(mine[0]) == _tags(mine[1]) == _tags(theirs) == []
    at.checkbox(key=f"sel-{theirs}").set_value(False).run()
    at.multiselect(key="bulk-tags").set_value(["Batch One"]).run()
    at.button(key="bulk-tag").click().run()
    assert not at.exception and not at.error
    assert _tags(mine[0]) == _tags(mine[1]) == ["batch one"]
    at.multiselect(key="bulk-tags").set_value(["batch one"]).run()
    at.button(key="bulk-untag").click().run()
    assert _tags(mine[0]) == _tags(mine[1]) == []


def test_the_dialog_shows_tags_changed_elsewhere_since_it_was_last_open() -> None:
    fox = _add("ann-fox", "ann", "a fox", on=("old",))
    at = _detail("ann", fox)
    assert at.multiselect(key=f"dlg-tags-{fox}").value == ["old"]
    tags.set_tags(ui.engine().db, gallery.Viewer("ann", "member"), fox, ["new"], NOW)  # the API
    at.session_state["gal_open"] = fox  # opened again
    at.run()
    assert not at.exception
    assert at.multiselect(key=f"dlg-tags-{fox}").value == ["new"]
