"""Run one claimed job in two steps: call its provider, then store what it returned.

The worker pool sequences the steps (``jobs.worker``): :func:`call_provider` runs on a
worker thread and holds a provider slot; it returns :class:`Generated` when the provider
answered, or :class:`Finished` when the attempt ended there (cancelled, failed, or queued
again to retry). :func:`store_images` then validates, watermarks, thumbnails and stores
the images on a storer thread and finishes the job. :func:`process` runs both in the
caller's thread (the CLI, tests and benchmarks).

Order matters for durability: every object is stored before the one
transaction that inserts the image rows and moves the job to ``succeeded``.
If anything fails after objects were stored, they are deleted again, so no
row points at nothing and nothing is stored without a row (a crash in between
is cleaned up by ``claim.recover``).
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from lib.core.context import Services
from lib.core.faults import crash_point
from lib.imaging import files as image_files
from lib.imaging import images as imaging
from lib.jobs import cleanup, store
from lib.jobs.context import DbJobContext
from lib.jobs.model import CANCELLED, FAILED, SUCCEEDED, IllegalTransition, Job
from lib.jobs.requests import request_for
from lib.jobs.retry import Fail, Retry
from lib.money import costs
from lib.providers import download
from lib.providers.errors import BadResponse, Cancelled, ProviderError
from lib.providers.types import GenerationResult
from lib.storage import keys
from lib.storage.base import StorageError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Generated:
    """A running job whose provider has answered: what it returned, waiting to be stored."""

    job: Job
    result: GenerationResult
    ctx: DbJobContext
    t0: float  # monotonic time the attempt started, for the job's duration


@dataclass(frozen=True)
class Finished:
    """An attempt that is over: the state the job is in now (queued again after a retry)."""

    state: str


def call_provider(svc: Services, job: Job) -> Generated | Finished:
    """Step one for a job that ``claim`` moved to running: ask its provider for the images.

    A provider error is retried or failed as ``svc.retry_policy`` decides (the job store
    applies the decision); a cancel seen meanwhile wins over a retry.
    """
    ctx = DbJobContext(svc, job)
    t0 = svc.clock.monotonic()
    crash_point("after_claim")
    try:
        if job.attempts > 1:  # a rerun: what an interrupted run half-stored may still be owed
            cleanup.settle_one(svc, keys.job_prefix(job.id))
        refs: tuple[bytes, ...] = ()
        if job.reference_key:
            refs = (svc.storage.get(job.reference_key),)
        provider = svc.provider(job.provider)
        result = provider.generate(request_for(job, refs), ctx)
    except Cancelled as err:
        return _finish(svc, job, CANCELLED, "cancelled while running", "cancelled", err.message,
                       *_billed(svc, job, err))
    except ProviderError as err:
        if ctx.force_check():
            return _finish(svc, job, CANCELLED, "cancelled during a retryable error",
                           "cancelled", "Cancelled.", *_billed(svc, job, err))
        decision = svc.retry_policy.decide(err, job.attempts, job.max_attempts)
        if err.usage and not (err.resumable and isinstance(decision, Retry)):
            # the provider charged for work before the error: never retried by itself (a
            # rerun pays for it again while the job keeps one attempt's cost), unless the
            # retry resumes that work (saved task ids) and so pays nothing twice
            message = decision.message if isinstance(decision, Fail) else (
                f"{err.message} Not retried automatically: the provider charged for the work "
                "done before the error. Retry the job if you want it made again.")
            return _finish(svc, job, FAILED, f"{err.error_type}: not retried", err.error_type,
                           message, *_billed(svc, job, err))
        return Finished(store.apply_retry(svc.db, job.id, err, decision, svc.clock.now(),
                                          job.attempts))
    except StorageError as err:
        return _finish(svc, job, FAILED, "storage unavailable before generating", "storage",
                       str(err))
    crash_point("after_generate")
    return Generated(job, result, ctx, t0)


def _billed(svc: Services, job: Job, err: ProviderError
            ) -> tuple[costs.Cost | None, GenerationResult | None]:
    """What the calls before a provider error cost, when the provider billed them."""
    if not err.usage:
        return None, None
    priced = costs.cost_of(svc.db, job.provider, job.model, err.usage,
                           job.started_at or svc.clock.now(), job.size, job.quality)
    return priced, GenerationResult(images=[], usage=err.usage)


def process(svc: Services, job: Job) -> str:
    """Both steps in this thread, for a job ``claim`` moved to running; returns its state."""
    step = call_provider(svc, job)
    return (store_images(svc, step) if isinstance(step, Generated) else step).state


def fail_unexpected(svc: Services, job: Job, exc: BaseException) -> Finished:
    """Fail a job that hit an error inside Promptboard (not the provider's, not storage's).

    The details go to the log; the user reads the job's id. A job already moved on
    meanwhile (cancelled, recovered) is left as it is. Errors of the database itself
    are raised: the job stays running and is requeued at the next start.
    """
    log.error("job %s crashed:\n%s", job.id,
              "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    try:
        _finish(svc, job, FAILED, f"internal error: {type(exc).__name__}", "internal",
                f"Something went wrong inside Promptboard (job {job.id}); the details "
                "are in the server log. Retry, or tell an admin if it happens again.")
    except IllegalTransition:
        pass
    except Exception:
        log.error("could not record the failure of job %s; it stays running and is "
                  "requeued at the next start", job.id)
        raise
    return Finished(FAILED)


def _finish(
    svc: Services, job: Job, to: str, detail: str, error_type: str | None,
    message: str | None, priced: costs.Cost | None = None,
    result: GenerationResult | None = None,
) -> Finished:
    """End the attempt as failed or cancelled, with what the provider call cost if known."""
    store.finish(
        svc.db, job.id, to, svc.clock.now(), detail, error_type, message,
        priced.total if priced else None, result.usage if result else None,
        result.request_id if result else None, priced.price_ids if priced else (),
        attempt=job.attempts,
    )
    return Finished(to)


_encoder_pool: ThreadPoolExecutor | None = None
_encoder_lock = threading.Lock()


def _encoder() -> ThreadPoolExecutor:
    """Threads that encode watermarked PNGs (two: one per core of a small server)."""
    global _encoder_pool
    with _encoder_lock:
        if _encoder_pool is None:
            _encoder_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="png-encode")
        return _encoder_pool


def store_images(svc: Services, gen: Generated) -> Finished:
    """Step two: validate, watermark, thumbnail and store the images, then finish the job.

    Every object is stored before the one transaction that inserts the image rows and
    moves the job to succeeded; objects of a job that then fails are deleted again.
    """
    job, result, ctx = gen.job, gen.result, gen.ctx
    s = svc.settings
    started = svc.clock.now()
    priced = costs.cost_of(  # priced as of when this attempt started generating
        svc.db, job.provider, job.model, result.usage, job.started_at or started, job.size,
        job.quality,
    )
    cost = priced.total
    reported = costs.cost_of(  # the provider's own figure, if it gave one
        svc.db, job.provider, job.model, result.reported_usage, job.started_at or started,
        job.size, job.quality).total if result.reported_usage else None
    if ctx.force_check():
        return _finish(svc, job, CANCELLED, "cancelled; results discarded", "cancelled",
                       "Cancelled. The provider had already finished, so it may have charged "
                       "for it.", priced, result)
    if not result.images:
        err = BadResponse(f"{job.provider} answered without an image. Try again or rephrase.")
        return _finish(svc, job, FAILED, "no image in response", err.error_type, err.message,
                       priced, result)
    spec = imaging.WatermarkSpec.from_dict(json.loads(job.watermark)) if job.watermark else None
    stored: list[str] = []
    rows: list[list[object]] = []
    parts = costs.split(cost, len(result.images))
    try:
        for i, gi in enumerate(result.images):
            image_id = uuid.uuid4().hex[:16]
            seed = gi.seed if gi.seed is not None else result.seed
            meta = image_files.embedded_text(
                job_id=job.id, prompt=job.prompt, negative=job.negative_prompt,
                provider=job.provider, model=job.model, seed=seed, style=job.style,
                quality=job.quality,
                size=f"{job.width}x{job.height}" if job.width else job.aspect_ratio)
            _check_size(job.provider, gi.data, s.max_download_bytes, s.max_output_pixels)
            png, dec = imaging.to_png_original(
                gi.data, gi.mime_type, meta, compress_level=s.png_compress_level,
                max_bytes=s.max_download_bytes, max_pixels=s.max_output_pixels,
            )
            k_orig, k_wm, k_thumb = keys.image_keys(job.id, image_id)
            shown = dec.image
            svc.storage.put(k_orig, png, "image/png")
            stored.append(k_orig)
            wm_key = None
            encoding = None
            if spec is not None:
                shown = imaging.apply_watermark(dec.image, spec)
                # Pillow lets go of the GIL while it encodes: the watermarked PNG (the dearest
                # step) is encoded beside the thumbnail, on a second core if there is one.
                encoding = _encoder().submit(imaging.encode_png, shown, meta,
                                             s.png_compress_level)
            svc.storage.put(k_thumb, imaging.make_thumbnail(shown), "image/webp")
            stored.append(k_thumb)
            if encoding is not None:
                svc.storage.put(k_wm, encoding.result(), "image/png")
                stored.append(k_wm)
                wm_key = k_wm
            rows.append([image_id, job.id, i, job.user_id, job.provider, job.model, job.prompt,
                         job.negative_prompt, job.style, job.quality, dec.width, dec.height,
                         seed, k_orig, wm_key, k_thumb, len(png), parts[i], None,
                         result.request_id, started])
        crash_point("after_store")
        duration_ms = int((svc.clock.monotonic() - gen.t0) * 1000)
        for r in rows:
            r[18] = duration_ms
        store.succeed(
            svc.db, job.id, rows, svc.clock.now(), attempt=job.attempts, cost_usd=cost,
            usage=json.dumps(result.usage), request_id=result.request_id,
            duration_ms=duration_ms, progress=1.0,
            price_ids=json.dumps(list(priced.price_ids)) if priced.price_ids else None,
            progress_note="done", error_type=None, error_message=None,
            provider_cost_usd=reported,
            seed=rows[0][12] if job.seed is None else job.seed,
        )
        crash_point("after_commit")
        return Finished(SUCCEEDED)
    except _TooLarge as exc:
        _safe_delete(svc, job, stored)
        return _finish(svc, job, FAILED, "image over the size limits", "bad_response",
                       str(exc), priced, result)
    except imaging.ImageError as exc:
        _safe_delete(svc, job, stored)
        msg = f"{job.provider} returned an image that could not be read ({exc}). Try again."
        return _finish(svc, job, FAILED, "unreadable image", "bad_response", msg, priced,
                       result)
    except StorageError as exc:
        _safe_delete(svc, job, stored)
        msg = f"The images were generated but could not be saved: {exc}"
        return _finish(svc, job, FAILED, "storage write failed", "storage", msg, priced,
                       result)
    except IllegalTransition:
        _safe_delete(svc, job, stored)  # cancelled or recovered elsewhere meanwhile
        raise


class _TooLarge(Exception):
    """A generated image over the byte or pixel cap; its message says what to do."""


def _check_size(provider: str, data: bytes, max_bytes: int, max_pixels: int) -> None:
    """Refuse an output over the caps before it is decoded (finding 7: decoding a 100 MP image
    costs ~0.8 GB). The header is read for the pixel count; no pixels are decoded."""
    if len(data) > max_bytes:
        raise _TooLarge(
            f"{provider} returned an image of {len(data) / 2**20:.0f} MB, over Promptboard's "
            f"{max_bytes / 2**20:g} MB limit for generated images, so it was not kept. Choose "
            "a smaller size or format; an admin can raise PROMPTBOARD_MAX_DOWNLOAD_MB.")
    problem = download.too_many_pixels(data, label=provider, max_pixels=max_pixels)
    if problem:
        raise _TooLarge(problem)


def _safe_delete(svc: Services, job: Job, stored: list[str]) -> None:
    try:
        svc.storage.delete(stored)
    except StorageError as exc:
        cleanup.owe(svc, keys.job_prefix(job.id), f"job {job.id} failed mid-store: {exc}")
