"""Styles: the team's prompt templates with previews drawn on demand; members propose new ones."""

import streamlit as st

from lib import ui
from lib.core.text import plain
from lib.ui import style_cards

eng = ui.engine()
me = ui.require_page("styles")

st.title("Styles")
st.caption("Prompt templates the team shares: {prompt} is where your prompt goes, with an "
           "optional negative prompt and suggested settings. Admins curate the library; "
           "anyone who generates may propose a style.")
if flash := st.session_state.pop(style_cards.FLASH, None):
    st.success(plain(flash), icon=":material/check_circle:")
with st.expander("Propose a style", icon=":material/add:"):
    style_cards.propose_form(eng, me)
style_cards.library(eng, me)
