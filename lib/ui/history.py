"""History's list: one card per batch or lone job, newest first, with its images.

A card shows the images of its finished jobs as small thumbnails, all drawn at one height
(:data:`THUMB_H`) with the width their image has, so a portrait stays a portrait and a
landscape is not cropped; a failed or cancelled job has no image and shows none. A batch is
one card under one heading ("Batch of 4 · <prompt>"), its jobs listed below it (folded into
an expander past :data:`FOLD_AFTER`); the page (``activity.history``) pages by these cards.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import streamlit as st

from lib import jobs
from lib.core import fmt
from lib.core.text import plain
from lib.engine import Engine
from lib.jobs import activity, reuse
from lib.jobs import groups as jobgroups
from lib.jobs.groups import JobGroup
from lib.ui import generate_form as form_ui
from lib.ui.display import STATUS_ICONS, seconds
from lib.ui.joblist import prompt_label
from lib.ui.media import image_src

THUMB_H = 72  # px: every thumbnail's height; its width follows its image
THUMBS_AT_MOST = 12  # per card; a bigger batch says how many more it has
FOLD_AFTER = 3  # a batch's rows go into an expander past this many
SEARCH_HINT = "Search prompts…"  # a hint, not a value that looks already typed


def thumb_width(img: dict[str, Any]) -> int:
    """The width that draws ``img`` at :data:`THUMB_H` high without distortion (clamped to a
    third to three times the height, so a banner stays a thumbnail)."""
    w, h = img.get("width"), img.get("height")
    if not w or not h:
        return THUMB_H
    return max(THUMB_H // 3, min(THUMB_H * 3, round(THUMB_H * float(w) / float(h))))


def thumbs(eng: Engine, key: str, images: Sequence[dict[str, Any]]) -> None:
    """A wrapping row of small thumbnails (nothing when there are no images)."""
    if not images:
        return
    with st.container(horizontal=True, key=f"hthumbs-{key}", gap="small",
                      vertical_alignment="center"):
        for img in images[:THUMBS_AT_MOST]:
            st.image(image_src(eng, img["id"], img["thumb_key"]), width=thumb_width(img))
        if len(images) > THUMBS_AT_MOST:
            st.caption(f"+{len(images) - THUMBS_AT_MOST} more in the Gallery")


def history_list(eng: Engine, user: str, rows: Sequence[jobs.Job]) -> None:
    """History's cards, newest first; the jobs of one batch share a card under its heading."""
    images = jobgroups.images_of(eng, [j.id for j in rows if j.status == jobs.SUCCEEDED])
    for group in jobgroups.group(eng, rows, whole_batches=False):
        shown = [img for j in group.jobs for img in images.get(j.id, [])]
        with st.container(border=True, key=f"hcard-{group.key}"):
            if group.batch_id:
                _batch_heading(eng, group)
                thumbs(eng, group.key, shown)
                rows_here = (st.expander(f"{len(group.jobs)} jobs: seeds, costs, reuse and retry")
                             if len(group.jobs) > FOLD_AFTER else st.container())
                with rows_here:
                    for job in group.jobs:
                        _row(eng, user, job, in_batch=True)
            else:
                _row(eng, user, group.first, in_batch=False)
                thumbs(eng, group.key, shown)


def _batch_heading(eng: Engine, group: JobGroup) -> None:
    st.markdown(f"{STATUS_ICONS[group.status]} **Batch of {group.size}** · "
                f"{prompt_label(group.first)}")
    costs = [activity.shown_cost(eng, j) for j in group.jobs]
    known = sum((c for c in costs if c is not None), start=Decimal(0))
    total = (f"total {fmt.money(known)}" if None not in costs
             else f"total at least {fmt.money(known)}")  # a job's charge is unknown
    first = group.first
    st.caption(f"{group.summary()} · {total} · {first.provider} · {plain(first.model)} · "
               f"batch {plain(group.batch_id)}")


def _row(eng: Engine, user: str, job: jobs.Job, *, in_batch: bool) -> None:
    left, right = st.columns([4, 1])
    what = (f"seed {job.seed}" if in_batch and job.seed is not None
            else prompt_label(job) if in_batch else plain(job.prompt))
    left.markdown(f"{STATUS_ICONS[job.status]} **{job.status.title()}** · {what}")
    left.caption(
        f"{job.created_at:%Y-%m-%d %H:%M} UTC · {job.provider} · {plain(job.model)} · "
        f"{fmt.plural(job.n, 'image')} · {fmt.plural(job.attempts, 'attempt')} · "
        f"{activity.charge(eng, job)} · {seconds(job.duration_ms)} · job {job.id}")
    if job.error_message and job.status != jobs.SUCCEEDED:
        left.caption(f":red[{plain(f'{job.error_type}: {job.error_message}')}]")
    if right.button("Reuse", key=f"reuse-{job.id}", icon=":material/edit:"):
        form_ui.send_to_generate(reuse.for_job(eng, user, job))
    if job.status in (jobs.FAILED, jobs.CANCELLED) and right.button(
            "Retry", key=f"hretry-{job.id}", icon=":material/refresh:"):
        try:
            st.session_state.setdefault("job_ids", []).insert(0, jobs.resubmit(eng, user, job.id))
            st.toast("Queued again.", icon=":material/schedule:")
        except jobs.SubmitError as exc:
            st.error(plain(str(exc)))
