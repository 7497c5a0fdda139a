"""Job lists: Generate's cards and the Queue's rows, one per batch, with bulk cancel.

A batch is one card (its count, "7 of 12 done", its images as small thumbnails); a list
shows :data:`CARDS` cards at most and says how many jobs it left out, with links to the
pages that list them all. Cancelling goes through ``jobs.cancel_many`` (the one cancel path).
``live_jobs`` redraws Generate's (and Home's) cards every second while a job is active.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import streamlit as st

from lib import jobs
from lib.auth import accounts as auth
from lib.core import fmt
from lib.core.text import plain, shorten
from lib.engine import Engine
from lib.imaging.files import download_name
from lib.jobs import activity
from lib.jobs import groups as jobgroups
from lib.jobs.groups import JobGroup
from lib.ui import media
from lib.ui.display import STATUS_ICONS, money, seconds
from lib.ui.guard import authed_callback, authed_fragment

CARDS = 6  # cards on Generate; the rest are counted in an "N more" line
LOAD_AT_MOST = 400  # job ids of a session looked at (a session rarely holds more)
THUMB_PX = 96  # a finished card's thumbnails: many in a row, never one full-width column
CONFIRM_ALL = "q_confirm_all"
IN_VIEW = "gen_jobs"  # the key of Generate's job list container

# On a wide screen the job list stays in view beside a long form (the Generate button can be
# below the fold); on a phone the columns stack and the list follows the button anyway.
_IN_VIEW_CSS = f"""<style>
@media (min-width: 640px) {{
  [data-testid="stLayoutWrapper"]:has(> .st-key-{IN_VIEW}) {{ position: sticky; top: 4rem; }}
  .st-key-{IN_VIEW} {{ max-height: calc(100vh - 5rem); overflow-y: auto; }}
}}
</style>"""


def prompt_label(job: jobs.Job) -> str:
    """A job's prompt for a heading: shortened, and shown as typed, never as markup."""
    return plain(shorten(job.prompt, 89))


# --------------------------------------------------------------------------- Generate


def keep_in_view() -> None:
    """Keep Generate's job list in view while the form beside it scrolls (wide screens)."""
    st.html(_IN_VIEW_CSS)


def job_list(eng: Engine, user: str, job_ids: Sequence[str]) -> bool:
    """Generate's cards, newest first, one per batch; True while any listed job is active."""
    loaded = jobs.load(eng, list(job_ids[:LOAD_AT_MOST]))
    if not loaded:
        st.caption("Your jobs appear here while they run, with their images when done.")
        return False
    shown, hidden, hidden_active = jobgroups.cap(jobgroups.group(eng, loaded), CARDS)
    hidden += max(0, len(job_ids) - LOAD_AT_MOST)
    typical = activity.typical_seconds(eng)
    done = [j.id for g in shown for j in g.jobs if j.status == jobs.SUCCEEDED]
    images = jobgroups.images_of(eng, done)
    for group in shown:
        if group.batch_id:
            _batch_card(eng, user, group, images)
        else:
            _job_card(eng, user, group.first, images.get(group.first.id, []), typical)
    if hidden:
        more_line(hidden, hidden_active)
    return any(j.status in jobs.ACTIVE for j in loaded)


def more_line(hidden: int, active: bool) -> None:
    """ "N more jobs: see History (and the Queue)", never a silent cut."""
    st.caption(f"{fmt.plural(hidden, 'more job')} not shown here.")
    links = st.container(horizontal=True)
    with links:
        st.page_link("screens/history.py", label="See them in History", icon=":material/history:")
        if active:
            st.page_link("screens/queue.py", label="Running and waiting: Queue",
                         icon=":material/queue:")


def _thumbs(eng: Engine, images: list[dict[str, Any]]) -> None:
    if images:
        st.image([media.image_src(eng, img["id"], img["thumb_key"]) for img in images],
                 width=THUMB_PX)


def _batch_card(eng: Engine, user: str, group: JobGroup, images: dict[str, list[dict[str, Any]]]
                ) -> None:
    job = group.first
    with st.container(border=True):
        st.markdown(f"{STATUS_ICONS[group.status]} **Batch of {group.size}** · "
                    f"{prompt_label(job)}")
        st.caption(f"{job.provider} · {plain(job.model)} · {fmt.plural(job.n, 'image')} each · "
                   f"batch {plain(group.batch_id)}")
        if group.active:
            st.progress(group.done / max(1, group.size), text=group.summary())
        else:
            cost = sum((j.cost_usd for j in group.jobs if j.cost_usd is not None),
                       start=Decimal(0))
            st.caption(f"{group.summary()} · total {money(cost)}")
        errors = sorted({j.error_message or "Failed." for j in group.jobs
                         if j.status == jobs.FAILED})
        for message in errors[:2]:
            st.caption(f":red[Failed: {plain(shorten(message, 200))}]")
        _thumbs(eng, [img for j in group.jobs for img in images.get(j.id, [])])
        if group.active:
            st.button("Cancel batch", key=f"jl-cancel-{group.batch_id}", icon=":material/close:",
                      on_click=_cancel, args=(eng, user, False),
                      kwargs={"batch_id": group.batch_id})


def _job_card(eng: Engine, user: str, job: jobs.Job, images: list[dict[str, Any]],
              typical: dict[tuple[str, str], float]) -> None:
    with st.container(border=True):
        st.markdown(f"{STATUS_ICONS[job.status]} **{job.status.title()}** · {prompt_label(job)}")
        st.caption(f"{job.provider} · {plain(job.model)} · {fmt.plural(job.n, 'image')} · "
                   f"job {job.id}")
        if job.status in jobs.ACTIVE:
            now = eng.clock.now()
            progress = activity.progress_of(job, typical, now)
            elapsed = (now - (job.started_at or job.created_at)).total_seconds()
            if job.status == jobs.QUEUED and job.error_message:
                st.caption(plain(job.error_message))
            st.progress(progress.fraction, text=f"{plain(progress.label)} · {elapsed:.0f} s")
            st.button("Cancel", key=f"jl-cancel-{job.id}", icon=":material/close:",
                      on_click=_cancel, args=(eng, user, False), kwargs={"job_ids": [job.id]})
            return
        if job.status in (jobs.FAILED, jobs.CANCELLED):
            if job.status == jobs.FAILED:
                st.error(plain(job.error_message or "Failed."), icon=":material/error:")
            else:
                st.caption(plain(job.error_message or "Cancelled."))
            if st.button("Retry", key=f"retry-{job.id}", icon=":material/refresh:"):
                new_id = jobs.resubmit(eng, user, job.id)
                st.session_state.job_ids.insert(0, new_id)
                st.rerun()
            return
        _thumbs(eng, images)
        sizes = sorted({f"{img['width']}×{img['height']}" for img in images})
        seeds = ", ".join(str(img["seed"]) for img in images if img["seed"] is not None)
        st.caption(" · ".join(filter(None, [", ".join(sizes), seeds and f"seed {seeds}",
                                            f"total {money(job.cost_usd)}",
                                            seconds(job.duration_ms)])))
        with st.container(horizontal=True):
            for i, img in enumerate(images, start=1):
                st.download_button(
                    "Download" if len(images) == 1 else f"Download {i}",
                    data=media.download(eng, user, img["id"]),
                    file_name=download_name(job.created_at, job.prompt, img["id"]),
                    mime="image/png", key=f"dl-{img['id']}",
                    icon=":material/download:", on_click="ignore")


# --------------------------------------------------------------------------- Queue


def queue_list(eng: Engine, me: auth.User) -> None:
    """The team's active jobs in run order, one row per batch, with bulk cancel."""
    rows = activity.queue(eng)
    if not rows:
        st.session_state.pop(CONFIRM_ALL, None)
        st.info("Nothing is queued or running.", icon=":material/done_all:")
        return
    admin = me.role == "admin"
    mine = [r for r in rows if r.job.user_id == me.username]
    if admin or (mine and auth.can(me.role, "generate")):
        _cancel_all(eng, me, len(rows) if admin else len(mine), admin)
    by_id = {r.job.id: r for r in rows}
    typical = activity.typical_seconds(eng)
    now = eng.clock.now()
    for group in jobgroups.group(eng, [r.job for r in rows]):
        active = [by_id[j.id] for j in group.jobs if j.id in by_id]
        if active:  # (a batch read a moment later may have finished meanwhile)
            _queue_row(eng, me, group, active, typical, now)


def _cancel_all(eng: Engine, me: auth.User, count: int, admin: bool) -> None:
    whose = "everyone's" if admin else "your"
    if not st.session_state.get(CONFIRM_ALL):
        st.button("Cancel all jobs" if admin else "Cancel all my jobs", key="q-cancel-all",
                  icon=":material/cancel_schedule_send:", on_click=_confirm_all, args=(True,))
        return
    st.warning(f"Cancel {whose} {fmt.plural(count, 'active job')}? Waiting ones are cancelled at "
               "once; running ones stop at their next check. This cannot be undone.",
               icon=":material/warning:")
    with st.container(horizontal=True):
        st.button(f"Yes, cancel {fmt.plural(count, 'job')}", key="q-cancel-all-yes",
                  type="primary", icon=":material/cancel:", on_click=_cancel,
                  args=(eng, me.username, admin), kwargs={"everything": True})
        st.button("Keep them", key="q-cancel-all-no", on_click=_confirm_all, args=(False,))


@authed_callback
def _confirm_all(asking: bool) -> None:
    if asking:
        st.session_state[CONFIRM_ALL] = True
    else:
        st.session_state.pop(CONFIRM_ALL, None)


@authed_callback
def _cancel(eng: Engine, user: str, admin: bool, **scope: Any) -> None:
    """A cancel button's callback: the click's own rerun (the fragment's, in a browser) then
    draws the new states, so nothing reruns here."""
    st.session_state.pop(CONFIRM_ALL, None)
    done = jobs.cancel_many(eng, user, admin=admin, **scope)
    if done.count > 1 or scope.get("everything"):
        st.toast(f"Cancelled {fmt.plural(len(done.cancelled), 'job')}"
                 + (f"; {len(done.cancelling)} running will stop at their next check."
                    if done.cancelling else "."), icon=":material/cancel:")


def _queue_row(eng: Engine, me: auth.User, group: JobGroup, rows: list[activity.QueueRow],
               typical: dict[tuple[str, str], float], now: datetime) -> None:
    job = group.first
    mine = job.user_id == me.username
    prompt = prompt_label(job) if (mine or me.role != "member") else "(another person's prompt)"
    may_cancel = (mine and auth.can(me.role, "generate")) or me.role == "admin"
    with st.container(border=True):
        left, right = st.columns([5, 1])
        waiting = [r for r in rows if r.position is not None]
        if group.batch_id:
            left.markdown(f"{STATUS_ICONS[group.status]} **Batch of {group.size}** · {prompt}")
            left.caption(f"{plain(job.user_id)} · {job.provider} · {plain(job.model)} · "
                         f"{fmt.plural(job.n, 'image')} each · {group.summary()}")
        else:
            where = "running" if not waiting else f"#{waiting[0].position} in line"
            left.markdown(f"{STATUS_ICONS[job.status]} **{where}** · {prompt}")
            left.caption(f"{plain(job.user_id)} · {job.provider} · {plain(job.model)} · "
                         f"{fmt.plural(job.n, 'image')}")
        for row in rows:
            if row.position is None:
                progress = activity.progress_of(row.job, typical, now)
                elapsed = (now - (row.job.started_at or now)).total_seconds()
                left.progress(progress.fraction,
                              text=f"{plain(progress.label)} · {elapsed:.0f} s elapsed")
        if waiting:
            start = max(0.0, ((waiting[0].estimated_start or now) - now).total_seconds())
            ahead = f"Next in line: #{waiting[0].position}" if group.batch_id else "Waiting"
            when = f"in about {start:.0f} s" if start >= 1 else "any moment now"
            left.caption(f"{ahead} · starts {when} (estimate)")
        if not may_cancel:
            return
        admin = me.role == "admin"
        if group.batch_id:
            right.button("Cancel batch", key=f"qbatch-{group.batch_id}", icon=":material/close:",
                         on_click=_cancel, args=(eng, me.username, admin),
                         kwargs={"batch_id": group.batch_id})
        else:
            right.button("Cancel", key=f"qcancel-{job.id}", icon=":material/close:",
                         on_click=_cancel, args=(eng, me.username, admin),
                         kwargs={"job_ids": [job.id]})


def live_jobs(eng: Engine, user: str, job_ids: list[str]) -> None:
    """Job cards that refresh every second while any job is active, then stop."""
    polling = 1.0 if jobs.any_active(eng, job_ids) else None

    @authed_fragment(run_every=polling)
    def cards() -> None:
        if not job_list(eng, user, job_ids) and polling:
            st.rerun()  # a full rerun defines the fragment again, without the timer

    cards()
