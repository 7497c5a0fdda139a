"""Promptboard: generate AI images, keep them in one gallery, know what they cost."""

import streamlit as st

from lib import ui

st.set_page_config(page_title="Promptboard", page_icon=":material/palette:", layout="wide")
ui.engine()  # open the database and start the workers once per process

page = st.navigation([st.Page("pages/generate.py", title="Generate", icon=":material/brush:")])
page.run()
