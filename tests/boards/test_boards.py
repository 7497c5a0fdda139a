"""Boards (both backends): who sees and changes a board, hostile names, images on and off,
the summary, the isolation rule (a board never shows an image its viewer could not see),
deleting a board keeps its images, deleting an image leaves its boards."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from lib.auth import accounts
from lib.auth.access import Viewer
from lib.boards import store as b
from lib.boards.rules import BoardDenied, BoardError, BoardMissing
from lib.engine import Engine
from lib.gallery import queries as g
from tests.builders import ADMIN, ALICE, ANALYST, BOB, T0
from tests.builders import add_image as add

CAROL = Viewer("carol", "member")


@pytest.fixture
def team(engine: Engine) -> Engine:
    """alice's private and shared images, bob's private one; accounts for the members."""
    for name in ("alice", "bob", "carol"):
        accounts.create_user(engine.db, name, name.title(), None, "member", None, now=T0)
    add(engine, "a-private", "alice", cost="0.10")
    add(engine, "a-shared", "alice", shared=True, cost="0.02",
        created=T0 + timedelta(days=2))
    add(engine, "b-private", "bob", cost="1.00", created=T0 + timedelta(days=5))
    return engine


def test_a_private_board_is_its_owners_and_the_admins_alone(team: Engine) -> None:
    board = b.create(team.db, ALICE, "  Launch   shots ", description="for\nthe launch", now=T0)
    assert (board.name, board.description, board.right) == ("Launch shots", "for\nthe launch",
                                                            "manage")
    assert [x.id for x in b.list_boards(team.db, ALICE)] == [board.id]
    assert b.list_boards(team.db, BOB) == [] and b.list_boards(team.db, ANALYST) == []
    assert b.get_board(team.db, ADMIN, board.id).right == "manage"
    for call in (lambda: b.get_board(team.db, BOB, board.id),
                 lambda: b.add_images(team.db, BOB, board.id, ["b-private"], T0),
                 lambda: b.update(team.db, BOB, board.id, name="mine", now=T0),
                 lambda: b.delete(team.db, BOB, board.id),
                 lambda: b.summary(team.db, BOB, board.id)):
        with pytest.raises(BoardMissing, match="not found, or you cannot see it"):
            call()
    b.set_members(team.db, ALICE, board.id, {"bob": "editor"}, T0)  # kept, but private
    with pytest.raises(BoardMissing):
        b.get_board(team.db, BOB, board.id)


def test_team_and_members_visibility_and_rights(team: Engine) -> None:
    board = b.create(team.db, ALICE, "Team picks", visibility="team", now=T0)
    assert b.get_board(team.db, BOB, board.id).right == "view"
    with pytest.raises(BoardDenied, match="only its owner or an admin"):
        b.update(team.db, BOB, board.id, name="bob's", now=T0)
    with pytest.raises(BoardDenied, match="an editor can change its images"):
        b.add_images(team.db, BOB, board.id, ["a-shared"], T0)
    assert b.set_members(team.db, ALICE, board.id, {"Bob": "editor", "carol": "viewer"},
                         T0) == {"bob": "editor", "carol": "viewer"}
    assert b.add_images(team.db, BOB, board.id, ["a-shared", "b-private"], T0) == 2
    with pytest.raises(BoardDenied):
        b.add_images(team.db, CAROL, board.id, ["a-shared"], T0)
    with pytest.raises(BoardDenied):
        b.set_members(team.db, BOB, board.id, {"bob": "editor"}, T0)
    b.update(team.db, ALICE, board.id, visibility="members", now=T0)
    assert b.get_board(team.db, CAROL, board.id).right == "view"
    b.set_members(team.db, ALICE, board.id, {"bob": "viewer"}, T0)
    with pytest.raises(BoardMissing):
        b.get_board(team.db, CAROL, board.id)
    with pytest.raises(BoardError, match="No account is named 'nobody'"):
        b.set_members(team.db, ALICE, board.id, {"nobody": "viewer"}, T0)
    with pytest.raises(BoardError, match="viewer or an editor"):
        b.set_members(team.db, ALICE, board.id, {"bob": "owner"}, T0)
    with pytest.raises(BoardDenied, match="Analysts"):
        b.create(team.db, ANALYST, "numbers", now=T0)


@pytest.mark.parametrize(("raw", "says"), [
    ("", "needs a name"), ("   ", "needs a name"), ("x" * 81, "at most 80"),
    ("a\nb", r"U\+000A"), ("bidi\u202eevil", r"U\+202E"), ("nul\x00", r"U\+0000"),
    (42, "text")])
def test_a_board_name_is_hostile_text(team: Engine, raw: object, says: str) -> None:
    with pytest.raises(BoardError, match=says):
        b.create(team.db, ALICE, raw, now=T0)
    assert b.list_boards(team.db, ADMIN) == []


def test_descriptions_and_visibility_are_checked(team: Engine) -> None:
    with pytest.raises(BoardError, match="at most 1000"):
        b.create(team.db, ALICE, "x", description="d" * 1001, now=T0)
    with pytest.raises(BoardError, match=r"U\+0007"):
        b.create(team.db, ALICE, "x", description="bell\x07", now=T0)
    with pytest.raises(BoardError, match="one of private, team, members"):
        b.create(team.db, ALICE, "x", visibility="public", now=T0)
    kept = b.create(team.db, ALICE, "**bold** <b>x</b> =cmd()", now=T0)
    assert kept.name == "**bold** <b>x</b> =cmd()"  # kept as typed; the pages show it inert


def test_a_board_never_shows_an_image_its_viewer_could_not_see(team: Engine) -> None:
    board = b.create(team.db, ALICE, "Mixed", visibility="team", now=T0)
    assert b.add_images(team.db, ALICE, board.id, ["a-private", "a-shared"], T0) == 2
    with pytest.raises(g.GalleryError, match="not found"):  # alice cannot see bob's private
        b.add_images(team.db, ALICE, board.id, ["b-private"], T0)
    b.add_images(team.db, ADMIN, board.id, ["b-private"], T0)  # an admin sees it
    mine = b.summary(team.db, ALICE, board.id)
    assert (mine.images, mine.cost_usd) == (2, Decimal("0.12"))
    assert (mine.first, mine.last) == (T0, T0 + timedelta(days=2))
    bobs = b.summary(team.db, BOB, board.id)
    assert (bobs.images, bobs.cost_usd) == (2, Decimal("1.02"))
    assert [c.id for c in b.images(team.db, BOB, board.id).rows] == ["b-private", "a-shared"]
    assert [c.id for c in b.images(team.db, CAROL, board.id).rows] == ["a-shared"]
    assert b.images(team.db, ADMIN, board.id).total == 3
    assert b.boards_of(team.db, CAROL, "a-private") == []
    assert [x.id for x in b.boards_of(team.db, ALICE, "a-private")] == [board.id]
    assert b.remove_images(team.db, ALICE, board.id, ["b-private", "a-private"], T0) == 1
    assert b.images(team.db, ADMIN, board.id).total == 2  # bob's stays: alice cannot see it


def test_an_image_on_several_boards_and_deletes(team: Engine) -> None:
    one = b.create(team.db, ALICE, "One", now=T0)
    two = b.create(team.db, ALICE, "Two", now=T0)
    for board in (one, two):
        assert b.add_images(team.db, ALICE, board.id, ["a-shared", "a-shared"], T0) == 1
    assert b.add_images(team.db, ALICE, one.id, ["a-shared"], T0) == 0  # already on it
    b.delete(team.db, ALICE, one.id)
    assert g.get_image(team.db, ALICE, "a-shared") is not None  # the image stays
    assert b.summary(team.db, ALICE, two.id).images == 1
    g.delete_images(team.db, team.storage, ALICE, ["a-shared"])
    assert b.summary(team.db, ALICE, two.id).images == 0
    assert team.db.fetchone("SELECT count(*) FROM board_images") == (0,)


def test_archived_boards_take_no_images_and_leave_the_list(team: Engine) -> None:
    board = b.create(team.db, ALICE, "Old", visibility="team", now=T0)
    b.update(team.db, ALICE, board.id, archived=True, now=T0)
    assert b.list_boards(team.db, ALICE) == []
    assert [x.id for x in b.list_boards(team.db, ALICE, archived=True)] == [board.id]
    with pytest.raises(BoardDenied, match="archived"):
        b.add_images(team.db, ALICE, board.id, ["a-shared"], T0)
    b.update(team.db, ALICE, board.id, archived=False, now=T0)
    assert b.add_images(team.db, ALICE, board.id, ["a-shared"], T0) == 1


def test_management_is_audited(team: Engine) -> None:
    board = b.create(team.db, ALICE, "Audited", now=T0)
    b.update(team.db, ALICE, board.id, name="Renamed", visibility="team", archived=True, now=T0)
    b.delete(team.db, ADMIN, board.id)
    rows = team.db.fetchall("SELECT action FROM audit_log WHERE target = ? ORDER BY occurred_at",
                            [board.id])
    assert sorted(r[0] for r in rows) == sorted(["board_create", "board_edit",
                                                 "board_visibility", "board_archive",
                                                 "board_delete"])


def test_a_board_downloads_as_a_zip_of_what_its_viewer_can_see(team: Engine) -> None:
    import csv
    import io
    import zipfile

    board = b.create(team.db, ADMIN, "Zip", visibility="team", now=T0)
    with pytest.raises(BoardError, match="nothing to download"):
        b.zip_board(team.db, team.storage, BOB, board.id)
    b.add_images(team.db, ADMIN, board.id, ["a-private", "a-shared", "b-private"], T0)
    with zipfile.ZipFile(io.BytesIO(b.zip_board(team.db, team.storage, BOB, board.id))) as zf:
        text = zf.read("manifest.csv").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted((r["image_id"], r["user_id"], r["cost_usd"]) for r in rows) == [
        ("a-shared", "alice", "0.02"), ("b-private", "bob", "1")]
    assert all(r["prompt"] and r["model"] for r in rows)
    with pytest.raises(BoardMissing):
        b.zip_board(team.db, team.storage, CAROL, b.create(team.db, ALICE, "p", now=T0).id)
