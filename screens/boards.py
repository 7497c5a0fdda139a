"""Boards: named collections of gallery images, private, the team's or named members'."""

import streamlit as st

from lib import ui
from lib.auth.access import Viewer
from lib.ui import boards_ui, toasts

eng = ui.engine()
me = ui.require_page("boards")
viewer = Viewer(me.username, me.role)

st.title("Boards")
toasts.show_pending()
if wanted := st.query_params.pop("board", None):
    st.session_state[boards_ui.OPEN] = wanted
opened = st.session_state.get(boards_ui.OPEN)
if opened:
    if st.button("All boards", icon=":material/arrow_back:", key="boards-back"):
        st.session_state.pop(boards_ui.OPEN, None)
        st.rerun()
    boards_ui.board_view(eng, viewer, str(opened))
else:
    boards_ui.board_list(eng, viewer)
    if viewer.role != "analyst":
        st.subheader("New board")
        boards_ui.create_form(eng, viewer)
