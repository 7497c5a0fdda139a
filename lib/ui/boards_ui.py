"""Boards on the pages: the Boards page's list, create form, one board's grid and management,
(the Gallery's "Add to board" rows: :mod:`lib.ui.board_picker`).

Every read and write goes through ``lib.boards.store`` with the signed-in viewer, so a board
id from the URL or a stale session reaches only what its rules allow (a board one cannot
view is "not found"; its grid holds only images one could see in the Gallery anyway).
Names and descriptions are typed by people: every one is drawn through ``plain``.
"""

from __future__ import annotations

import streamlit as st

from lib.auth.access import Viewer
from lib.boards import store
from lib.boards.rules import (
    MAX_DESCRIPTION,
    MAX_NAME,
    VISIBILITIES,
    BoardMissing,
)
from lib.core.text import plain
from lib.engine import Engine
from lib.gallery import queries as gallery
from lib.ui import gallery_view, grid, toasts
from lib.ui.board_picker import REFUSED
from lib.ui.display import money
from lib.ui.widgets import pager

OPEN = "board_open"  # the board shown on the Boards page (also ?board=<id>)
PAGE = "board_page"
VIS_LABEL = {"private": "Private: only me (and admins)", "team": "The team: every signed-in "
             "user views it", "members": "Named members only"}


def create_form(eng: Engine, viewer: Viewer) -> None:
    """Name, description and visibility of a new board (members and admins)."""
    with st.form("board-new", clear_on_submit=True):
        name = st.text_input("Name", max_chars=MAX_NAME, key="board-new-name")
        description = st.text_area("Description", max_chars=MAX_DESCRIPTION,
                                   key="board-new-description")
        vis = st.selectbox("Visible to", VISIBILITIES, format_func=VIS_LABEL.__getitem__,
                           key="board-new-visibility")
        if st.form_submit_button("Create board", icon=":material/add:", key="board-new-go"):
            try:
                board = store.create(eng.db, viewer, name, description=description,
                                     visibility=vis, now=eng.clock.now())
                toasts.later(f"Created the board {plain(board.name)}.",
                             ":material/dashboard:")
                st.session_state[OPEN] = board.id
                st.rerun()
            except REFUSED as exc:
                st.error(plain(exc), icon=":material/block:")


def board_list(eng: Engine, viewer: Viewer) -> None:
    """Every board the viewer may view, as buttons that open it; archived ones on request."""
    archived = st.toggle("Show archived boards", key="boards_archived")
    boards = store.list_boards(eng.db, viewer, archived=archived)
    if not boards:
        st.info("No boards here yet." + (" Create one below." if viewer.role != "analyst"
                                         else ""), icon=":material/dashboard:")
    for b in boards:
        row, go = st.columns([5, 1], vertical_alignment="center")
        row.markdown(f"**{plain(b.name)}** · {plain(b.owner)} · {b.visibility} · you "
                     f"{b.right}" + (f"  \n{plain(b.description[:200])}" if b.description
                                     else ""))
        if go.button("Open", key=f"board-open-{b.id}"):
            st.session_state.update({OPEN: b.id, PAGE: 0})
            st.rerun()


def board_view(eng: Engine, viewer: Viewer, board_id: str) -> None:
    """One board: its summary, grid, image removal (editors) and management (owner/admins)."""
    try:
        board = store.get_board(eng.db, viewer, board_id)
    except BoardMissing as exc:
        st.error(plain(exc), icon=":material/block:")
        return
    st.subheader(plain(board.name))
    if board.description:
        st.caption(plain(board.description))
    s = store.summary(eng.db, viewer, board.id)
    a, b = st.columns(2)
    a.metric("Images", f"{s.images:,}")
    b.metric("Total cost", money(s.cost_usd))
    if s.first and s.last:  # a caption: a metric cuts a date range short on a phone
        st.caption(f"Made from {s.first:%Y-%m-%d} to {s.last:%Y-%m-%d} (UTC).")
    if 0 < s.images <= store.ZIP_MAX:  # built only when the button is pressed
        st.download_button(
            "Download zip", data=lambda: store.zip_board(eng.db, eng.storage, viewer, board.id),
            file_name=f"promptboard-board-{board.id}.zip", mime="application/zip",
            on_click="ignore", icon=":material/folder_zip:", key="board-zip")
    result = store.images(eng.db, viewer, board.id, page=st.session_state.get(PAGE, 0))
    clicked = grid.Click()
    if result.rows:
        clicked = grid.grid([gallery_view.grid_tile(eng, card) for card in result.rows],
                            key="board_grid")
    if result.pages > 1:
        pager(PAGE, result.page, result.pages, result.total)
    if clicked.image_id:
        gallery_view.detail(eng, viewer, clicked.image_id)
    if board.may("edit") and result.rows:
        _remove_row(eng, viewer, board, result.rows)
    if board.may("manage"):
        _manage(eng, viewer, board)


def _remove_row(eng: Engine, viewer: Viewer, board: store.Board,
                cards: list[gallery.ImageCard]) -> None:
    labels = {c.id: f"{c.prompt[:40]} ({c.id})" for c in cards}
    with st.expander("Take images off this board"):
        gone = st.multiselect("Images", list(labels), format_func=labels.__getitem__,
                              key="board-remove-pick")
        if st.button("Take off the board", key="board-remove", disabled=not gone):
            n = store.remove_images(eng.db, viewer, board.id, gone, eng.clock.now())
            toasts.later(f"Took {n} image{'s' if n != 1 else ''} off the board.",
                         ":material/dashboard:")
            st.rerun()


def _manage(eng: Engine, viewer: Viewer, board: store.Board) -> None:
    members = store.members(eng.db, viewer, board.id)
    with st.expander("Manage this board"), st.form(f"board-edit-{board.id}"):
        name = st.text_input("Name", board.name, max_chars=MAX_NAME)
        description = st.text_area("Description", board.description,
                                   max_chars=MAX_DESCRIPTION)
        vis = st.selectbox("Visible to", VISIBILITIES, VISIBILITIES.index(board.visibility),
                           format_func=VIS_LABEL.__getitem__)
        viewers = st.text_input("Viewers (usernames, comma-separated)", ", ".join(
            u for u, a in members.items() if a == "viewer"))
        editors = st.text_input("Editors (usernames, comma-separated)", ", ".join(
            u for u, a in members.items() if a == "editor"))
        archived = st.toggle("Archived", board.archived)
        if st.form_submit_button("Save"):
            wanted = {u.strip(): "viewer" for u in viewers.split(",") if u.strip()}
            wanted |= {u.strip(): "editor" for u in editors.split(",") if u.strip()}
            try:
                store.update(eng.db, viewer, board.id, name=name, description=description,
                             visibility=vis, archived=archived, now=eng.clock.now())
                if wanted != members:
                    store.set_members(eng.db, viewer, board.id, wanted, eng.clock.now())
                toasts.later("Board saved.", ":material/dashboard:")
                st.rerun()
            except REFUSED as exc:
                st.error(plain(exc), icon=":material/block:")
    if st.button("Delete this board…", key="board-delete", icon=":material/delete:"):
        st.session_state["board_confirm"] = board.id
    if st.session_state.get("board_confirm") == board.id:
        st.warning("Delete this board? Its images stay in the Gallery.")
        if st.button("Delete the board", key="board-delete-yes", type="primary"):
            store.delete(eng.db, viewer, board.id)
            st.session_state.pop(OPEN, None)
            st.session_state.pop("board_confirm", None)
            toasts.later("Board deleted; its images are still in the Gallery.",
                         ":material/delete:")
            st.rerun()
