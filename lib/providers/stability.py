"""Stability AI REST v2beta: Stable Image Core, Ultra and SD3 / SD3.5.

Wire format: ``../shared/providers.md`` §3. One multipart POST per image to
``stable-image/generate/{core|ultra|sd3}`` (``n`` images are ``n`` calls in a row,
reported as progress i/n). Raw usage is ``{"images": n}``; the price table holds the
credits of each model in USD (1 credit = $0.01). How replies map to errors::

    status / reply                          error            retried
    200 finish-reason SUCCESS               (the image)
    200 finish-reason CONTENT_FILTERED      SafetyBlocked    no   the blurred image is not kept
    400 bad_request                         Rejected         no
    401 unauthorized                        NeedsKey         no
    402, or name payment_required           QuotaExhausted   no
    403 content_moderation                  SafetyBlocked    no
    403 other, 404, 413, 422                Rejected         no
    429                                     RateLimited      yes, after Retry-After or 60 s
    408, 409, 500 and above                 Unavailable      yes, after Retry-After if sent
    other 4xx                               Rejected         no   (the base's default map)
    timeout, reset, refused                 Unavailable      yes
    200 without a readable image            BadResponse      no
"""

from __future__ import annotations

from typing import Any, ClassVar

import requests

from lib.providers import catalog_seed as seed
from lib.providers import checks, errors, http, sizing
from lib.providers.base import (
    NULL_CONTEXT,
    Capabilities,
    GeneratedImage,
    GenerationRequest,
    GenerationResult,
    JobContext,
    Provider,
)

SD3_MODELS = (
    "sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3-large", "sd3-large-turbo",
    "sd3-medium",
)
MODELS = seed.offered("stability")  # each maps to its endpoint in _form
ASPECT_RATIOS = ("1:1", "16:9", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21")
# providers.md §3 names five of the 17 presets; the other twelve are Stability's published list.
STYLE_PRESETS = (
    "3d-model", "analog-film", "anime", "cinematic", "comic-book", "digital-art", "enhance",
    "fantasy-art", "isometric", "line-art", "low-poly", "modeling-compound", "neon-punk",
    "origami", "photographic", "pixel-art", "tile-texture",
)
MAX_SEED = 4_294_967_294
RATE_LIMIT_WAIT_S = 60.0  # "150 requests / 10 s, over that -> 429 and 60 s lockout" [2nd]
LABEL = "Stability AI"


class StabilityProvider(Provider):
    """Stability AI's hosted Stable Image models (v2beta REST, multipart in, image out)."""

    id = "stability"
    label = LABEL
    short_label = LABEL
    key_env = "STABILITY_API_KEY"
    base_url_env = "STABILITY_BASE_URL"
    default_base_url = "https://api.stability.ai/v2beta"
    description = (
        "Stability AI's hosted models: Stable Image Core and Ultra, and SD 3 / 3.5. Paid per "
        "image in credits (1 credit = $0.01); new accounts get 25 free credits."
    )
    guess_seconds = 6.0  # a rough guess (UNVERIFIED); team history replaces it
    caps = Capabilities(
        models=MODELS, default_model=seed.default("stability"), aspect_ratios=ASPECT_RATIOS,
        max_n=4,
        max_reference_images=1, negative_prompt=True, seed=True, max_seed=MAX_SEED,
        max_prompt_chars=10_000, style_presets=STYLE_PRESETS,
    )
    #: "image" asks for raw bytes (``Accept: image/*``), "json" for base64 in JSON;
    #: ``req.extra["response_format"]`` overrides it per request.
    response_format: ClassVar[str] = "image"

    def auth_headers(self, url: str) -> dict[str, str]:
        """``Authorization: Bearer`` with STABILITY_API_KEY."""
        return {"Authorization": f"Bearer {self.require_key()}"}

    def check_special(self, req: GenerationRequest) -> None:
        """Core takes no reference image, sd3 no preset; cfg_scale and strength in range."""
        _form(req)

    def generate(self, req: GenerationRequest, ctx: JobContext = NULL_CONTEXT) -> GenerationResult:
        """Make ``req.n`` images, one call each; stop early on a cancel request."""
        key = self.require_key()
        self.check(req)
        endpoint, fields, files = _form(req)
        fmt = str(req.extra.get("response_format") or self.response_format)
        if fmt not in ("image", "json"):
            raise errors.Rejected(f"response_format must be 'image' or 'json', not {fmt!r}.")
        images: list[GeneratedImage] = []
        request_ids: list[str] = []
        for i in range(req.n):
            if i and ctx.cancel_requested():
                raise errors.Cancelled(f"Cancelled after {i} of {req.n} images; Stability charged "
                                       "for those, but they were not kept.",
                                       usage={"images": float(i)})
            ctx.report_progress(i / req.n, f"image {i + 1} of {req.n}")
            seed = 0 if req.seed is None else (req.seed + i) % (MAX_SEED + 1)
            try:
                image, request_id = self._one(key, endpoint, {**fields, "seed": str(seed)},
                                              files, fmt)
            except errors.ProviderError as exc:  # the calls before it (and a filtered image)
                billed = i + (1 if exc.usage else 0)  # were charged: say so, and record them
                if not billed:
                    raise
                made = "the image" if billed == 1 else f"{billed} images"
                raise type(exc)(
                    f"{exc.message} Stability charged for {made} made before this, and that "
                    "cost is recorded.", retry_after=exc.retry_after,
                    usage={"images": float(billed)}) from None
            images.append(image)
            if request_id:
                request_ids.append(request_id)
        ctx.report_progress(1.0, "done")
        return GenerationResult(
            images=images, usage={"images": float(len(images))},
            request_id=",".join(request_ids) or None, seed=images[0].seed, model=req.model,
        )

    def test_connection(self) -> str:
        """Send a request Stability refuses before generating: 400 means the key was accepted.

        There is no documented free "who am I" call (``/v1/user/balance`` is UNVERIFIED),
        so this posts a form without a prompt. Auth is checked first, so 401 means a bad
        key; the missing prompt then fails validation, so no credits are spent.
        """
        key = self.require_key()
        resp = self._send("POST", "/stable-image/generate/core", headers=_accept("json"),
                          data={"output_format": "png"}, files={"none": ""})
        if resp.status_code in (400, 422):
            return "Connected; Stability accepted the API key (checked without spending credits)."
        if resp.status_code == 200:
            return "Connected; Stability accepted the API key."
        _raise_for(resp, key)
        raise errors.BadResponse(f"Stability answered the check with HTTP {resp.status_code}.")

    def _one(self, key: str, endpoint: str, fields: dict[str, str],
             files: dict[str, Any], fmt: str) -> tuple[GeneratedImage, str | None]:
        """One call, one image (or an error)."""
        resp = self._send("POST", f"/stable-image/generate/{endpoint}", headers=_accept(fmt),
                          data=fields, files=files)
        if resp.status_code != 200:
            _raise_for(resp, key)
        request_id = resp.headers.get("x-request-id")
        if fmt == "json":
            body = http.json_body(resp, LABEL)
            if not isinstance(body, dict):
                raise errors.BadResponse(
                    "Stability answered with JSON that holds no image. Try again.")
            finish, seed = body.get("finish_reason"), body.get("seed")
            image = str(body.get("image") or "")
            data = b"" if finish == "CONTENT_FILTERED" else http.b64_image(image, LABEL)
            mime = "image/png"
        else:
            finish, seed = resp.headers.get("finish-reason"), resp.headers.get("seed")
            data = resp.content
            mime = resp.headers.get("content-type", "").split(";")[0].strip()
        if finish == "CONTENT_FILTERED":
            raise errors.SafetyBlocked(  # a 200: generated, so billed (providers.md §3)
                "Stability's safety filter flagged this image (finish reason CONTENT_FILTERED) "
                "and sent it blurred, so Promptboard did not keep it.", usage={"images": 1.0})
        if not data or (fmt == "image" and not mime.startswith("image/")):
            raise errors.BadResponse("Stability answered without an image. Try again.")
        return GeneratedImage(data, mime, _int_or_none(seed)), request_id


# --------------------------------------------------------------------------- request


def _accept(fmt: str) -> dict[str, str]:
    return {"Accept": "application/json" if fmt == "json" else "image/*"}


def _form(req: GenerationRequest) -> tuple[str, dict[str, str], dict[str, Any]]:
    """Endpoint, text fields and file parts for a request (multipart even without a file)."""
    if req.model not in MODELS:
        raise errors.Rejected(
            f"Stability has no model {req.model!r}; choose one of {', '.join(MODELS)}.")
    fields = {"prompt": req.prompt, "output_format": "png"}
    if req.negative_prompt:
        fields["negative_prompt"] = req.negative_prompt
    sd3 = req.model in SD3_MODELS
    if req.style_preset:
        if sd3:
            raise errors.Rejected(f"{req.model} takes no style preset; use core or ultra for one.")
        if req.style_preset not in STYLE_PRESETS:
            raise errors.Rejected(
                f"Unknown Stability style preset {req.style_preset!r}; choose one "
                f"of {', '.join(STYLE_PRESETS)}.")
        fields["style_preset"] = req.style_preset
    if sd3:
        fields["model"] = req.model
        if req.extra.get("cfg_scale") is not None:
            cfg = checks.number(req.extra["cfg_scale"], "cfg_scale", 1, 10)
            fields["cfg_scale"] = f"{cfg:g}"
    files: dict[str, Any] = {"none": ""}  # forces multipart/form-data for text-only calls
    if req.reference_images:
        if req.model == "core":
            raise errors.Rejected("Stable Image Core takes no reference image; choose ultra or an "
                                  "sd3 model for image-to-image.")
        strength = checks.number(req.extra.get("strength", 0.6), "strength", 0, 1)
        files = {"image": ("reference.png", req.reference_images[0], "image/png")}
        fields["strength"] = f"{strength:g}"
        if sd3:
            fields["mode"] = "image-to-image"  # and no aspect_ratio: the image sets it
    else:
        fields["aspect_ratio"] = _aspect(req)
        if sd3:
            fields["mode"] = "text-to-image"
    return ("sd3" if sd3 else req.model), fields, files


def _aspect(req: GenerationRequest) -> str:
    """The requested aspect ratio, or the supported one closest to width:height."""
    if req.aspect_ratio:
        if req.aspect_ratio not in ASPECT_RATIOS:
            raise errors.Rejected(f"Stability takes the aspect ratios {', '.join(ASPECT_RATIOS)}, "
                                  f"not {req.aspect_ratio}.")
        return req.aspect_ratio
    if req.width and req.height:
        return sizing.nearest(req.width, req.height, ASPECT_RATIOS)
    return "1:1"


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- errors


def _raise_for(resp: requests.Response, key: str | None) -> None:
    """Turn a non-200 reply (body ``{"id","name","errors":[...]}``) into a ProviderError."""
    status = resp.status_code
    name, text = _error_body(resp, key)
    if status == 401:
        raise errors.NeedsKey(
            f"Stability refused the API key (401: {text}). Check STABILITY_API_KEY "
            "in the environment or .streamlit/secrets.toml.")
    if status == 402 or name == "payment_required":
        raise errors.QuotaExhausted("Stability says the account is out of credits; buy credits at "
                                    "platform.stability.ai, then try again.")
    if status == 403 and name == "content_moderation":
        raise errors.SafetyBlocked(f"Stability's content moderation refused this request ({text}). "
                                   "Rephrase the prompt or use another reference image.")
    if status == 413:
        raise errors.Rejected(
            "The request was too large for Stability (over 10 MiB); use a smaller "
            "reference image.")
    if status == 429:
        wait = http.retry_after_seconds(resp.headers)
        raise errors.RateLimited(
            "Stability is rate limiting this account (over 150 requests in 10 s).",
            retry_after=RATE_LIMIT_WAIT_S if wait is None else wait)
    raise errors.status_error(status, LABEL, text, http.retry_after_seconds(resp.headers))


def _error_body(resp: requests.Response, key: str | None) -> tuple[str, str]:
    """The error ``name`` and a readable text of its ``errors`` list, the key redacted by
    value before clipping (so a key cut at the clip boundary cannot leak in part)."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return "", http.clip(http.redact(resp.text or resp.reason or "no details", key))
    errors = body.get("errors")
    parts = [str(e) for e in errors] if isinstance(errors, list) else []
    name = str(body.get("name") or "")
    return name, http.clip(http.redact("; ".join(parts) or name or "no details", key), 500)
