"""History: every job I submitted, newest first, with retry and reuse from any row."""

import streamlit as st

from lib import activity, fmt, jobs, reuse, ui
from lib import providers as registry
from lib.mdtext import plain
from lib.ui import generate_form as form_ui

eng = ui.engine()
user = ui.require_page("history")

st.title("History")
st.caption("Every job you submitted, including failed and cancelled ones.")
a, b, c = st.columns([2, 1, 1])
text = a.text_input("Search prompts", key="hist_text", placeholder="lighthouse")
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
for job in rows:
    with st.container(border=True):
        left, right = st.columns([4, 1])
        prompt = plain(job.prompt)  # user text: shown as typed, never as markup
        left.markdown(f"{ui.STATUS_ICONS[job.status]} **{job.status.title()}** · {prompt}")
        left.caption(
            f"{job.created_at:%Y-%m-%d %H:%M} UTC · {job.provider} · {plain(job.model)} · "
            f"{fmt.plural(job.n, 'image')} · {fmt.plural(job.attempts, 'attempt')} · "
            f"{fmt.job_cost(job.cost_usd, job.status)} · "
            f"{ui.seconds(job.duration_ms)} · job {job.id}")
        if job.error_message and job.status != jobs.SUCCEEDED:
            left.caption(f":red[{plain(f'{job.error_type}: {job.error_message}')}]")
        if right.button("Reuse", key=f"reuse-{job.id}", icon=":material/edit:"):
            form_ui.send_to_generate(reuse.for_job(eng, user, job))
        if job.status in (jobs.FAILED, jobs.CANCELLED) and right.button(
                "Retry", key=f"hretry-{job.id}", icon=":material/refresh:"):
            try:
                st.session_state.setdefault("job_ids", []).insert(
                    0, jobs.resubmit(eng, user, job.id))
                st.toast("Queued again.", icon=":material/schedule:")
            except jobs.SubmitError as exc:
                st.error(plain(str(exc)))

ui.pager("hist_page", page, pages, total)
