"""Boards under AppTest: create and open a board, its count, cost and date range; the
Gallery's and Compare's "Add to board" (select mode, dialog, a finished grid); a private
board is not found by another member through the URL; a viewer gets no management; a
board's grid never shows an image its viewer could not see; hostile names drawn inert."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from lib import ui
from lib.auth.access import Viewer
from lib.boards import store
from tests.builders import add_image
from tests.helpers import app_as, ensure_user, run_next, wait_until

pytestmark = pytest.mark.usefixtures("page_engine")  # tests/conftest.py
NOW = datetime(2026, 11, 1, 12)
ANN, BOB = Viewer("ann", "member"), Viewer("bob", "member")


def _add(image_id: str, user: str, shared: bool = False, cost: str = "0.01",
         days: int = 0) -> str:
    ensure_user(user, "member")
    add_image(ui.engine(), image_id, user, prompt=f"{image_id} prompt", shared=shared,
              cost=cost, created=NOW + timedelta(days=days))
    return image_id


def _on(board_id: str) -> list[str]:
    return [r[0] for r in ui.engine().db.fetchall(
        "SELECT image_id FROM board_images WHERE board_id = ? ORDER BY image_id", [board_id])]


def _board(at: Any, board_id: str) -> Any:
    at.query_params["board"] = board_id
    return at.run()


def _metrics(at: Any) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_create_a_board_and_see_its_summary() -> None:
    _add("ann-fox", "ann", cost="0.25")
    _add("ann-owl", "ann", cost="0.50", days=3)
    at = app_as("ann", "member", page="screens/boards.py")
    assert not at.exception
    at.text_input(key="board-new-name").input("  Launch  day ")
    at.text_area(key="board-new-description").input("**not bold**")
    at.button(key="board-new-go").click().run()
    assert not at.exception
    (board,) = store.list_boards(ui.engine().db, ANN)
    assert board.name == "Launch day" and at.session_state["board_open"] == board.id
    store.add_images(ui.engine().db, ANN, board.id, ["ann-fox", "ann-owl"], NOW)
    at.run()
    assert _metrics(at) == {"Images": "2", "Total cost": "$0.75"}
    assert "Made from 2026-11-01 to 2026-11-04 (UTC)." in [c.value for c in at.caption]
    assert any("\\*\\*not bold\\*\\*" in c.value for c in at.caption)
    assert at.button(key="board-delete")  # the owner manages
    assert at.get("download_button")  # the board as a zip with its manifest


def test_add_to_board_from_the_gallerys_select_mode_and_dialog() -> None:
    fox, owl = _add("ann-fox", "ann"), _add("ann-owl", "ann", days=1)
    board = store.create(ui.engine().db, ANN, "Picks", now=NOW)
    at = app_as("ann", "member", page="screens/gallery.py")
    at.toggle(key="gal_selecting").set_value(True).run()
    at.checkbox(key=f"sel-{fox}").set_value(True).run()
    at.selectbox(key="bulk-board-pick").set_value(board.id).run()
    at.button(key="bulk-board-add").click().run()
    assert not at.exception and not at.error
    assert _on(board.id) == [fox]
    at = app_as("ann", "member", page="screens/gallery.py")
    at.query_params["image"] = owl
    at.run()
    at.button(key=f"dlg-board-{owl}-add").click().run()
    assert not at.exception
    assert _on(board.id) == [fox, owl]
    at.query_params["image"] = owl
    at.run()
    assert any(c.value == "On boards: Picks" for c in at.caption)


def test_a_private_board_is_not_found_by_another_member() -> None:
    ensure_user("bob", "member")
    secret = store.create(ui.engine().db, BOB, "Bob's secret", now=NOW)
    at = _board(app_as("ann", "member", page="screens/boards.py"), secret.id)
    assert not at.exception
    assert any("was not found, or you cannot see it" in e.value for e in at.error)
    assert not at.metric and "secret" not in " ".join(m.value for m in at.markdown)


def test_a_viewer_sees_only_images_they_could_see_and_cannot_manage() -> None:
    _add("bob-private", "bob", cost="1.00")
    _add("bob-shared", "bob", shared=True, cost="0.10")
    ensure_user("ann", "member")
    board = store.create(ui.engine().db, BOB, "**Team** <b>board</b>", visibility="team",
                         now=NOW)
    store.add_images(ui.engine().db, BOB, board.id, ["bob-private", "bob-shared"], NOW)
    at = _board(app_as("ann", "member", page="screens/boards.py"), board.id)
    assert not at.exception
    assert _metrics(at)["Images"] == "1" and _metrics(at)["Total cost"] == "$0.10"
    assert not [b for b in at.button if b.key in ("board-delete", "board-remove")]
    assert at.subheader[0].value == "\\*\\*Team\\*\\* \\<b\\>board\\</b\\>"  # plain()
    listing = app_as("ann", "member", page="screens/boards.py")
    assert any("Team" in m.value for m in listing.markdown)


def test_the_owner_renames_shares_and_deletes_a_board_its_images_stay() -> None:
    fox = _add("ann-fox", "ann")
    ensure_user("bob", "member")
    board = store.create(ui.engine().db, ANN, "Old name", now=NOW)
    store.add_images(ui.engine().db, ANN, board.id, [fox], NOW)
    at = _board(app_as("ann", "member", page="screens/boards.py"), board.id)
    at.text_input[0].input("New name")
    at.selectbox[0].set_value("members")
    at.text_input[2].input("bob")  # editors
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception and not at.error
    assert store.get_board(ui.engine().db, BOB, board.id).right == "edit"
    assert store.get_board(ui.engine().db, ANN, board.id).name == "New name"
    at.button(key="board-delete").click().run()
    at.button(key="board-delete-yes").click().run()
    assert not at.exception
    assert store.list_boards(ui.engine().db, ANN) == []
    assert ui.engine().db.fetchone("SELECT count(*) FROM images WHERE id = ?", [fox]) == (1,)


def test_a_compare_grids_images_go_to_a_board() -> None:
    from lib.compare import grid as compare
    from lib.compare import store as comparisons

    ensure_user("ann", "member")
    grid = compare.Grid(rows=("a fox",), columns=compare.columns_from_axes(
        [compare.Axis("quality", ("draft", "high"))]), seed=3)
    cid = comparisons.start(ui.engine(), ANN, grid, "Two", shared=False)
    eng = ui.engine()

    def finished() -> bool:
        while run_next(eng) is not None:  # what is left to a worker thread, wait for
            pass
        return not eng.db.scalar("SELECT count(*) FROM jobs WHERE batch_id = ? AND status IN "
                                 "('queued', 'running')", [cid])

    wait_until(finished, what="the grid's jobs to finish")
    board = store.create(ui.engine().db, ANN, "From compare", now=NOW)
    at = app_as("ann", "member", page="screens/compare.py")
    at.query_params["id"] = cid
    at.run()
    at.button(key="cmp-board-add").click().run()
    assert not at.exception
    assert len(_on(board.id)) == 2


def test_generate_sends_new_images_to_the_chosen_board_for_the_session() -> None:
    before = _add("ann-old", "ann")
    board = store.create(ui.engine().db, ANN, "Fresh", now=NOW)
    at = app_as("ann", "member", page="screens/generate.py")
    assert not at.exception
    at.selectbox(key="gen_board").set_value(board.id).run()
    since = at.session_state["gen_board_since"]
    add_image(ui.engine(), "ann-new", "ann", prompt="new", created=since + timedelta(seconds=1))
    _add("bob-new", "bob", days=60)  # someone else's: never sent
    at.run()
    assert not at.exception
    assert _on(board.id) == ["ann-new"] and before not in _on(board.id)
