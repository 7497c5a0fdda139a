"""Run one claimed job: provider call, validation, watermark, thumbnails, storage, rows.

Order matters for durability: every object is stored before the one
transaction that inserts the image rows and moves the job to ``succeeded``.
If anything fails after objects were stored, they are deleted again, so no
row points at nothing and nothing is stored without a row (a crash in between
is cleaned up by ``worker.recover``).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from lib.core.faults import crash_point
from lib.imaging import files as image_files
from lib.imaging import images as imaging
from lib.jobs import cleanup
from lib.jobs.queue import (
    CANCELLED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    IllegalTransition,
    Job,
    request_for,
    transition,
)
from lib.jobs.worker import DbJobContext, RetryPolicy, image_keys
from lib.money import costs
from lib.providers import download
from lib.providers.base import BadResponse, Cancelled, GenerationResult, ProviderError
from lib.storage.base import StorageError

if TYPE_CHECKING:
    from lib.engine import Engine

log = logging.getLogger(__name__)
_rng = random.Random()


def _finish(
    engine: Engine, job: Job, to: str, detail: str, error_type: str | None,
    message: str | None, cost: Decimal | None = None, usage: dict[str, float] | None = None,
    request_id: str | None = None, price_ids: tuple[int, ...] = (),
) -> None:
    now = engine.clock.now()
    with engine.db.write() as cur:
        transition(
            cur, job.id, [RUNNING], to, now, detail, finished_at=now, error_type=error_type,
            error_message=message, cost_usd=cost,
            usage=json.dumps(usage) if usage is not None else None, request_id=request_id,
            price_ids=json.dumps(list(price_ids)) if price_ids else None,
        )


def _retry_or_fail(engine: Engine, job: Job, err: ProviderError, ctx: DbJobContext) -> None:
    if ctx.force_check():
        _finish(engine, job, CANCELLED, "cancelled during a retryable error", "cancelled",
                "Cancelled.")
        return
    policy: RetryPolicy = engine.retry_policy
    delay = policy.delay(job.attempts, err.retry_after, _rng) if err.retryable else None
    if delay is None or job.attempts >= job.max_attempts:
        why = err.message
        if err.retryable and job.attempts >= job.max_attempts:
            why = f"{err.message} (gave up after {job.attempts} attempts)"
        elif err.retryable and delay is None:
            why = f"{err.message} (the provider asked to wait {err.retry_after:.0f} s; try later)"
        _finish(engine, job, FAILED, f"{err.error_type}: not retried", err.error_type, why)
        return
    now = engine.clock.now()
    with engine.db.write() as cur:
        transition(
            cur, job.id, [RUNNING], QUEUED, now,
            f"{err.error_type}: retry in {delay:.1f}s",
            next_run_at=now + timedelta(seconds=delay), error_type=err.error_type,
            error_message=f"{err.message} Retrying automatically.", progress=None,
            progress_note=f"waiting {delay:.0f} s to retry", worker_id=None,
        )
    engine.wake_workers()


HandOff = Callable[[Job, Callable[[], str]], None]


def process(engine: Engine, job: Job, hand_off: HandOff | None = None) -> str:
    """Run one job that ``claim`` moved to running; returns the state it ended in.

    With ``hand_off`` (the worker pool's), storing the images is handed to it once the
    provider has answered, and ``running`` is returned: the caller may claim its next job.
    """
    ctx = DbJobContext(engine, job)
    t0 = engine.clock.monotonic()
    crash_point("after_claim")
    try:
        if job.attempts > 1:  # a rerun: what an interrupted run half-stored may still be owed
            cleanup.settle_one(engine, f"img/{job.id}/")
        refs: tuple[bytes, ...] = ()
        if job.reference_key:
            refs = (engine.storage.get(job.reference_key),)
        provider = engine.provider(job.provider)
        result = provider.generate(request_for(job, refs), ctx)
    except Cancelled as err:
        _finish(engine, job, CANCELLED, "cancelled while running", "cancelled", err.message)
        return CANCELLED
    except ProviderError as err:
        _retry_or_fail(engine, job, err, ctx)
        return str(engine.db.scalar("SELECT status FROM jobs WHERE id = ?", [job.id]))
    except StorageError as err:
        _finish(engine, job, FAILED, "storage unavailable before generating", "storage",
                str(err))
        return FAILED
    crash_point("after_generate")
    if hand_off is None:
        return _store(engine, job, result, ctx, t0)
    hand_off(job, lambda: _store(engine, job, result, ctx, t0))
    return RUNNING


_encoder_pool: ThreadPoolExecutor | None = None
_encoder_lock = threading.Lock()


def _encoder() -> ThreadPoolExecutor:
    """Threads that encode watermarked PNGs (two: one per core of a small server)."""
    global _encoder_pool
    with _encoder_lock:
        if _encoder_pool is None:
            _encoder_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="png-encode")
        return _encoder_pool


def _store(engine: Engine, job: Job, result: GenerationResult, ctx: DbJobContext,
           t0: float) -> str:
    s = engine.settings
    started = engine.clock.now()
    priced = costs.cost_of(  # priced as of when this attempt started generating
        engine.db, job.provider, job.model, result.usage, job.started_at or started, job.size,
        job.quality,
    )
    cost = priced.total
    if ctx.force_check():
        _finish(engine, job, CANCELLED, "cancelled; results discarded", "cancelled",
                "Cancelled. The provider had already finished, so it may have charged for it.",
                cost, result.usage, result.request_id, priced.price_ids)
        return CANCELLED
    if not result.images:
        err = BadResponse(f"{job.provider} answered without an image. Try again or rephrase.")
        _finish(engine, job, FAILED, "no image in response", err.error_type, err.message,
                cost, result.usage, result.request_id, priced.price_ids)
        return FAILED
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
            k_orig, k_wm, k_thumb = image_keys(job.id, image_id)
            shown = dec.image
            engine.storage.put(k_orig, png, "image/png")
            stored.append(k_orig)
            wm_key = None
            encoding = None
            if spec is not None:
                shown = imaging.apply_watermark(dec.image, spec)
                # Pillow lets go of the GIL while it encodes: the watermarked PNG (the dearest
                # step) is encoded beside the thumbnail, on a second core if there is one.
                encoding = _encoder().submit(imaging.encode_png, shown, meta,
                                             s.png_compress_level)
            engine.storage.put(k_thumb, imaging.make_thumbnail(shown), "image/webp")
            stored.append(k_thumb)
            if encoding is not None:
                engine.storage.put(k_wm, encoding.result(), "image/png")
                stored.append(k_wm)
                wm_key = k_wm
            rows.append([image_id, job.id, i, job.user_id, job.provider, job.model, job.prompt,
                         job.negative_prompt, job.style, job.quality, dec.width, dec.height,
                         seed, k_orig, wm_key, k_thumb, len(png), parts[i], None,
                         result.request_id, started])
        crash_point("after_store")
        duration_ms = int((engine.clock.monotonic() - t0) * 1000)
        now = engine.clock.now()
        with engine.db.write() as cur:
            for r in rows:
                r[18] = duration_ms
                cur.execute(
                    "INSERT INTO images (id, job_id, idx, user_id, provider, model, prompt, "
                    "negative_prompt, style, quality, width, height, seed, original_key, "
                    "watermarked_key, thumb_key, bytes, cost_usd, duration_ms, request_id, "
                    "created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", r,
                )
            transition(
                cur, job.id, [RUNNING], SUCCEEDED, now, f"{len(rows)} image(s) stored",
                finished_at=now, cost_usd=cost, usage=json.dumps(result.usage),
                request_id=result.request_id, duration_ms=duration_ms, progress=1.0,
                price_ids=json.dumps(list(priced.price_ids)) if priced.price_ids else None,
                progress_note="done", error_type=None, error_message=None,
                seed=rows[0][12] if job.seed is None else job.seed, images=len(rows),
            )
        crash_point("after_commit")
        return SUCCEEDED
    except _TooLarge as exc:
        _safe_delete(engine, job, stored)
        _finish(engine, job, FAILED, "image over the size limits", "bad_response", str(exc),
                cost, result.usage, result.request_id, priced.price_ids)
        return FAILED
    except imaging.ImageError as exc:
        _safe_delete(engine, job, stored)
        msg = f"{job.provider} returned an image that could not be read ({exc}). Try again."
        _finish(engine, job, FAILED, "unreadable image", "bad_response", msg, cost,
                result.usage, result.request_id, priced.price_ids)
        return FAILED
    except StorageError as exc:
        _safe_delete(engine, job, stored)
        msg = f"The images were generated but could not be saved: {exc}"
        _finish(engine, job, FAILED, "storage write failed", "storage", msg, cost,
                result.usage, result.request_id, priced.price_ids)
        return FAILED
    except IllegalTransition:
        _safe_delete(engine, job, stored)  # cancelled or recovered elsewhere meanwhile
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


def _safe_delete(engine: Engine, job: Job, keys: list[str]) -> None:
    try:
        engine.storage.delete(keys)
    except StorageError as exc:
        cleanup.owe(engine, f"img/{job.id}/", f"job {job.id} failed mid-store: {exc}")


def run_safely(engine: Engine, job: Job, *, hand_off: HandOff | None = None,
               step: Callable[[], str] | None = None) -> str:
    """``process`` (or a handed-off ``step`` of it) that never raises for a job's own errors.

    An unexpected error fails the job with its id; at shutdown the job stays running.
    """
    try:
        return step() if step is not None else process(engine, job, hand_off)
    except Exception as exc:  # noqa: BLE001 - a worker must survive anything
        if engine.closing:  # shutting down: the job stays running and is requeued at start
            log.info("job %s interrupted by shutdown", job.id)
            raise
        log.error("job %s crashed:\n%s", job.id, traceback.format_exc())
        engine.internal_errors.append(exc)
        try:
            _finish(engine, job, FAILED, f"internal error: {type(exc).__name__}", "internal",
                    f"Something went wrong inside Promptboard (job {job.id}); the details "
                    "are in the server log. Retry, or tell an admin if it happens again.")
        except IllegalTransition:
            pass
        except Exception:  # noqa: BLE001 - the database itself is gone (shutdown, disk)
            log.error("could not record the failure of job %s; it stays running and is "
                      "requeued at the next start", job.id)
            raise
        return FAILED

