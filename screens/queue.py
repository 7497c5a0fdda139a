"""Queue: the team's active jobs in the order they will run, one row per batch, with estimated
starts, progress, and cancel (a job, a batch, or everything one may cancel)."""

import streamlit as st

from lib import ui
from lib.auth import accounts as auth
from lib.core.text import plain
from lib.ui import joblist
from lib.ui.guard import authed_fragment

eng = ui.engine()
me = ui.require_page("queue")

st.title("Queue")
st.caption("Running jobs first, then waiting ones in the order the workers will take them "
           "(fair turns across people). Start times are estimates from the team's history.")


@authed_fragment(run_every=2.0)
def queue_table() -> None:
    joblist.queue_list(eng, me)


queue_table()
st.caption(f"Signed in as {plain(me.name)} ({me.role}). " + (
    "You can cancel any job." if me.role == "admin" else "You can cancel your own jobs."
    if auth.can(me.role, "generate") else ""))
