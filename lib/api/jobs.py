"""``/api/v1/jobs``: queue, read, list, cancel and retry jobs, as the Generate and History pages do.

Submitting goes through the same verbs as the page (``batches.submit_batch`` → ``jobs.submit``),
so validation, budgets, the double-submit window and every message are the page's. A job is
visible to its owner and to admins; anyone else gets 404, as if it did not exist.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from lib import jobs
from lib.api import cursors
from lib.api.errors import ApiError, forbidden, not_found
from lib.api.ops import Call, Op
from lib.api.schemas import ImageRef, JobIn, JobList, JobOut, JobQuery, JobsAccepted
from lib.auth.access import ROLES
from lib.imaging import images as imaging
from lib.jobs import batches

MAKERS = frozenset({"admin", "member"})  # who may queue (the Generate page's roles)
ALL = frozenset(ROLES)


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, "invalid", f"{what} is not valid base64.") from None


def image_refs(call: Call, job_id: str) -> list[ImageRef]:
    """The images a job made, with their URLs."""
    rows = call.svc.db.fetchall("SELECT id FROM images WHERE job_id = ? ORDER BY idx", [job_id])
    return [ImageRef(id=r[0], url=f"/api/v1/images/{r[0]}",
                     file_url=f"/api/v1/images/{r[0]}/file",
                     thumbnail_url=f"/api/v1/images/{r[0]}/thumbnail") for r in rows]


def job_out(call: Call, job: jobs.Job) -> JobOut:
    """A job as the API shows it."""
    return JobOut(
        id=job.id, status=job.status, batch_id=job.batch_id, user=job.user_id,
        provider=job.provider, model=job.model, prompt=job.prompt,
        negative_prompt=job.negative_prompt, style=job.style, size=job.size,
        aspect_ratio=job.aspect_ratio, quality=job.quality, seed=job.seed, n=job.n,
        attempts=job.attempts, progress=job.progress, error_type=job.error_type,
        error_message=job.error_message, estimated_cost_usd=job.estimated_cost_usd,
        cost_usd=job.cost_usd, duration_ms=job.duration_ms, created_at=job.created_at,
        started_at=job.started_at, finished_at=job.finished_at,
        cancel_requested=job.cancel_requested,
        images=image_refs(call, job.id) if job.status == jobs.SUCCEEDED else [])


def spec_of(body: JobIn, files: dict[str, bytes]) -> jobs.JobSpec:
    """The page's JobSpec from the API's fields (base64 or multipart files)."""
    width = height = None
    if body.size:
        width, height = (int(v) for v in body.size.split("x"))
    reference = files.get("reference")
    if reference is None and body.reference_image_base64:
        reference = _b64(body.reference_image_base64, "reference_image_base64")
    watermark = None
    if body.watermark is not None:
        wm = body.watermark
        logo = files.get("watermark_logo")
        if logo is None and wm.logo_base64:
            logo = _b64(wm.logo_base64, "watermark.logo_base64")
        try:
            watermark = imaging.WatermarkSpec(text=wm.text, logo=logo, position=wm.position,
                                              opacity=wm.opacity, scale=wm.scale)
        except imaging.ImageError as exc:
            raise ApiError(422, "invalid", f"The watermark was refused: {exc}") from None
    return jobs.JobSpec(
        prompt=body.prompt, provider=body.provider, model=body.model,
        negative_prompt=body.negative_prompt, style=body.style, width=width, height=height,
        aspect_ratio=body.aspect_ratio, quality=body.quality, seed=body.seed, n=body.n,
        reference=reference, watermark=watermark, override_budget=body.override_budget)


def create(call: Call) -> JobsAccepted:
    """Queue a job (or ``variations`` of it): 202 with what was queued."""
    body: JobIn = call.body
    if body.override_budget and not call.who.is_admin:
        raise forbidden("Only admins may queue past a budget (override_budget).")
    ids = batches.submit_batch(call.svc, call.who.user.username, spec_of(body, call.files),
                               body.variations, body.seed_mode, request_key=call.request_key)
    found = jobs.load(call.svc, ids)
    return JobsAccepted(batch_id=found[0].batch_id if found else None,
                        jobs=[job_out(call, j) for j in found])


def _visible(call: Call, job_id: str) -> jobs.Job:
    job = jobs.get(call.svc, job_id)
    if job is None or (job.user_id != call.who.user.username and not call.who.is_admin):
        raise not_found("No such job of yours.")
    return job


def read(call: Call) -> JobOut:
    """One job."""
    return job_out(call, _visible(call, call.path["job_id"]))


def listing(call: Call) -> JobList:
    """Jobs newest first, by keyset cursor (stable while new jobs arrive)."""
    q: JobQuery = call.query
    bad = [s for s in q.status if s not in jobs.STATUSES]
    if bad:
        raise ApiError(422, "invalid", f"Unknown status {bad[0]!r}; use one of "
                       f"{', '.join(jobs.STATUSES)}.")
    where: list[str] = ["TRUE"]
    args: list[Any] = []
    owner = call.who.user.username if not call.who.is_admin else q.user
    if owner is not None:
        where, args = ["user_id = ?"], [owner]
    if q.status:
        where.append(f"status IN ({', '.join('?' * len(q.status))})")
        args += q.status
    if q.since is not None:
        where.append("created_at >= ?")
        args.append(cursors.naive_utc(q.since))
    if q.cursor:
        at, last = cursors.decode(q.cursor)
        where.append("(created_at, id) < (?, ?)")
        args += [at, last]
    ids = [r[0] for r in call.svc.db.fetchall(
        f"SELECT id FROM jobs WHERE {' AND '.join(where)} "
        "ORDER BY created_at DESC, id DESC LIMIT ?", [*args, q.limit + 1])]
    found = jobs.load(call.svc, ids[:q.limit])
    order = {jid: i for i, jid in enumerate(ids)}
    found.sort(key=lambda j: order[j.id])
    more = len(ids) > q.limit
    return JobList(jobs=[job_out(call, j) for j in found],
                   next_cursor=cursors.encode(found[-1].created_at, found[-1].id)
                   if more and found else None)


def cancel(call: Call) -> JobOut:
    """Cancel a job: a queued one at once, a running one at its next step."""
    job = _visible(call, call.path["job_id"])
    try:
        jobs.cancel(call.svc, job.id, call.who.user.username, admin=call.who.is_admin)
    except jobs.IllegalTransition as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    return job_out(call, _visible(call, job.id))


def retry(call: Call) -> JobsAccepted:
    """Queue a copy of a failed or cancelled job (the History page's Retry)."""
    job = _visible(call, call.path["job_id"])
    if job.status not in (jobs.FAILED, jobs.CANCELLED):
        raise ApiError(409, "conflict", f"The job is {job.status}: only failed or cancelled "
                       "jobs are retried.")
    new_id = jobs.resubmit(call.svc, call.who.user.username, job.id, admin=call.who.is_admin,
                           request_key=call.request_key)
    found = jobs.load(call.svc, [new_id])
    return JobsAccepted(batch_id=found[0].batch_id if found else None,
                        jobs=[job_out(call, j) for j in found])


def upload_cap(svc: Any) -> int:
    """A job body may carry a reference image and a logo (base64 adds a third)."""
    return int(svc.settings.max_upload_bytes * 2 * 4 / 3) + 256 * 1024


def ops() -> list[Op]:
    """The jobs routes."""
    job = "/jobs/{job_id}"
    return [
        Op("POST", "/jobs", "createJob", "Queue a job (or a batch of variations)", create,
           out=JobsAccepted, body=JobIn, status=202, roles=MAKERS, multipart=True,
           cap=upload_cap, idempotent=True, errors=(402, 413, 415, 422)),
        Op("GET", "/jobs", "listJobs", "Your jobs (admins: everyone's), newest first", listing,
           out=JobList, query=JobQuery, errors=(422,)),
        Op("GET", job, "getJob", "One job, with its images", read, out=JobOut, errors=(404,)),
        Op("POST", job + "/cancel", "cancelJob", "Cancel a job", cancel, out=JobOut,
           roles=MAKERS, errors=(404, 409)),
        Op("POST", job + "/retry", "retryJob", "Queue a copy of a failed or cancelled job",
           retry, out=JobsAccepted, status=202, roles=MAKERS, idempotent=True,
           errors=(402, 404, 409, 422)),
    ]
