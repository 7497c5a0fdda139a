"""Compare: prompt variants (rows) against settings (columns), run as one batch, saved, shared."""

import streamlit as st

from lib import ui
from lib.auth.access import Viewer
from lib.compare import store as compare_store
from lib.core.text import plain
from lib.ui import comparisons

eng = ui.engine()
me = ui.require_page("compare")
viewer = Viewer(me.username, me.role)

st.title("Compare")
opened = st.query_params.get("id")
if opened:
    comparison = compare_store.get(eng, viewer, opened)
    if comparison is None:  # missing or not shared: the same words, and nothing of it shown
        st.error(compare_store.NOT_FOUND.format(id=plain(opened)), icon=":material/search_off:")
        if st.button("All comparisons", icon=":material/arrow_back:"):
            del st.query_params["id"]
            st.rerun()
        st.stop()
    comparisons.view(eng, viewer, comparison)
    st.stop()

comparisons.saved(eng, viewer)
st.subheader("New comparison")
comparisons.builder(eng, viewer)
