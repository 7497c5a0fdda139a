"""Queue: the team's active jobs in the order they will run, with estimated starts."""

import streamlit as st

from lib import activity, auth, jobs, ui
from lib.clock import utcnow
from lib.mdtext import plain
from lib.ui.guard import authed_fragment

eng = ui.engine()
user = ui.require_page("queue")
me = ui.signed_in()
admin = me.role == "admin"

st.title("Queue")
st.caption("Running jobs first, then waiting ones in the order the workers will take them "
           "(fair turns across people). Start times are estimates from the team's history.")


@authed_fragment(run_every=2.0)
def queue_table() -> None:
    rows = activity.queue(eng)
    if not rows:
        st.info("Nothing is queued or running.", icon=":material/done_all:")
        return
    now = utcnow()
    for row in rows:
        job = row.job
        mine = job.user_id == user
        prompt = (plain(job.prompt) if (mine or me.role != "member")
                  else "(another person's prompt)")
        with st.container(border=True):
            left, right = st.columns([5, 1])
            where = ("running" if row.position is None else f"#{row.position} · starts in about "
                     f"{max(0, (row.estimated_start - now).total_seconds()):.0f} s")
            left.markdown(f"{ui.STATUS_ICONS[job.status]} **{where}** · {prompt}")
            left.caption(f"{plain(job.user_id)} · {job.provider} · {plain(job.model)} · "
                         f"{job.n} image(s)")
            if (mine or admin) and job.status in jobs.ACTIVE and right.button(
                    "Cancel", key=f"qcancel-{job.id}", icon=":material/close:"):
                jobs.cancel(eng, job.id, user, admin=admin)
                st.rerun(scope="fragment")


queue_table()
st.caption(f"Signed in as {plain(me.name)} ({me.role}). " + (
    "You can cancel any job." if admin else "You can cancel your own jobs."
    if auth.can(me.role, "generate") else ""))
