"""Small shared Streamlit widgets and the process-wide engine.

The only module in ``lib`` (with the auth glue) that imports Streamlit.
"""

from __future__ import annotations

import atexit
import logging
import time

import streamlit as st

from lib import jobs
from lib.clock import utcnow
from lib.engine import Engine

STATUS_ICONS = {
    jobs.QUEUED: ":material/schedule:",
    jobs.RUNNING: ":material/autorenew:",
    jobs.SUCCEEDED: ":material/check_circle:",
    jobs.FAILED: ":material/error:",
    jobs.CANCELLED: ":material/cancel:",
}


def _release(eng: Engine) -> None:
    eng.close()


@st.cache_resource(show_spinner=False, on_release=_release)
def engine() -> Engine:
    """One engine and one worker pool per server process."""
    logging.basicConfig(level=logging.INFO)
    eng = Engine()
    eng.start_workers()
    atexit.register(eng.close)  # release DuckDB cleanly when the server stops
    return eng


def money(value: object) -> str:
    """USD for display; unknown costs say so."""
    if value is None:
        return "cost unknown"
    amount = float(value)  # type: ignore[arg-type]
    if amount == 0:
        return "$0.00"
    return f"${amount:,.4f}" if amount < 1 else f"${amount:,.2f}"


def seconds(ms: int | None) -> str:
    """A duration for display."""
    return "—" if ms is None else f"{ms / 1000:.1f} s"


def job_card(eng: Engine, job: jobs.Job, user: str) -> None:
    """One job: status, progress, elapsed time, cancel; images or the error when done."""
    with st.container(border=True):
        label = job.prompt if len(job.prompt) < 90 else job.prompt[:87] + "…"
        st.markdown(f"{STATUS_ICONS[job.status]} **{job.status.title()}** · {label}")
        st.caption(f"{job.provider} · {job.model} · {job.n} image(s) · job {job.id}")
        if job.status in jobs.ACTIVE:
            started = job.started_at or job.created_at
            elapsed = (utcnow() - started).total_seconds()
            if job.status == jobs.QUEUED and job.error_message:
                st.caption(job.error_message)
            note = job.progress_note or ("waiting in the queue" if job.status == jobs.QUEUED
                                         else "working")
            st.progress(min(1.0, job.progress or 0.0), text=f"{note} · {elapsed:.0f} s")
            if st.button("Cancel", key=f"cancel-{job.id}", icon=":material/close:"):
                jobs.cancel(eng, job.id, user)
                st.rerun(scope="fragment")
            return
        if job.status == jobs.FAILED:
            st.error(job.error_message or "Failed.", icon=":material/error:")
            return
        if job.status == jobs.CANCELLED:
            st.caption(job.error_message or "Cancelled.")
            return
        images = eng.db.dicts(
            "SELECT id, thumb_key, original_key, width, height, seed, cost_usd "
            "FROM images WHERE job_id = ? ORDER BY idx", [job.id])
        cols = st.columns(min(4, max(1, len(images))))
        for i, img in enumerate(images):
            with cols[i % len(cols)]:
                st.image(eng.storage.get(img["thumb_key"]), width="stretch")
                st.caption(f"{img['width']}×{img['height']} · seed {img['seed']} · "
                           f"{money(img['cost_usd'])}")
        st.caption(f"Total {money(job.cost_usd)} · {seconds(job.duration_ms)}")


def poll_interval(eng: Engine, job_ids: list[str]) -> float | None:
    """Seconds between refreshes while any job is active, else None (stop polling)."""
    return 1.0 if jobs.any_active(eng, job_ids) else None


def now_s() -> float:
    """Wall time, for simple elapsed displays."""
    return time.time()
