"""The Gallery's "Add to board" rows: in select mode's bulk bar and in the detail dialog.

Only boards the viewer may edit are offered; the write is ``lib.boards.store.add_images``
with the signed-in viewer (an image they cannot see is refused, all or nothing). Board
names are typed by people: drawn through ``plain``.
"""

from __future__ import annotations

import streamlit as st

from lib.auth.access import Viewer
from lib.boards import store
from lib.boards.rules import BoardDenied, BoardError, BoardMissing
from lib.core.text import plain
from lib.engine import Engine
from lib.gallery import queries as gallery
from lib.ui import toasts
from lib.ui.guard import authed_callback

REFUSED = (BoardError, BoardDenied, BoardMissing, gallery.GalleryError)


def _editable(eng: Engine, viewer: Viewer) -> list[store.Board]:
    return [b for b in store.list_boards(eng.db, viewer) if b.may("edit")]


def add_row(eng: Engine, viewer: Viewer, ids: list[str], key: str, *,
            skip_unseen: bool = False) -> None:
    """A board picker and an "Add to board" button for ``ids`` (bulk bar, detail dialog)."""
    boards = _editable(eng, viewer)
    if viewer.role == "analyst":  # analysts look; they never change a board
        return
    if not boards:
        st.caption("No board to add to yet: create one on the Boards page.")
        return
    names = {b.id: b.name for b in boards}
    pick, go = st.columns([3, 1], vertical_alignment="bottom")
    pick.selectbox("Board", list(names), key=f"{key}-pick", format_func=lambda i: names[i])
    go.button("Add to board", key=f"{key}-add", icon=":material/dashboard:", on_click=_add,
              args=(eng, viewer, ids, key, skip_unseen))  # a callback: runs if a dialog closes
    said = st.session_state.pop(f"{key}-said", None)
    if said:
        st.error(plain(said), icon=":material/block:")


@authed_callback
def _add(eng: Engine, viewer: Viewer, ids: list[str], key: str, skip_unseen: bool) -> None:
    chosen = str(st.session_state.get(f"{key}-pick") or "")
    if skip_unseen:  # a shared comparison may hold images this viewer cannot see
        ids = [i for i in ids if gallery.file_keys(eng.db, viewer, i) is not None]
    try:
        n = store.add_images(eng.db, viewer, chosen, ids, eng.clock.now())
        name = store.get_board(eng.db, viewer, chosen).name
        toasts.later(f"Added {n} image{'s' if n != 1 else ''} to {plain(name)}.",
                     ":material/dashboard:")
    except REFUSED as exc:
        st.session_state[f"{key}-said"] = str(exc)


def on_boards(eng: Engine, viewer: Viewer, image_id: str) -> None:
    """The detail dialog: the boards (that the viewer may view) holding this image, and the
    picker to add it to one."""
    held = store.boards_of(eng.db, viewer, image_id)
    if held:
        st.caption("On boards: " + " · ".join(plain(b.name) for b in held))
    add_row(eng, viewer, [image_id], key=f"dlg-board-{image_id}")


SEND, SINCE = "gen_board", "gen_board_since"  # Generate's target board, and since when


@authed_callback
def _target_changed(eng: Engine) -> None:
    st.session_state[SINCE] = eng.clock.now()


def send_new_images(eng: Engine, viewer: Viewer) -> None:
    """Generate's "Send new images to board": for this session, every image of the viewer's
    made after the board was chosen goes on it (on each full run of the page: one follows
    the end of the jobs)."""
    boards = _editable(eng, viewer)
    if not boards or viewer.role == "analyst":
        return
    names = {"": "No board", **{b.id: b.name for b in boards}}
    chosen = st.selectbox("Send new images to board", list(names), key=SEND,
                          format_func=lambda i: names.get(i, "No board"),
                          on_change=_target_changed, args=(eng,),
                          help="For this session: the images of the jobs you run from now on "
                               "go on this board too.")
    since = st.session_state.get(SINCE)
    if not chosen or since is None:
        return
    try:
        new = store.own_images_since(eng.db, viewer, str(chosen), since)
        if new:
            n = store.add_images(eng.db, viewer, str(chosen), new, eng.clock.now())
            st.toast(f"Sent {n} new image{'s' if n != 1 else ''} to {plain(names[chosen])}.")
    except REFUSED as exc:
        st.error(plain(exc), icon=":material/block:")
