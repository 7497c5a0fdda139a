"""The sandbox: an offline provider that draws placeholder art locally and costs nothing.

It is the default for a new user with no API key, and how tests and benchmarks run
without a network. Every image carries a caption band ("SANDBOX · seed N") so nobody
mistakes it for a real generation.

* Deterministic: the same prompt, negative prompt, seed, size, style and quality give the
  same PNG bytes. Image ``i`` uses ``seed + i`` and reports it, so each image can be redrawn
  alone; with no seed a random one is picked and reported.
* Latency: a call takes ``latency * (1 + (n - 1) / 4)`` seconds in all, drawing included
  (``latency`` for one image, a quarter of it for each extra one, like a batch), slept in
  steps of at most 0.1 s; after
  each step it reports progress and honours a cancel request.
* Failure injection, for tests and demos: ``extra["fail"] = kind`` or ``[[fail:kind]]`` in
  the prompt; ``extra["fail_attempts"]`` fails only attempts up to that number and
  ``extra["retry_after"]`` sets the rate-limit hint (default 2.0)::

      needs_key        NeedsKey        raised at once
      rejected         Rejected        raised at once
      safety           SafetyBlocked   raised after the latency, like the rest
      quota            QuotaExhausted
      rate_limited     RateLimited     retry_after
      unavailable      Unavailable
      timeout          Unavailable
      bad_response     BadResponse
      truncated_image  returns PNGs cut in half (the pipeline's validation must catch it)
      no_image         returns no images (the pipeline must catch that)
"""

from __future__ import annotations

import hashlib
import io
import math
import random
import re
import time
import zlib
from collections.abc import Callable
from functools import cached_property

import requests
from PIL import Image, ImageOps

from lib.core import config
from lib.providers import catalog_seed as seed
from lib.providers import errors, sizing
from lib.providers.base import (
    DEFAULT_TIMEOUT,
    NULL_CONTEXT,
    Capabilities,
    GeneratedImage,
    GenerationRequest,
    GenerationResult,
    JobContext,
    Provider,
)
from lib.providers.sandbox_art import STYLES, digest, render

MIN_SIDE, MAX_SIDE = 64, 4096
STEP_SECONDS = 0.1
_HOW_TO_STOP = "This is a simulated failure: remove [[fail:...]] from the prompt to draw normally."
FAILURES: dict[str, tuple[type[errors.ProviderError], str]] = {  # the kinds that raise
    "needs_key": (errors.NeedsKey, "The sandbox is pretending that its API key is missing."),
    "rejected": (errors.Rejected, "The sandbox is pretending that this request is invalid."),
    "safety": (errors.SafetyBlocked, "The sandbox's pretend safety filter blocked this prompt."),
    "quota": (errors.QuotaExhausted, "The sandbox is pretending that your quota is used up."),
    "rate_limited": (errors.RateLimited, "The sandbox is pretending to be rate limited."),
    "unavailable": (errors.Unavailable, "The sandbox is pretending that the service is down."),
    "timeout": (errors.Unavailable, "The sandbox is pretending that the request timed out."),
    "bad_response": (errors.BadResponse, "The sandbox is pretending to send an unreadable reply."),
}
FAIL_KINDS = (*FAILURES, "truncated_image", "no_image")  # the last two return bad results
_IMMEDIATE = ("needs_key", "rejected")
_DIRECTIVE = re.compile(r"\[\[\s*fail\s*:([^\]]*)\]\]", re.IGNORECASE)

class SandboxProvider(Provider):
    """Draws deterministic placeholder art offline, with simulated latency and failures."""

    id = "sandbox"
    label = "Sandbox (offline, free)"
    short_label = "Sandbox"
    key_env = None
    description = (
        "Draws offline placeholder art on this machine: no key, no network, and it costs "
        "nothing. Good for trying Promptboard; the images are not real generations."
    )
    caps = Capabilities(
        models=seed.offered("sandbox"), default_model=seed.default("sandbox"),
        sizes=("512x512", "768x768", "1024x1024", "1024x1536", "1536x1024", "1344x768",
               "768x1344"),
        default_size="1024x1024", aspect_ratios=("1:1", "3:2", "2:3", "16:9", "9:16"),
        qualities=("draft", "standard", "high"), default_quality="standard",
        max_n=8, max_reference_images=1, negative_prompt=True, seed=True, max_prompt_chars=4000,
        reports_progress=True, cancellable=True, open_sizes=True,
    )

    def __init__(
        self, session: requests.Session | None = None, base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT, api_key: str | None = None, *,
        latency: float | None = None, sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``latency`` defaults to PROMPTBOARD_SANDBOX_LATENCY; tests inject ``sleep``/``clock``."""
        super().__init__(session, base_url, timeout, api_key)
        self._latency_arg = latency
        self._sleep = sleep
        self._clock = clock

    # Read from the settings on first use, not in __init__: submit() builds a provider to
    # preflight every request, and loading the settings there cost a fifth of a millisecond.
    @cached_property
    def latency(self) -> float:
        """Seconds one image takes (PROMPTBOARD_SANDBOX_LATENCY unless given)."""
        if self._latency_arg is None:
            return config.load().sandbox_latency
        return max(0.0, self._latency_arg)

    @cached_property
    def compress_level(self) -> int:
        """zlib level of the PNGs drawn (PROMPTBOARD_PNG_COMPRESS_LEVEL)."""
        return config.load().png_compress_level

    def test_connection(self) -> str:
        """The sandbox has nothing to connect to."""
        return "The sandbox needs no connection; it draws images locally."

    def expected_seconds(self, req: GenerationRequest) -> float:
        """The simulated latency is known exactly."""
        return self.latency * (1 + (req.n - 1) / 4)

    def check_special(self, req: GenerationRequest) -> None:
        """Sizes the sandbox cannot draw are refused."""
        _checked_size(req)

    def typical_usage(self, req: GenerationRequest) -> dict[str, float]:
        """One image unit per image asked for."""
        return {"images": float(req.n)}

    def generate(self, req: GenerationRequest, ctx: JobContext = NULL_CONTEXT) -> GenerationResult:
        """Draw ``req.n`` images, or fail on purpose when the request asks for it."""
        kind = _failure_kind(req, ctx)
        if kind in _IMMEDIATE:
            raise _failure(kind, req)
        self.check(req)
        width, height = _checked_size(req)
        seed = req.seed if req.seed is not None else random.randrange(2**31)
        reference = _reference(req, width, height)
        style = req.extra.get("style") if req.extra.get("style") in STYLES else None

        def draw(i: int) -> bytes:
            img = render(req.prompt, req.negative_prompt, seed + i, width, height, style,
                         req.quality, reference)
            buf = io.BytesIO()
            # Z_RLE suits smooth art: faster and smaller than the default strategy here
            img.save(buf, "PNG", compress_level=self.compress_level, compress_type=zlib.Z_RLE)
            return buf.getvalue()

        blobs = self._spend_latency(req.n, ctx, draw if kind in (None, "truncated_image") else None)
        if kind == "truncated_image":
            blobs = [b[: len(b) // 2] for b in blobs]
        elif kind in FAILURES:
            raise _failure(kind, req)
        ref_hash = hashlib.sha256(req.reference_images[0]).hexdigest() if reference else ""
        ident = digest(req.prompt, req.negative_prompt, seed, width, height, style,
                        req.quality, req.n, req.model, ref_hash).hex()[:16]
        return GenerationResult(
            images=[GeneratedImage(b, "image/png", seed + i) for i, b in enumerate(blobs)],
            usage={"images": float(len(blobs))},
            request_id=f"sandbox-{ident}",
            seed=seed,
            model=req.model,
        )

    def _spend_latency(self, n: int, ctx: JobContext,
                       draw: Callable[[int], bytes] | None) -> list[bytes]:
        """Draw the images between short sleeps that report progress and honour cancel.

        The latency is the call's total wall time, drawing included (as with a real API,
        where the wait is the whole round trip): each step sleeps until its deadline.
        """
        total = self.latency * (1 + (n - 1) / 4)
        steps = math.ceil(total / STEP_SECONDS - 1e-9) if total > 0 else 0
        blobs: list[bytes] = []
        done = 0
        start = self._clock()
        for i in range(n):
            if draw is not None:
                blobs.append(draw(i))
            while done < steps * (i + 1) // n:  # this image's share of the steps
                deadline = start + total * (done + 1) / steps
                self._sleep(max(0.0, deadline - self._clock()))
                done += 1
                ctx.report_progress(done / steps, "drawing")
                if ctx.cancel_requested():
                    raise errors.Cancelled("Cancelled while drawing.")
        if steps == 0:
            ctx.report_progress(1.0, "drawing")
        return blobs


# --------------------------------------------------------------------------- request checks


def _failure_kind(req: GenerationRequest, ctx: JobContext) -> str | None:
    """The failure this request asks for on this attempt, if any."""
    kind = req.extra.get("fail")
    if not kind and (found := _DIRECTIVE.search(req.prompt or "")):
        kind = found.group(1)
    if not kind:
        return None
    kind = str(kind).strip().lower()
    if kind not in FAIL_KINDS:
        raise errors.Rejected(
            f"{kind!r} is not a sandbox failure; use one of: {', '.join(FAIL_KINDS)}.")
    limit = req.extra.get("fail_attempts")
    try:
        return kind if limit is None or ctx.attempt <= int(limit) else None
    except (TypeError, ValueError) as exc:
        raise errors.Rejected(f"fail_attempts must be a whole number, not {limit!r}.") from exc


def _failure(kind: str, req: GenerationRequest) -> errors.ProviderError:
    """The error a simulated failure raises."""
    cls, text = FAILURES[kind]
    if cls is errors.RateLimited:
        wait = float(req.extra.get("retry_after", 2.0))
        return errors.RateLimited(f"{text} {_HOW_TO_STOP}", retry_after=wait)
    return cls(f"{text} {_HOW_TO_STOP}")


def _checked_size(req: GenerationRequest) -> tuple[int, int]:
    """The output size: the one asked, one for the aspect ratio, or 1024x1024."""
    if req.width is not None or req.height is not None:
        if req.width is None or req.height is None:
            raise errors.Rejected("Set both width and height, or neither.")
        width, height = req.width, req.height
    elif req.aspect_ratio:
        width, height = aspect_size(req.aspect_ratio)
    else:
        width, height = 1024, 1024
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise errors.Rejected(
            f"The sandbox cannot draw {width}x{height}: each side must be between "
            f"{MIN_SIDE} and {MAX_SIDE} pixels.")
    return width, height


def aspect_size(ratio: str) -> tuple[int, int]:
    """About one megapixel in a ``"W:H"`` ratio, sides rounded to multiples of 64."""
    return sizing.size_for_ratio(ratio, 1024, 64)


def _reference(req: GenerationRequest, width: int, height: int) -> Image.Image | None:
    """The first reference image, cropped and scaled to the output size, or None."""
    if not req.reference_images:
        return None
    try:
        with Image.open(io.BytesIO(req.reference_images[0])) as im:
            rgb = im.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise errors.Rejected("The reference image could not be read. Try another image.") from exc
    return ImageOps.fit(rgb, (width, height), Image.Resampling.BICUBIC)


