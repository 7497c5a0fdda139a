"""A fake Gemini ``generateContent`` API on 127.0.0.1, speaking providers.md §1.

    fake = FakeGemini()                  # fake.url is the base URL (…/v1beta)
    fake.enqueue(rate_limited("32s"), ok())
    ... GeminiProvider(base_url=fake.url, api_key=KEY) ...
    fake.calls                           # the generateContent requests received
    fake.violations                      # wire-format mistakes the client made (must stay empty)

Every request is checked like the real API would (key header, no key in the URL, known
model, camelCase body with text first, valid base64, imageSize only where supported) before
a queued reply, or a default success, is sent. The builders below make each scenario.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

from PIL import Image

from tests.fakes.server import FakeServer, Reply, Request

# Shaped like a real key (to test redaction), split so secret scanners do not flag it.
KEY = "AIza" + "FAKEgeminiTESTkey0123456789abcdefghij"
GENERATE = r"POST /v1beta/models/(?P<model>[^/:]+):generateContent"
# The live models: model -> imageSize values it accepts. The GA ids of 2026-05-28 answer in
# the same shape as their previews did (ai.google.dev/gemini-api/docs/changelog).
MODELS = {"gemini-3-pro-image": ("1K", "2K", "4K"),
          "gemini-3.1-flash-image": ("1K", "2K", "4K")}
# Shut down by Google: a call gets the 404 the API gives for an unknown model. Tests that run
# one before its date (a FakeClock in its window) pass ``FakeGemini(live=ALL_MODELS)``.
RETIRED = {"gemini-2.5-flash-image": (),  # 2.5 took no imageSize: 1K only
           "gemini-3-pro-image-preview": ("1K", "2K", "4K"),
           "gemini-3.1-flash-image-preview": ("1K", "2K", "4K")}
ALL_MODELS = MODELS | RETIRED
RATIOS = {"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"}
EXTRA_RATIOS = {m: {"1:4", "4:1", "1:8", "8:1"}
                for m in ("gemini-3.1-flash-image", "gemini-3.1-flash-image-preview")}
# Output image tokens by model and imageSize (Vertex AI model pages; providers.md §1): what
# a default reply reports in candidatesTokensDetails, so costs come out per the price rows.
IMAGE_TOKENS = {"gemini-3-pro-image": {"1K": 1120, "2K": 1120, "4K": 2000},
                "gemini-3.1-flash-image": {"1K": 1120, "2K": 1680, "4K": 2520},
                "gemini-3-pro-image-preview": {"1K": 1120, "2K": 1120, "4K": 2000},
                "gemini-3.1-flash-image-preview": {"1K": 1120, "2K": 1680, "4K": 2520},
                "gemini-2.5-flash-image": {"1K": 1290}}
PROMPT_TOKENS = 270  # what a default reply reports as promptTokenCount

def png_bytes(width: int = 64, height: int = 48, color: tuple[int, int, int] = (30, 144, 255),
              ) -> bytes:
    """A real PNG made with Pillow."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def b64(data: bytes) -> str:
    """Base64 text of some bytes."""
    return base64.b64encode(data).decode("ascii")


def usage(prompt: int = PROMPT_TOKENS, image: int = 1120, text: int = 0,
          thoughts: int = 0) -> dict[str, Any]:
    """A ``usageMetadata`` object."""
    return {"promptTokenCount": prompt, "candidatesTokenCount": image + text,
            "thoughtsTokenCount": thoughts, "totalTokenCount": prompt + image + text + thoughts,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
            "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": image}]
            + ([{"modality": "TEXT", "tokenCount": text}] if text else [])}


def ok(parts: list[dict[str, Any]] | None = None, meta: dict[str, Any] | None = None,
       response_id: str = "resp-gemini-1", finish: str = "STOP",
       model: str = "gemini-3-pro-image") -> Reply:
    """A 200 with a caption and one PNG (or the given parts)."""
    if parts is None:
        parts = [{"text": "Here you go."},
                 {"inlineData": {"mimeType": "image/png", "data": b64(png_bytes())}}]
    body: dict[str, Any] = {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish,
                        "index": 0}],
        "usageMetadata": usage() if meta is None else meta,
        "modelVersion": model, "responseId": response_id}
    return Reply(200, body)


def prompt_blocked(reason: str = "PROHIBITED_CONTENT") -> Reply:
    """200, no candidates, ``promptFeedback.blockReason``."""
    return Reply(200, {"promptFeedback": {"blockReason": reason},
                       "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
                       "responseId": "resp-blocked"})


# Google's words on a blocked image (gemini-3-pro-image, as seen live in a field report)
BLOCKED_IMAGE = ("Unable to show the generated image. The image was filtered out because it "
                 "violated Google's Generative AI Prohibited Use policy. You will not be charged "
                 "for blocked images. Try rephrasing the prompt.")


def finished(reason: str = "IMAGE_SAFETY", message: str | None = None,
             thoughts: int = 0) -> Reply:
    """200 with a candidate that stopped for ``reason`` and has no content; ``message`` is the
    candidate's ``finishMessage`` ("populated only when finish_reason is set")."""
    cand: dict[str, Any] = {"content": {}, "finishReason": reason, "index": 0}
    if message is not None:
        cand["finishMessage"] = message
    meta: dict[str, Any] = {"promptTokenCount": 9, "totalTokenCount": 9 + thoughts}
    if thoughts:
        meta["thoughtsTokenCount"] = thoughts
    return Reply(200, {"candidates": [cand], "usageMetadata": meta,
                       "responseId": "resp-finish"})


def text_only(text: str = "I can't draw that, but here is a poem about it instead.") -> Reply:
    """200, STOP, only text parts."""
    return ok([{"text": text}], meta={"promptTokenCount": 9, "candidatesTokenCount": 20,
                                      "candidatesTokensDetails": [{"modality": "TEXT",
                                                                   "tokenCount": 20}]})


def error(code: int, status: str, message: str, details: list[dict[str, Any]] | None = None,
          headers: dict[str, str] | None = None) -> Reply:
    """A Google RPC error body."""
    return Reply(code, {"error": {"code": code, "message": message, "status": status,
                                  "details": details or []}}, headers or {})


def api_key_invalid() -> Reply:
    """400 INVALID_ARGUMENT with ErrorInfo reason API_KEY_INVALID (what a wrong key gets)."""
    return error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                 [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                   "reason": "API_KEY_INVALID", "domain": "googleapis.com"}])


def rate_limited(delay: str | None = "32s",
                 quota_id: str = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier") -> Reply:
    """429 RESOURCE_EXHAUSTED with a QuotaFailure and (optionally) a RetryInfo."""
    details: list[dict[str, Any]] = [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
         "violations": [{"quotaMetric": "generativelanguage.googleapis.com/"
                                        "generate_content_free_tier_requests",
                         "quotaId": quota_id}]}]
    if delay is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay})
    return error(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your "
                 "plan and billing details.", details)


def daily_quota() -> Reply:
    """429 whose violation is a per-day quota: not worth retrying today."""
    return rate_limited("3600s", "GenerateRequestsPerDayPerProjectPerModel-FreeTier")


def server_error(code: int = 503) -> Reply:
    """500 INTERNAL, 503 UNAVAILABLE or 504 DEADLINE_EXCEEDED."""
    status = {500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}.get(code, "UNKNOWN")
    return error(code, status, "The model is overloaded. Please try again later.")


def malformed() -> Reply:
    """200 whose JSON body is cut short."""
    return Reply(200, b'{"candidates": [{"content": ', {"Content-Type": "application/json"})


def truncated_image() -> Reply:
    """200 whose image is valid base64 of a PNG cut in half."""
    png = png_bytes(256, 256)
    half = png[: len(png) // 2]
    return ok([{"inlineData": {"mimeType": "image/png", "data": b64(half)}}])


class FakeGemini:
    """The fake server, its reply queue and what it saw."""

    def __init__(self, key: str = KEY, live: dict[str, tuple[str, ...]] | None = None) -> None:
        self.key = key
        self.live = MODELS if live is None else live  # model -> the imageSize values it takes
        self.queue: list[Reply] = []
        self.violations: list[str] = []
        self.server = FakeServer({GENERATE: self._generate,
                                  r"GET /v1beta/models": self._list_models,
                                  r"GET /v1beta/models/(?P<model>[^/:]+)": self._get_model})
        self.also_listed: tuple[str, ...] = ()  # ids listed but not served (a new model)
        self.url = f"{self.server.url}/v1beta"

    def enqueue(self, *replies: Reply) -> None:
        """Answer the next generateContent calls with these replies (after validation)."""
        self.queue.extend(replies)

    @property
    def calls(self) -> list[Request]:
        """The generateContent requests received, oldest first."""
        return self.server.requests_to("POST", GENERATE.split(" ", 1)[1])

    def reset(self) -> None:
        """Forget replies, requests and violations (one fake serves a whole test module)."""
        self.queue.clear()
        self.violations.clear()
        self.live = MODELS
        self.also_listed = ()
        with self.server._lock:
            self.server.history.clear()
            self.server.scripts.clear()

    def close(self) -> None:
        """Stop the server."""
        self.server.close()

    def _auth(self, req: Request) -> Reply | None:
        if "key" in req.query:
            self.violations.append("the API key was sent in the URL query")
            return error(400, "INVALID_ARGUMENT", "Do not send the key in the URL in tests.")
        key = req.headers.get("x-goog-api-key")
        if not key:
            return error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers "
                         "(callers without established identity). Please use API Key or other "
                         "form of API consumer identity to call this API.")
        return None if key == self.key else api_key_invalid()

    def _list_models(self, req: Request) -> Reply:
        """``models.list`` (ai.google.dev/api/models#method:-models.list): ``{"models": [...],
        "nextPageToken"}``, here two pages, text models among the image ones."""
        if (bad := self._auth(req)) is not None:
            return bad
        names = ["gemini-3-pro", "text-embedding-005", *self.live, *self.also_listed]
        models = [{"name": f"models/{m}", "displayName": m, "supportedGenerationMethods":
                   ["generateContent", "countTokens"]} for m in names]
        if (req.query.get("pageToken") or [""])[0] == "p2":
            return Reply(200, {"models": models[2:]})
        return Reply(200, {"models": models[:2], "nextPageToken": "p2"})

    def _get_model(self, req: Request) -> Reply:
        model = req.match.group("model") if req.match else ""
        if (bad := self._auth(req)) is not None:
            return bad
        if model not in self.live:
            return error(404, "NOT_FOUND", f"models/{model} is not found for API version v1beta")
        return Reply(200, {"name": f"models/{model}", "displayName": model,
                           "supportedGenerationMethods": ["generateContent"]})

    def _generate(self, req: Request) -> Reply:
        if (bad := self._auth(req)) is not None:
            return bad
        model = req.match.group("model") if req.match else ""
        if model not in self.live:
            return error(404, "NOT_FOUND", f"models/{model} is not found for API version "
                         "v1beta, or is not supported for generateContent.")
        problem = self._check_body(req, model)
        if problem:
            self.violations.append(problem)
            return error(400, "INVALID_ARGUMENT", problem)
        if self.queue:
            return self.queue.pop(0)
        size = ((req.json().get("generationConfig") or {}).get("imageConfig") or {}).get(
            "imageSize", "1K")
        tokens = IMAGE_TOKENS.get(model, {}).get(size, 1120)
        return ok(meta=usage(prompt=PROMPT_TOKENS, image=tokens), model=model)

    def _check_body(self, req: Request, model: str) -> str | None:
        """What the real API would refuse in this body, or None."""
        if not req.headers.get("content-type", "").startswith("application/json"):
            return "Content-Type must be application/json"
        try:
            body = req.json()
            parts = body["contents"][0]["parts"]
        except (ValueError, KeyError, IndexError, TypeError):
            return "Invalid JSON payload: contents[0].parts is required"
        if not parts or not isinstance(parts[0].get("text"), str):
            return "the first part must be the text prompt"
        for part in parts[1:]:
            inline = part.get("inlineData") or part.get("inline_data") or {}
            try:
                base64.b64decode(inline.get("data", ""), validate=True)
            except (binascii.Error, ValueError):
                return "Invalid value at 'contents[0].parts[1].inline_data.data' (TYPE_BYTES)"
            if not (inline.get("mimeType") or inline.get("mime_type")):
                return "inline_data.mime_type is required"
        config = body.get("generationConfig") or {}
        if "IMAGE" not in (config.get("responseModalities") or []):
            return "responseModalities must include IMAGE for an image model"
        image_config = config.get("imageConfig") or {}
        size = image_config.get("imageSize")
        if size is not None and size not in self.live[model]:
            return f"imageSize {size!r} is not supported by {model}"
        ratio = image_config.get("aspectRatio")
        if ratio is not None and ratio not in RATIOS | EXTRA_RATIOS.get(model, set()):
            return f"aspectRatio {ratio!r} is not supported by {model}"
        return None
