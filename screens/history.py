"""History: every job I submitted, newest first, batches together, with retry and reuse."""

import streamlit as st

from lib import jobs, ui
from lib.jobs import activity
from lib.providers import registry
from lib.ui import history as history_ui

eng = ui.engine()
user = ui.require_page("history").username

st.title("History")
st.caption("Every job you submitted, including failed and cancelled ones.")
a, b, c = st.columns([2, 1, 1])
text = a.text_input("Search", key="hist_text", placeholder=history_ui.SEARCH_HINT)
statuses = b.multiselect("Status", jobs.STATUSES, key="hist_status")
provider = c.selectbox("Provider", ["", *registry.PROVIDERS], key="hist_provider",
                       format_func=lambda p: registry.get(p).label if p else "Any")
page = st.session_state.get("hist_page", 0)
rows, total = activity.history(eng, user, activity.HistoryFilter(
    statuses=tuple(statuses), provider=provider or None, text=text or None, page=page))
pages = max(1, -(-total // 25))

if not rows:
    st.info("No jobs match. Generate something first, or clear the filters.",
            icon=":material/history:")
history_ui.history_list(eng, user, rows)
ui.pager("hist_page", page, pages, total)
