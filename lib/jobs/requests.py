"""The provider request a job describes: what the pipeline sends and the estimates price.

Kept apart from submitting so that the pipeline, which builds a request for every job it
runs, depends on the job model and the provider types only.
"""

from __future__ import annotations

from typing import Any

from lib.jobs.model import Job
from lib.providers.types import GenerationRequest


def request_from(
    prompt: str, params: dict[str, Any], model: str, width: int | None, height: int | None,
    aspect: str | None, quality: str | None, n: int, seed: int | None,
    negative: str | None, style: str | None, refs: tuple[bytes, ...],
) -> GenerationRequest:
    """The request for these settings; ``params["styled_prompt"]`` is the prompt sent."""
    extra = {k: v for k, v in params.items() if k != "styled_prompt"}
    extra["style"] = style
    return GenerationRequest(
        prompt=params.get("styled_prompt", prompt), model=model, width=width, height=height,
        aspect_ratio=aspect, quality=quality, n=n, seed=seed, negative_prompt=negative,
        style_preset=params.get("style_preset"), reference_images=refs, extra=extra,
    )


def request_for(job: Job, refs: tuple[bytes, ...] = ()) -> GenerationRequest:
    """The provider request a job describes."""
    return request_from(
        job.prompt, job.params_dict, job.model, job.width, job.height, job.aspect_ratio,
        job.quality, job.n, job.seed, job.negative_prompt, job.style, refs,
    )
