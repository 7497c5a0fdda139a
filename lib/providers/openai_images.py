"""OpenAI Images: GPT image models through ``/images/generations`` and ``/images/edits``.

Text only: ``POST {base}/images/generations`` (JSON). With reference images:
``POST {base}/images/edits`` (multipart; one file as ``image``, several as repeated
``image[]``). ``Authorization: Bearer KEY``; up to 10 images in one call; GPT image models
always answer base64 (a ``url`` instead is a BadResponse: it means the base URL points at
something else). Wire format: ``shared/providers.md`` §2.

Status and body → error, in one place (``_raise_for``)::

    400 moderation_blocked                          SafetyBlocked   rephrase
    400/429 insufficient_quota, billing_hard_limit  QuotaExhausted  add credit
    400/404 model_not_found                         Rejected        choose gpt-image-2
    401                                             NeedsKey        check OPENAI_API_KEY
    403 (organization not verified)                 Rejected        verify the organization
    403 other                                       NeedsKey
    400, 404, 413, 422, other 4xx                   Rejected        OpenAI's message, clipped
    429 rate_limit_exceeded (or any other 429)      RateLimited     retry-after-ms / retry-after
    408, 409, 5xx, timeout, refused, reset          Unavailable     retried
    (the last three rows are the base's default map, errors.status_error)
    x-should-retry: false on a retryable status     Rejected        not retried
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from datetime import date
from typing import Any

import requests

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
from lib.providers.http import (
    b64_image,
    clip,
    hinted_wait,
    json_body,
    redact,
    retry_after_seconds,
)

LABEL = "OpenAI"
MODELS = seed.offered("openai")  # and the shutdowns: lib/providers/models.csv (providers.md §2)
REPLACEMENT = seed.default("openai")
PRESET_SIZES = ("1024x1024", "1536x1024", "1024x1536")
OPEN_SIZE_PRESETS = PRESET_SIZES + ("2048x2048", "2048x1152", "1152x2048", "3840x2160",
                                    "2160x3840")
OPEN_SIZE_MODELS = frozenset({"gpt-image-2"})  # any WxH within the rules in _check_open_size
NO_TRANSPARENT = frozenset({"gpt-image-2"})
QUALITIES = ("low", "medium", "high", "auto")
BACKGROUNDS = ("transparent", "opaque", "auto")
MAX_SIDE, MAX_PIXELS = 3840, 3840 * 2160
# Output image tokens by (quality, size), for estimates of models priced by token only
# (providers.md §2, community.openai.com #1275254). Others are estimated per image by variant.
OUTPUT_TOKENS: dict[str, dict[tuple[str, str], int]] = {
    "gpt-image-1": {
        ("low", "1024x1024"): 272, ("low", "1024x1536"): 408, ("low", "1536x1024"): 400,
        ("medium", "1024x1024"): 1056, ("medium", "1024x1536"): 1584,
        ("medium", "1536x1024"): 1568,
        ("high", "1024x1024"): 4160, ("high", "1024x1536"): 6240, ("high", "1536x1024"): 6208,
    },
}


class OpenAIImagesProvider(Provider):
    """OpenAI's GPT image models."""

    id = "openai"
    label = "OpenAI Images"
    short_label = LABEL
    hint = "Check OPENAI_BASE_URL if you set it."
    key_env = "OPENAI_API_KEY"
    base_url_env = "OPENAI_BASE_URL"
    default_base_url = "https://api.openai.com/v1"
    description = "OpenAI's GPT image models: up to 10 images per call, up to 16 references."
    guess_seconds = 30.0  # a rough guess (UNVERIFIED); team history replaces it
    vendor = "OpenAI"
    shutdowns = seed.shutdowns("openai")
    caps = Capabilities(
        models=MODELS, default_model=REPLACEMENT, sizes=OPEN_SIZE_PRESETS,
        default_size="1024x1024", qualities=QUALITIES, default_quality="medium", max_n=10,
        max_reference_images=16, negative_prompt=False, seed=False, max_prompt_chars=32000,
        open_sizes=True,
    )

    def __init__(
        self, session: requests.Session | None = None, base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT, api_key: str | None = None, *,
        today: Callable[[], date] | None = None,
    ) -> None:
        """``today`` decides which models are shut down (see ``Provider.on_date``)."""
        super().__init__(session, base_url, timeout, api_key)
        if today is not None:
            self.on_date(today)

    def typical_usage(self, req: GenerationRequest) -> dict[str, float]:
        """Tokens where a token table exists (gpt-image-1), else ``images`` units: one per
        image, or for gpt-image-2 (published per-image figures for 1024x1024 only) one per
        1024x1024 of pixels, as its output tokens grow with the area (gpt-image-1's table:
        1056 tokens at 1024x1024, 1584 at 1024x1536)."""
        table = OUTPUT_TOKENS.get(req.model)
        size = req.size or "1024x1024"
        quality = req.quality if req.quality in ("low", "medium", "high") else "medium"
        if table and (quality, size) in table:
            return {"input_text_tokens": float(math.ceil(len(req.prompt or "") / 4)),
                    "output_image_tokens": float(table[(quality, size)] * req.n)}
        if req.model in OPEN_SIZE_MODELS and req.width and req.height:
            return {"images": req.n * req.width * req.height / (1024 * 1024)}
        return {"images": float(req.n)}

    def list_models(self) -> list[str]:
        """``GET /models``: the ids of image models (gpt-image-*, chatgpt-image-*, dall-e-*)."""
        key = self.require_key()
        resp = self._send("GET", "/models")
        if resp.status_code != 200:
            _raise_for(resp, "", key)
        body = json_body(resp, LABEL)
        data = body.get("data") if isinstance(body, dict) else None
        return [str(m["id"]) for m in data or [] if isinstance(m, dict)
                and str(m.get("id") or "").startswith(("gpt-image", "chatgpt-image", "dall-e"))]

    def test_connection(self) -> str:
        """Look up the default model with the key; a short message or the mapped error."""
        key = self.require_key()
        model = self.line.default
        resp = self._send("GET", f"/models/{model}")
        if resp.status_code != 200:
            _raise_for(resp, model, key)
        return f"OpenAI answered: {model} is available to this key."

    def generate(self, req: GenerationRequest, ctx: JobContext = NULL_CONTEXT) -> GenerationResult:
        """One call for all ``req.n`` images: generations, or edits with reference images."""
        key = self.require_key()
        self.check(req)
        fields = self.build_fields(req)
        if req.reference_images:
            name = "image" if len(req.reference_images) == 1 else "image[]"
            files = [(name, (f"reference-{i + 1}.png", ref, "image/png"))
                     for i, ref in enumerate(req.reference_images)]
            data = {k: str(v) for k, v in fields.items() if k != "moderation"}
            resp = self._send("POST", "/images/edits", data=data, files=files)
        else:
            resp = self._send("POST", "/images/generations", json=fields)
        if resp.status_code != 200:
            _raise_for(resp, req.model, key)
        body = json_body(resp, LABEL)
        if not isinstance(body, dict):
            raise errors.BadResponse("OpenAI sent a reply we cannot read. Try again.")
        images = read_images(body)
        ctx.report_progress(1.0, f"{len(images)} image(s) received")
        per_image = self.typical_usage(dataclasses.replace(req, n=1)).get("images", 1.0)
        return GenerationResult(images=images,
                                usage=read_usage(body.get("usage"), len(images), per_image),
                                request_id=resp.headers.get("x-request-id"), model=req.model)

    def auth_headers(self, url: str) -> dict[str, str]:
        """``Authorization: Bearer`` with OPENAI_API_KEY."""
        return {"Authorization": f"Bearer {self.require_key()}"}

    def check_special(self, req: GenerationRequest) -> None:
        """Sizes (open on gpt-image-2, three on the others) and backgrounds."""
        self.build_fields(req)

    def build_fields(self, req: GenerationRequest) -> dict[str, Any]:
        """The request fields, after checking size and background (``check`` does the rest)."""
        quality = (req.quality or "medium").lower()
        fields: dict[str, Any] = {"model": req.model, "prompt": req.prompt, "n": req.n,
                                  "size": _size(req, self.caps_for(req.model)), "quality": quality,
                                  "output_format": "png", "moderation": "auto"}
        background = req.extra.get("background")
        if background is not None:
            if background not in BACKGROUNDS:
                raise errors.Rejected(f"background must be one of {', '.join(BACKGROUNDS)}.")
            if background == "transparent" and req.model in NO_TRANSPARENT:
                raise errors.Rejected(f"{req.model} cannot make transparent backgrounds; choose "
                                      "background 'auto' or 'opaque'.")
            fields["background"] = background
        return fields


def _size(req: GenerationRequest, caps: Capabilities) -> str:
    """The ``WxH`` to send: the asked size, the nearest one to an aspect ratio, or 1024x1024.
    Any valid size where the model takes any (``caps.open_sizes``: gpt-image-2), else one of
    the three presets."""
    if (req.width is None) != (req.height is None):
        raise errors.Rejected("Set both width and height, or neither.")
    open_size = caps.open_sizes
    if req.width and req.height:
        size = f"{req.width}x{req.height}"
        if open_size:
            _check_open_size(req.width, req.height)
        elif size not in PRESET_SIZES:
            raise errors.Rejected(
                f"{req.model} makes {', '.join(PRESET_SIZES)} images, not {size}. "
                f"Choose one of those, or {REPLACEMENT} for other sizes.")
        return size
    if req.aspect_ratio:
        ratio = sizing.ratio_of(req.aspect_ratio)
        if open_size and 1 / 3 <= ratio <= 3:  # about one megapixel, sides multiples of 16
            return "{}x{}".format(*sizing.size_for_ratio(req.aspect_ratio, 1024, 16))
        return sizing.nearest(ratio, 1, PRESET_SIZES)
    return "1024x1024"


def _check_open_size(width: int, height: int) -> None:
    """gpt-image-2: sides divisible by 16, long side ≤ 3840, ≤ 3840x2160 pixels, 1:3 to 3:1."""
    size = f"{width}x{height}"
    if width % 16 or height % 16:
        raise errors.Rejected(f"gpt-image-2 needs both sides divisible by 16; {size} is not. Try "
                              f"{round(width / 16) * 16}x{round(height / 16) * 16}.")
    if max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
        raise errors.Rejected(f"{size} is too large for gpt-image-2: the long side may be at most "
                              f"{MAX_SIDE} and the image at most 3840x2160 pixels in area.")
    if max(width, height) > 3 * min(width, height):
        raise errors.Rejected(f"{size} is too narrow for gpt-image-2: the aspect ratio must be "
                              "between 1:3 and 3:1.")


def read_images(body: dict[str, Any]) -> list[GeneratedImage]:
    """Images from ``data[].b64_json``; a URL or nothing at all is a BadResponse."""
    items = body.get("data")
    if not isinstance(items, list):
        raise errors.BadResponse("OpenAI answered without image data. Try again.")
    mime = {"jpeg": "image/jpeg", "webp": "image/webp"}.get(str(body.get("output_format")),
                                                            "image/png")
    images: list[GeneratedImage] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("b64_json"), str):
            images.append(GeneratedImage(b64_image(item["b64_json"], LABEL), mime))
        elif item.get("url"):  # GPT image models always send base64; a link means another API
            raise errors.BadResponse(
                "OpenAI sent an image link instead of image data, which GPT image "
                "models never do. Check that OPENAI_BASE_URL points at the OpenAI "
                "API.")
    if not images:
        raise errors.BadResponse(
            "OpenAI answered without an image. Try again or rephrase the prompt.")
    return images


def read_usage(usage: Any, images: int, per_image: float = 1.0) -> dict[str, float]:
    """Raw usage by token class; ``{"images": n x per_image}`` when OpenAI reported none
    (``per_image``: 1024x1024 squares per image for gpt-image-2, see ``typical_usage``)."""
    if not isinstance(usage, dict) or not usage.get("output_tokens"):
        return {"images": images * per_image}
    details = usage.get("input_tokens_details")
    if isinstance(details, dict):
        text = float(details.get("text_tokens") or 0)
        image_in = float(details.get("image_tokens") or 0)
    else:
        text, image_in = float(usage.get("input_tokens") or 0), 0.0
    out = {"input_text_tokens": text, "input_image_tokens": image_in,
           "output_image_tokens": float(usage["output_tokens"])}
    # output_tokens_details (optional) splits the output: its text tokens are billed at the
    # text-output rate, only the image tokens at image-out (openai-python images_response.py)
    split = usage.get("output_tokens_details")
    if isinstance(split, dict) and split.get("text_tokens"):
        text_out = float(split["text_tokens"])
        out["output_text_tokens"] = text_out
        out["output_image_tokens"] = float(split.get("image_tokens") or
                                           max(0.0, out["output_image_tokens"] - text_out))
    return out


def _raise_for(resp: requests.Response, model: str, key: str) -> None:
    """Map a non-200 reply to the error tree (see the module docstring)."""
    error = _error_for(resp, model, key)
    if error.retryable and resp.headers.get("x-should-retry", "").lower() == "false":
        raise errors.Rejected(
            f"{error.message} OpenAI asked not to retry this request; wait a while "
            "or change it, then try again.")
    raise error


def _error_for(resp: requests.Response, model: str, key: str) -> errors.ProviderError:
    """The error for one reply, before the x-should-retry override."""
    try:
        body = resp.json()
    except ValueError:
        body = {}
    err = body.get("error") if isinstance(body, dict) else None
    err = err if isinstance(err, dict) else {}
    code = str(err.get("code") or err.get("type") or "")
    message = clip(redact(str(err.get("message") or ""), key)) or f"HTTP {resp.status_code}"
    status = resp.status_code
    wait = retry_after_seconds(resp.headers)
    if wait is None and status == 429:  # "... Please try again in 12s." (no header sent)
        wait = hinted_wait(str(err.get("message") or ""))
    if code == "moderation_blocked":
        stage = (err.get("moderation_details") or {}).get("moderation_stage")
        where = {"input": " (input stage: the prompt or reference image)",
                 "output": " (output stage: the generated image)"}.get(str(stage), "")
        return errors.SafetyBlocked(
            f"OpenAI's safety system rejected this request{where}. Rephrase "
            "the prompt (or change the reference image) and try again.")
    if code in ("insufficient_quota", "billing_hard_limit_reached"):
        return errors.QuotaExhausted(
            "OpenAI says the account is out of credit or at its billing "
            "limit. Add credit at platform.openai.com/account/billing, then "
            "try again.")
    if code == "model_not_found":
        return errors.Rejected(
            f"OpenAI has no model {model!r} for this key (retired, or not enabled "
            f"for the organization). Choose {REPLACEMENT}.")
    if status == 401:
        return errors.NeedsKey("OpenAI refused the API key. Check OPENAI_API_KEY (keys are at "
                               "platform.openai.com/api-keys), then restart Promptboard.")
    if status == 403:
        if "verif" in message.lower():
            return errors.Rejected(
                f"OpenAI requires a verified organization for {model}: verify it at "
                "platform.openai.com/settings/organization/general, wait a few "
                "minutes, then try again.")
        return errors.NeedsKey(f"OpenAI refused this key for the request ({message}). Check that "
                               f"OPENAI_API_KEY belongs to a project allowed to use {model}.")
    return errors.status_error(status, LABEL, message, wait)
