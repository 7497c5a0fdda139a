"""Tags on images: the normal form and refusals, who may tag, bulk all-or-nothing, the
suggestions' isolation, and the gallery's tag filter and search (both backends)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lib.engine import Engine
from lib.gallery import queries as g
from lib.gallery import tagnames
from lib.gallery import tags as t
from lib.gallery.tagnames import TagError
from tests.builders import ADMIN, ALICE, ANALYST, BOB, T0
from tests.builders import add_image as add

# -- The normal form (no database, but cheap enough to run on both backends' pass)


@pytest.mark.parametrize(("raw", "tag"), [
    ("Fox", "fox"), ("  red   fox ", "red fox"), ("ＦＯＸ", "fox"), ("Straße", "strasse"),
    ("**bold**", "**bold**"), ("<b>x</b>", "<b>x</b>"), ("=cmd()", "=cmd()"),
    ("[link](http://x)", "[link](http://x)"), ("مرحبا", "مرحبا"), ("x" * 40, "x" * 40),
    ("a\u00a0b", "a b"), (":red[alarm]", ":red[alarm]"), ("# heading", "# heading")])
def test_a_tag_is_kept_in_its_one_normal_form(raw: str, tag: str) -> None:
    assert tagnames.normalise(raw) == tag
    assert tagnames.match_key(raw) == tag


@pytest.mark.parametrize(("raw", "says"), [
    ("", "empty"), ("   ", "empty"), ("x" * 41, "at most 40"), ("y" * 10_000, "at most 40"),
    ("a,b", "comma"), ("a\tb", r"U\+0009"), ("line\nbreak", r"U\+000A"), ("nul\x00", r"U\+0000"),
    ("abc\u202edcba", r"U\+202E"), ("zero\u200bwidth", r"U\+200B"), ("esc\x1b[31m", r"U\+001B"),
    ("sep\u2028", r"U\+2028"), (None, "text"), (42, "text")])
def test_a_tag_is_refused_with_a_sentence(raw: object, says: str) -> None:
    with pytest.raises(TagError, match=says) as caught:
        tagnames.normalise(raw)
    assert str(caught.value).endswith(".") and len(str(caught.value)) < 200


@pytest.fixture
def team(engine: Engine) -> Engine:
    """alice's private and shared images, bob's private and shared images."""
    add(engine, "a-private", "alice", prompt="alice private fox")
    add(engine, "a-shared", "alice", shared=True, prompt="alice shared owl",
        created=T0 + timedelta(minutes=1))
    add(engine, "b-private", "bob", prompt="bob private cat", created=T0 + timedelta(minutes=2))
    add(engine, "b-shared", "bob", shared=True, prompt="bob shared dog",
        created=T0 + timedelta(minutes=3))
    return engine


def tags_of(engine: Engine, image_id: str) -> tuple[str, ...]:
    img = g.get_image(engine.db, ADMIN, image_id)
    assert img is not None
    return img.tags


def test_the_owner_tags_and_untags_their_image(team: Engine) -> None:
    assert t.set_tags(team.db, ALICE, "a-private", ["Forest", " night  sky", "forest"], T0) \
        == ["forest", "night sky"]
    assert tags_of(team, "a-private") == ("forest", "night sky")
    t.change(team.db, ALICE, ["a-private"], add=["Moon"], remove=["forest"], now=T0)
    assert tags_of(team, "a-private") == ("moon", "night sky")
    page = g.search(team.db, ALICE, g.GalleryFilter(tags=("moon",)))
    assert [(c.id, c.tags) for c in page.rows] == [("a-private", ("moon", "night sky"))]


def test_an_admin_tags_anyones_image(team: Engine) -> None:
    t.change(team.db, ADMIN, ["b-private", "a-shared"], add=["checked"], now=T0)
    assert tags_of(team, "b-private") == tags_of(team, "a-shared") == ("checked",)


@pytest.mark.parametrize("viewer", [BOB, ANALYST])
def test_another_member_or_an_analyst_may_not_tag_what_they_can_see(team: Engine,
                                                                    viewer: g.Viewer) -> None:
    with pytest.raises(g.GalleryError, match="Only their owner or an admin can tag this "
                       "image: a-shared. Nothing was changed."):
        t.set_tags(team.db, viewer, "a-shared", ["mine now"], T0)
    with pytest.raises(g.GalleryError, match="not found, or you cannot see it"):
        t.change(team.db, BOB, ["a-private"], add=["x"], now=T0)  # not even visible
    assert tags_of(team, "a-shared") == ()


def test_bulk_is_all_or_nothing_and_names_the_images_not_yours(team: Engine) -> None:
    t.change(team.db, ALICE, ["a-private"], add=["keep"], now=T0)
    add(team, "b-shared-2", "bob", shared=True)
    with pytest.raises(g.GalleryError, match="tag these 2 images: b-shared, b-shared-2. "
                       "Nothing was changed."):
        t.change(team.db, ALICE, ["a-private", "b-shared-2", "a-shared", "b-shared"],
                 add=["x"], remove=["keep"], now=T0)
    assert tags_of(team, "a-private") == ("keep",) and tags_of(team, "a-shared") == ()


def test_bulk_refuses_a_bad_tag_or_an_image_over_the_cap_and_writes_nothing(
        team: Engine) -> None:
    t.set_tags(team.db, ALICE, "a-private", [f"t{n}" for n in range(tagnames.MAX_PER_IMAGE)], T0)
    with pytest.raises(TagError, match="image a-private would have 21"):
        t.change(team.db, ALICE, ["a-shared", "a-private"], add=["one more"], now=T0)
    with pytest.raises(TagError, match="comma"):
        t.change(team.db, ALICE, ["a-shared"], add=["fine", "not,fine"], now=T0)
    assert tags_of(team, "a-shared") == ()
    with pytest.raises(TagError, match="at most 20 tags"):
        t.set_tags(team.db, ALICE, "a-shared", [f"u{n}" for n in range(21)], T0)


def test_suggestions_never_show_a_tag_only_on_another_members_private_image(
        team: Engine) -> None:
    t.set_tags(team.db, BOB, "b-private", ["secret project", "shared word"], T0)
    t.set_tags(team.db, BOB, "b-shared", ["shared word", "sea"], T0)
    t.set_tags(team.db, ALICE, "a-shared", ["shared word", "sky"], T0)
    assert t.suggestions(team.db, ALICE) == [("shared word", 2), ("sea", 1), ("sky", 1)]
    assert t.suggestions(team.db, ALICE, "SE") == [("sea", 1)]  # prefix, any case
    assert ("secret project", 1) in t.suggestions(team.db, BOB, "se")
    assert t.suggestions(team.db, ADMIN, "s")[0] == ("shared word", 3)
    assert t.suggestions(team.db, ALICE, "%") == [] and t.suggestions(team.db, ALICE, "_") == []
    for f in (g.GalleryFilter(tags=("secret project",)), g.GalleryFilter(text="secret")):
        assert g.search(team.db, ALICE, f).rows == []


def test_the_gallery_filters_by_any_or_all_tags_and_searches_tag_text(team: Engine) -> None:
    t.set_tags(team.db, ALICE, "a-private", ["Night", "forest"], T0)
    t.set_tags(team.db, ALICE, "a-shared", ["night"], T0)
    t.set_tags(team.db, BOB, "b-shared", ["forest"], T0)

    def ids(**kw: object) -> list[str]:
        found = g.search(team.db, ALICE, g.GalleryFilter(**kw))  # type: ignore[arg-type]
        return sorted(c.id for c in found.rows)

    assert ids(tags=("NIGHT",)) == ["a-private", "a-shared"]
    assert ids(tags=("night", "forest")) == ["a-private", "a-shared", "b-shared"]
    assert ids(tags=("night", "forest"), tags_all=True) == ["a-private"]
    assert ids(tags=("nope",)) == []
    assert ids(text="fores") == ["a-private", "b-shared"]  # a tag's text, not in a prompt
    assert ids(text="owl") == ["a-shared"]  # the prompt still
    assert ids(text="%") == []  # taken literally
    assert g.search(team.db, ALICE, g.GalleryFilter(tags=("forest",), group_batches=True)).total \
        == 2


def test_deleting_an_image_takes_its_tags(team: Engine) -> None:
    t.set_tags(team.db, ALICE, "a-private", ["gone soon"], T0)
    g.delete_images(team.db, team.storage, ALICE, ["a-private"])
    assert team.db.fetchall("SELECT * FROM image_tags") == []
