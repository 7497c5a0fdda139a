"""Generate: prompt, provider and options in; live job cards out."""

import uuid

import streamlit as st

from lib import jobs, styles, ui
from lib import providers as registry

eng = ui.engine()
user = st.session_state.get("username", "local")
st.session_state.setdefault("job_ids", [])
st.session_state.setdefault("form_token", uuid.uuid4().hex)

st.title("Generate")

statuses = registry.statuses()
ready = [s for s in statuses if s.configured]
provider_id = st.selectbox(
    "Provider", [s.id for s in ready], format_func=lambda p: registry.get(p).label
)
missing = [s for s in statuses if not s.configured]
if missing:
    with st.expander(f"{len(missing)} more provider(s) need set-up"):
        for s in missing:
            st.markdown(f"**{s.label}**: {s.hint}")
cls = registry.get(provider_id)
caps = cls.caps
if provider_id == "sandbox":
    st.info("The sandbox draws placeholder art offline, for free. Add an API key to use a "
            "real model.", icon=":material/science:")

form_col, jobs_col = st.columns([3, 2], gap="large")
with form_col, st.form("generate", border=True):
    prompt = st.text_area("Prompt", max_chars=caps.max_prompt_chars,
                          placeholder="A lighthouse on a cliff at dusk, warm light")
    left, mid, right = st.columns(3)
    style = left.selectbox("Style", list(styles.BUILTIN), format_func=lambda s: styles.get(s).label)
    size = mid.selectbox("Size", caps.sizes, index=caps.sizes.index(caps.default_size)
                         if caps.default_size in caps.sizes else 0) if caps.sizes else None
    n = right.number_input("Images", 1, caps.max_n, 1)
    quality = left.selectbox(
        "Quality", caps.qualities,
        index=caps.qualities.index(caps.default_quality) if caps.default_quality in caps.qualities
        else 0,
    ) if caps.qualities else None
    seed = mid.number_input("Seed (0 = random)", 0, 2**31 - 1, 0) if caps.seed else 0
    negative = right.text_input("Negative prompt") if caps.negative_prompt else None
    reference = (st.file_uploader("Reference image (optional)", type=["png", "jpg", "jpeg", "webp"])
                 if caps.max_reference_images else None)
    submitted = st.form_submit_button("Generate", type="primary", icon=":material/brush:")

if submitted:
    w, h = (int(x) for x in size.split("x")) if size else (None, None)
    spec = jobs.JobSpec(
        prompt=prompt, provider=provider_id, width=w, height=h, quality=quality, n=int(n),
        seed=int(seed) or None, negative_prompt=negative or None, style=style,
        reference=reference.getvalue() if reference else None,
        client_token=st.session_state.form_token,
    )
    try:
        job_id = jobs.submit(eng, user, spec)
    except jobs.SubmitError as exc:
        st.error(str(exc), icon=":material/error:")
    else:
        if job_id not in st.session_state.job_ids:
            st.session_state.job_ids.insert(0, job_id)
        st.session_state.form_token = uuid.uuid4().hex

# Jobs come from the database, so a refresh or a second tab shows the same ones.
for job_id in jobs.active_for_user(eng, user):
    if job_id not in st.session_state.job_ids:
        st.session_state.job_ids.insert(0, job_id)


polling = ui.poll_interval(eng, st.session_state.job_ids)


@st.fragment(run_every=polling)
def live_jobs() -> None:
    shown = jobs.load(eng, st.session_state.job_ids[:10])
    if not shown:
        st.caption("Your jobs appear here while they run, with their images when done.")
    for job in shown:
        ui.job_card(eng, job, user)
    if polling and not any(j.status in jobs.ACTIVE for j in shown):
        st.rerun()  # a full rerun defines the fragment again, without the timer


with jobs_col:
    st.subheader("Your jobs")
    live_jobs()
