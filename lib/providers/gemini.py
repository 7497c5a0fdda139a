"""Google Gemini native image generation ("Nano Banana") over REST ``generateContent``.

One call makes one image: ``POST {base}/models/{model}:generateContent`` with the key in the
``x-goog-api-key`` header (never ``?key=``, which leaks into logs); ``n`` images are ``n``
sequential calls whose usage is summed. Wire format: ``shared/providers.md`` §1.

Models, sizes, lifecycle and where each fact comes from: ``lib/providers/gemini_models.py``.

Status and body → error, in one place (``_raise_for`` and ``_read_images``)::

    200 promptFeedback.blockReason               SafetyBlocked   rephrase the prompt
    200 finishReason SAFETY, IMAGE_SAFETY, ...   SafetyBlocked   rephrase the prompt
    200 finishReason NO_IMAGE, MAX_TOKENS, OTHER BadResponse
    200 STOP with text parts only                BadResponse     "replied with text but no image"
    400 INVALID_ARGUMENT + API_KEY_INVALID       NeedsKey        check GEMINI_API_KEY
    400 FAILED_PRECONDITION                      QuotaExhausted (billing) / Rejected (region)
    400 other, 413, other 4xx                    Rejected
    401, 403                                     NeedsKey
    404                                          Rejected        the replacement, or a live model
    429 QuotaFailure quotaId ...PerDay...        QuotaExhausted  not retried
    429 other                                    RateLimited     retry_after = RetryInfo.retryDelay
    408, 409, 5xx, timeout, refused, reset       Unavailable     retried (Retry-After if sent)
"""

from __future__ import annotations

import base64
import math
import re
from typing import Any

import requests

from lib.providers import catalog_seed as seed
from lib.providers import errors, sizing
from lib.providers.base import (
    NULL_CONTEXT,
    Capabilities,
    GeneratedImage,
    GenerationRequest,
    GenerationResult,
    JobContext,
    Provider,
)
from lib.providers.gemini_models import (
    ASPECT_RATIOS,
    GENERIC_SPEC,
    IMAGE_SIZES,
    MODEL_SPECS,
    MODELS,
    SHUTDOWNS,
)
from lib.providers.gemini_usage import read_usage, unimaged_usage
from lib.providers.http import b64_image, clip, json_body, redact, retry_after_seconds

LABEL = "Gemini"
IMAGE_MARKS = ("image", "banana")  # in an id: an image model (list_models)

_SAFETY_REASONS: dict[str, str] = {
    "SAFETY": "Google's safety filters",
    "IMAGE_SAFETY": "Google's image safety filter",
    "PROHIBITED_CONTENT": "Google's prohibited-content policy",
    "IMAGE_PROHIBITED_CONTENT": "Google's prohibited-content policy for images",
    "BLOCKLIST": "a blocked term",
    "SPII": "sensitive personal information",
    "RECITATION": "resemblance to existing (possibly copyrighted) material",
    "IMAGE_RECITATION": "resemblance to existing (possibly copyrighted) images",
}
_OTHER_FINISH: dict[str, str] = {
    "NO_IMAGE": "finished without making an image. Rephrase the prompt to ask clearly for a "
                "picture, and try again.",
    "MAX_TOKENS": "ran out of output tokens before the image was done. Shorten the prompt or "
                  "use fewer reference images.",
}
_DATA_URL_IN_TEXT = re.compile(r"data:(image/[\w.+-]+);base64,([A-Za-z0-9+/=\s]+)")
_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


class GeminiProvider(Provider):
    """Gemini image models through the Generative Language API."""

    id = "gemini"
    label = "Google Gemini"
    short_label = LABEL
    hint = "Check GEMINI_BASE_URL if you set it."
    key_env = "GEMINI_API_KEY"
    base_url_env = "GEMINI_BASE_URL"
    default_base_url = "https://generativelanguage.googleapis.com/v1beta"
    description = "Google's Gemini image models (Nano Banana): 1K to 4K, up to 14 references."
    vendor = "Google"
    shutdowns = SHUTDOWNS
    # Per model (sizes, ratios, references): lib/providers/capabilities.csv via model_caps().
    # 8,000 characters (~2k tokens) is far more than any image prompt needs, and leaves the
    # rest of the smallest input window for up to 14 reference images at 560 tokens each.
    guess_seconds = 10.0  # a rough guess (UNVERIFIED); team history replaces it
    caps = Capabilities(
        models=MODELS, default_model=seed.default("gemini"), aspect_ratios=ASPECT_RATIOS,
        qualities=IMAGE_SIZES, default_quality="1K", max_n=4, max_reference_images=14,
        negative_prompt=False, seed=False, max_prompt_chars=8000,
    )

    def auth_headers(self, url: str) -> dict[str, str]:
        """The key in ``x-goog-api-key`` (never ``?key=``, which leaks into logs)."""
        return {"x-goog-api-key": self.require_key()}

    def check_special(self, req: GenerationRequest) -> None:
        """Only Gemini image models; image sizes worded as sizes (2.5 Flash is 1K only)."""
        generation_config(req, self.caps_for(req.model))

    def typical_usage(self, req: GenerationRequest) -> dict[str, float]:
        """Tokens a call like this usually reports (providers.md §1 token table)."""
        spec = MODEL_SPECS.get(req.model, GENERIC_SPEC)
        tokens = dict(spec.image_tokens)
        image = tokens.get((req.quality or "1K").upper(), tokens.get("1K", 1290))
        prompt = math.ceil(len(req.prompt or "") / 4) + spec.ref_tokens * len(req.reference_images)
        n = float(max(1, req.n))
        return {"input_tokens": n * prompt, "output_image_tokens": n * image,
                "output_text_tokens": n * spec.thinking_tokens}

    def test_connection(self) -> str:
        """Look up the default model with the key; a short message or the mapped error."""
        key = self.require_key()
        model = self.line.default
        resp = self._send("GET", f"/models/{model}")
        if resp.status_code != 200:
            _raise_for(resp, model, key)
        return f"Gemini answered: {model} is available to this key."

    def list_models(self) -> list[str]:
        """``GET /models`` (models.list, paged): ids that call themselves image models
        ("image", or Google's "Nano Banana" name for them: gemini-nano-banana-2.1 has no
        "image" in it) and take generateContent; the list has no output modality."""
        key, found, token = self.require_key(), [], ""
        for _ in range(20):  # pages of 1000: far more than Google lists
            resp = self._send("GET", "/models", params={"pageSize": 1000,
                                                        **({"pageToken": token} if token else {})})
            if resp.status_code != 200:
                _raise_for(resp, "", key)
            body = json_body(resp, LABEL)
            body = body if isinstance(body, dict) else {}
            for m in body.get("models") or []:
                name = str(m.get("name") or "") if isinstance(m, dict) else ""
                methods = m.get("supportedGenerationMethods") if isinstance(m, dict) else None
                if (any(mark in name for mark in IMAGE_MARKS)
                        and (not isinstance(methods, list) or "generateContent" in methods)):
                    found.append(name.removeprefix("models/"))
            token = str(body.get("nextPageToken") or "")
            if not token:
                break
        return found

    def generate(self, req: GenerationRequest, ctx: JobContext = NULL_CONTEXT) -> GenerationResult:
        """Make ``req.n`` images, one call each, reporting progress after every image."""
        key = self.require_key()
        self.check(req)
        body = build_body(req, self.caps_for(req.model))
        images: list[GeneratedImage] = []
        usage: dict[str, float] = {}
        request_id: str | None = None
        for i in range(req.n):
            if i and ctx.cancel_requested():
                raise errors.Cancelled(
                    f"Cancelled after {i} of {req.n} images (those were charged).",
                    usage=dict(usage))
            try:
                got, used, request_id = self._call(req.model, body, key)
            except errors.ProviderError as err:
                if not i:
                    raise
                note = f" ({i} of {req.n} images were made before this; they were charged.)"
                billed = dict(usage)
                for unit, amount in (err.usage or {}).items():
                    billed[unit] = billed.get(unit, 0.0) + amount
                raise type(err)(err.message + note, retry_after=err.retry_after,
                                usage=billed) from err
            images.extend(got)
            for unit, amount in used.items():
                usage[unit] = usage.get(unit, 0.0) + amount
            ctx.report_progress((i + 1) / req.n, f"image {i + 1} of {req.n}")
        return GenerationResult(images=images, usage=usage, request_id=request_id,
                                model=req.model)

    def _call(self, model: str, body: dict[str, Any],
              key: str) -> tuple[list[GeneratedImage], dict[str, float], str | None]:
        """One generateContent call: images, usage and response id."""
        resp = self._send("POST", f"/models/{model}:generateContent", json=body)
        if resp.status_code != 200:
            _raise_for(resp, model, key)
        data = json_body(resp, LABEL)
        if not isinstance(data, dict):
            raise errors.BadResponse("Gemini sent a reply we cannot read. Try again.")
        try:
            images = read_images(data, key)
        except errors.ProviderError as err:  # a 200 without an image: its tokens are billed
            raise type(err)(err.message, retry_after=err.retry_after,
                            usage=unimaged_usage(data)) from None
        rid = data.get("responseId")
        return images, read_usage(data, len(images)), rid if isinstance(rid, str) else None


# --------------------------------------------------------------------------- request


def build_body(req: GenerationRequest, caps: Capabilities) -> dict[str, Any]:
    """The camelCase generateContent body (``generation_config`` checks size and ratio)."""
    config = generation_config(req, caps)
    parts: list[dict[str, Any]] = [{"text": req.prompt}]
    for ref in req.reference_images:  # lib.imaging.images hands providers validated PNG bytes
        parts.append({"inlineData": {"mimeType": "image/png",
                                     "data": base64.b64encode(ref).decode("ascii")}})
    return {"contents": [{"role": "user", "parts": parts}], "generationConfig": config}


def generation_config(req: GenerationRequest, caps: Capabilities) -> dict[str, Any]:
    """``generationConfig`` for the request's size and ratio, by what the model takes
    (``caps``: the catalog's row or an admin's edit); Rejected for a size it does not make."""
    image_config: dict[str, str] = {}
    ratio = _aspect_ratio(req, caps.aspect_ratios or ASPECT_RATIOS)
    if ratio:
        image_config["aspectRatio"] = ratio
    sizes = caps.qualities or ("1K",)
    if req.quality:
        size = req.quality.strip().upper()
        if size not in sizes:
            raise errors.Rejected(
                f"{req.model} makes {' or '.join(sizes)} images, not "
                f"{req.quality}. Choose {sizes[0]}, or a Gemini 3 model "
                "for 2K and 4K.")
        if len(sizes) > 1:  # 2.5 Flash is 1K only: it gets no imageSize at all
            image_config["imageSize"] = size
    config: dict[str, Any] = {"responseModalities": ["TEXT", "IMAGE"]}
    if image_config:
        config["imageConfig"] = image_config
    return config


def _aspect_ratio(req: GenerationRequest, allowed: tuple[str, ...]) -> str | None:
    """The requested ratio, or the supported one nearest to width/height, or None."""
    if req.aspect_ratio:
        ratio = req.aspect_ratio.replace(" ", "")
        if ratio not in allowed:
            raise errors.Rejected(
                f"{req.model} does not make {req.aspect_ratio} images; choose one "
                f"of {', '.join(allowed)}.")
        return ratio
    if req.width and req.height:
        return sizing.nearest(req.width, req.height, allowed)
    return None


# --------------------------------------------------------------------------- response


def read_images(data: dict[str, Any], key: str | None = None) -> list[GeneratedImage]:
    """Images in every candidate (thought parts skipped), or the error that explains why not,
    with Google's own explanation (``finishMessage``) when it gave one."""
    feedback = data.get("promptFeedback") or {}
    block = feedback.get("blockReason") if isinstance(feedback, dict) else None
    if block:
        why = _SAFETY_REASONS.get(str(block), "Google's safety filters")
        raise errors.SafetyBlocked(
            f"Gemini blocked the prompt ({block}: {why}). Rephrase the prompt "
            "and try again.")
    images: list[GeneratedImage] = []
    texts: list[str] = []
    finishes: list[str] = []
    said = ""
    for cand in data.get("candidates") or []:
        if not isinstance(cand, dict):
            continue
        finishes.append(str(cand.get("finishReason") or ""))
        if isinstance(cand.get("finishMessage"), str) and not said:
            said = clip(redact(cand["finishMessage"].strip(), key), 300)
        for part in (cand.get("content") or {}).get("parts") or []:
            if not isinstance(part, dict) or part.get("thought"):
                continue
            inline = part.get("inlineData") or part.get("inline_data")
            if isinstance(inline, dict):
                mime = inline.get("mimeType") or inline.get("mime_type") or "image/png"
                raw = inline.get("data")
                if not isinstance(raw, str):
                    raise errors.BadResponse("Gemini sent an image part without data. Try again.")
                images.append(GeneratedImage(b64_image(raw, LABEL), str(mime)))
            elif isinstance(part.get("text"), str):
                found = _DATA_URL_IN_TEXT.search(part["text"])  # some proxies do this
                if found:
                    images.append(GeneratedImage(b64_image(found.group(2), LABEL),
                                                 found.group(1)))
                elif part["text"].strip():
                    texts.append(part["text"].strip())
    if images:
        return images
    google = f' Google says: "{said}"' if said else ""
    for reason in finishes:
        if reason in _SAFETY_REASONS:
            raise errors.SafetyBlocked(
                f"Gemini blocked the image ({reason}: {_SAFETY_REASONS[reason]}).{google}"
                " Rephrase the prompt and try again.")
        if reason and reason != "STOP":
            why = _OTHER_FINISH.get(reason, "stopped without an image. Try again; if it "
                                            "repeats, rephrase the prompt.")
            raise errors.BadResponse(f"Gemini {why} (finish reason {reason}).{google}")
    if texts:
        raise errors.BadResponse(f"Gemini replied with text but no image: '{clip(texts[0], 200)}'. "
                                 "Rephrase to ask for an image.")
    raise errors.BadResponse("Gemini answered without an image. Try again or rephrase the prompt.")


# --------------------------------------------------------------------------- errors


def _raise_for(resp: requests.Response, model: str, key: str) -> None:
    """Map a non-200 reply to the error tree (see the module docstring)."""
    try:
        body = resp.json()
    except ValueError:
        body = {}
    err = body.get("error") if isinstance(body, dict) else None
    err = err if isinstance(err, dict) else {}
    status = str(err.get("status") or "")
    message = clip(redact(str(err.get("message") or ""), key)) or f"HTTP {resp.status_code}"
    details = [d for d in err.get("details") or [] if isinstance(d, dict)]
    code = resp.status_code
    reasons = {d.get("reason") for d in details if str(d.get("@type", "")).endswith("ErrorInfo")}
    if code == 400 and ("API_KEY_INVALID" in reasons or "API key not valid" in message):
        raise errors.NeedsKey("Gemini refused the API key. Check GEMINI_API_KEY (create a key at "
                              "aistudio.google.com/apikey), then restart Promptboard.")
    if code == 400 and status == "FAILED_PRECONDITION":
        if "billing" in message.lower():
            raise errors.QuotaExhausted(
                f"Gemini needs billing for this: {message} Enable billing for "
                "the key's project in Google AI Studio, then try again.")
        raise errors.Rejected(f"Gemini cannot serve this key here: {message} The free tier is not "
                              "offered in every region; enable billing in Google AI Studio.")
    if code in (401, 403):
        raise errors.NeedsKey(
            f"Gemini refused the API key ({message}). Check GEMINI_API_KEY and that "
            "the Generative Language API is enabled for its project.")
    if code == 404:
        ends = SHUTDOWNS.get(model)
        live = [m for m in MODELS if m not in SHUTDOWNS]
        instead = f"use {ends.replacement}" if ends else f"choose one of {', '.join(live)}"
        raise errors.Rejected(f"Gemini model {model!r} was not found (retired or not available to "
                              f"this key); {instead}.")
    if code == 413:
        raise errors.Rejected(
            "The request is too large for Gemini (about 20 MB at most); use fewer "
            "or smaller reference images.")
    if code == 429:
        quota_ids = [str(v.get("quotaId") or "") for d in details
                     if str(d.get("@type", "")).endswith("QuotaFailure")
                     for v in d.get("violations") or [] if isinstance(v, dict)]
        daily = next((q for q in quota_ids if "PerDay" in q), None)
        if daily:
            raise errors.QuotaExhausted(f"Gemini's daily quota is used up ({daily}). Try again "
                                        "tomorrow, or enable billing or a higher tier in Google AI "
                                        "Studio.")
        raise errors.RateLimited(
            f"Gemini is rate limiting this key: {message}",
            retry_after=_retry_delay(details) or retry_after_seconds(resp.headers))
    raise errors.status_error(code, LABEL, message, retry_after_seconds(resp.headers),
                              name=status)


def _retry_delay(details: list[dict[str, Any]]) -> float | None:
    """Seconds from a google.rpc.RetryInfo detail (``"37s"``, ``"1.5s"``), if any."""
    for d in details:
        if str(d.get("@type", "")).endswith("RetryInfo"):
            found = _DELAY.match(str(d.get("retryDelay") or ""))
            if found:
                return float(found.group(1))
    return None
