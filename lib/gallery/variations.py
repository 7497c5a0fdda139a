"""More like this: a batch of variations of a gallery image, as its viewer may make it.

The image's settings (prompt, model, size, style, watermark, reference, extras) come from
the gallery, as the viewer sees it; the batch is an ordinary one (``jobs.batches``), with
new random seeds. Another person's uploads stay theirs (:func:`private_inputs`).
"""

from __future__ import annotations

import json
import random
from dataclasses import replace

from lib import jobs
from lib.auth import accounts as auth
from lib.auth.access import Viewer
from lib.core.context import Services
from lib.gallery import queries as gallery
from lib.imaging import images as imaging
from lib.jobs import batches


def private_inputs(img: gallery.ImageDetail, viewer: Viewer) -> tuple[str, ...]:
    """What "more like this" leaves out of a visible image's settings: the owner's own
    uploads (reference image, watermark logo), unless the viewer is that owner. Sharing an
    image shares the picture, not what went into it (an img2img result with low denoise
    more or less reproduces its reference)."""
    job = img.job or {}
    if img.user_id == viewer.username:
        return ()
    found = ["reference image"] if job.get("reference_key") else []
    if (job.get("watermark") or {}).get("has_logo"):
        found.append("watermark logo")
    return tuple(found)


def spec_like(engine: Services, viewer: Viewer, image_id: str) -> jobs.JobSpec:
    """The settings that made a visible image (prompt, model, size, style, watermark,
    reference, extras), without its seed: the start of "more like this". Another person's
    reference image and watermark logo are left out (see :func:`private_inputs`)."""
    if not auth.can(viewer.role, "generate"):
        raise jobs.SubmitError(f"Your role ({viewer.role}) cannot generate images.")
    img = gallery.get_image(engine.db, viewer, image_id)
    if img is None:
        raise jobs.SubmitError("That image was not found, or you cannot see it.")
    fields = gallery.reuse_settings(img)
    job = jobs.get(engine, img.job_id)
    mine = img.user_id == viewer.username
    watermark = reference = None
    params: dict[str, object] = {}
    if job is not None:
        params = {k: v for k, v in job.params_dict.items() if k != "styled_prompt"}
        if job.watermark:
            watermark = imaging.WatermarkSpec.from_dict(json.loads(job.watermark))
            if watermark.logo and not mine:  # keep the text, if any, without their logo
                watermark = (replace(watermark, logo=None) if watermark.text else None)
        if mine and job.reference_key and engine.storage.exists(job.reference_key):
            reference = engine.storage.get(job.reference_key)
    return jobs.JobSpec(**{**fields, "seed": None}, watermark=watermark, reference=reference,
                        params=params)


def more_like_this(engine: Services, viewer: Viewer, image_id: str,
                   count: int, *, rng: random.Random | None = None) -> list[str]:
    """Queue ``count`` variations of a visible image with new random seeds, as the viewer."""
    spec = spec_like(engine, viewer, image_id)
    return batches.submit_batch(engine, viewer.username, spec, count, batches.RANDOM, rng=rng)
