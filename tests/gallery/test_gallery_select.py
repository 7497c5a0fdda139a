"""The ticked images as the delete confirmation sees them: visible ones only, and whose."""

from __future__ import annotations

from lib.engine import Engine
from lib.gallery import selection as gallery_select
from tests.builders import ADMIN, ALICE, ANALYST
from tests.builders import add_image as add


def test_previews_keep_the_order_given_and_drop_what_the_viewer_cannot_see(
        engine: Engine) -> None:
    keys = add(engine, "mine", "alice")
    add(engine, "theirs-shared", "bob", shared=True)
    add(engine, "theirs-private", "bob")
    got = gallery_select.previews(engine.db, ALICE,
                                  ["theirs-shared", "mine", "theirs-private", "mine", "gone"])
    assert [(p.id, p.deletable) for p in got] == [("theirs-shared", False), ("mine", True)]
    assert (got[1].thumb_key, got[1].prompt) == (keys[2], "a red fox")


def test_an_admin_may_delete_every_preview_and_an_analyst_none(
        engine: Engine) -> None:
    add(engine, "a", "alice")
    add(engine, "b", "bob")
    assert [p.deletable for p in gallery_select.previews(engine.db, ADMIN, ["a", "b"])] == [
        True, True]
    assert [p.deletable for p in gallery_select.previews(engine.db, ANALYST, ["a", "b"])] == [
        False, False]
    assert gallery_select.previews(engine.db, ADMIN, []) == []
