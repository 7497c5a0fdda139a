"""A fake OpenAI Images API on 127.0.0.1, speaking providers.md §2.

    fake = FakeOpenAI()                  # fake.url is the base URL (…/v1)
    fake.enqueue(rate_limited(retry_after="3"), ok())
    fake.calls                           # generations and edits requests received
    fake.forms                           # each edits request parsed: {field: [values]}
    fake.violations                      # wire-format mistakes the client made (must stay empty)

Requests are checked like the real API would (Bearer key, JSON or multipart, known model,
size and quality for the model, ``image`` vs ``image[]``) before a queued reply, or a default
success sized by ``n``, is sent. A wrong key gets a 401 that echoes the key in full (worse than
the real API, which masks it) so tests prove the client never shows it.
"""

from __future__ import annotations

import email.parser
import email.policy
from typing import Any

from tests.fakes.gemini import b64, png_bytes
from tests.fakes.server import FakeServer, Reply, Request

KEY = "sk-fake-openai-TESTkey-0123456789abcdefghijklmnop"
GENERATIONS = r"/v1/images/generations"
EDITS = r"/v1/images/edits"
PRESETS = {"1024x1024", "1536x1024", "1024x1536", "auto"}
MODELS = {"gpt-image-2", "gpt-image-1.5", "gpt-image-1-mini"}
QUALITIES = {"low", "medium", "high", "auto"}
GENERATION_FIELDS = {"model", "prompt", "n", "size", "quality", "output_format",
                     "output_compression", "background", "moderation", "user"}
EDIT_FIELDS = {"model", "prompt", "n", "size", "quality", "output_format", "output_compression",
               "background", "input_fidelity", "user", "image", "image[]", "mask"}


def usage(text: int = 50, image_in: int = 0, output: int = 1056,
          text_out: int = 0) -> dict[str, Any]:
    """A GPT image ``usage`` object (providers.md §2; openai-python ``images_response.py``):
    ``output_tokens`` counts ``text_out`` text tokens on top of ``output`` image tokens."""
    return {"input_tokens": text + image_in,
            "input_tokens_details": {"text_tokens": text, "image_tokens": image_in},
            "output_tokens": output + text_out,
            "output_tokens_details": {"text_tokens": text_out, "image_tokens": output},
            "total_tokens": text + image_in + output + text_out}


def ok(n: int = 1, use: dict[str, Any] | None = None, request_id: str = "req_fake_1",
       items: list[dict[str, Any]] | None = None) -> Reply:
    """A 200 with ``n`` PNGs in ``b64_json`` and usage (None: 1056 output tokens per image)."""
    data = items if items is not None else [
        {"b64_json": b64(png_bytes(64, 48, (40 * i % 255, 120, 200)))} for i in range(n)]
    body: dict[str, Any] = {"created": 1760000000, "background": "opaque",
                            "output_format": "png", "quality": "medium", "size": "1024x1024",
                            "data": data}
    body["usage"] = usage(output=1056 * n) if use is None else use
    if not body["usage"]:
        del body["usage"]
    return Reply(200, body, {"x-request-id": request_id})


def error(status: int, message: str, code: str | None = None, type_: str = "invalid_request_error",
          headers: dict[str, str] | None = None, **extra: Any) -> Reply:
    """An OpenAI error body."""
    return Reply(status, {"error": {"message": message, "type": type_, "param": None,
                                    "code": code, **extra}},
                 {"x-request-id": "req_fake_err", **(headers or {})})


def moderation_blocked(stage: str = "input") -> Reply:
    """400 moderation_blocked."""
    return error(400, "Your request was rejected by the safety system.", "moderation_blocked",
                 "image_generation_user_error", moderation_details={"moderation_stage": stage})


def rate_limited(retry_after: str | None = "3", retry_after_ms: str | None = None,
                 should_retry: str | None = None) -> Reply:
    """429 rate_limit_exceeded with its hints."""
    headers = {k: v for k, v in (("retry-after", retry_after), ("retry-after-ms", retry_after_ms),
                                 ("x-should-retry", should_retry)) if v is not None}
    return error(429, "Rate limit reached for images per minute. Please try again in 3s.",
                 "rate_limit_exceeded", "requests", headers)


def insufficient_quota() -> Reply:
    """429 insufficient_quota: out of credit, not worth retrying."""
    return error(429, "You exceeded your current quota, please check your plan and billing "
                 "details.", "insufficient_quota", "insufficient_quota")


def model_not_found(model: str = "gpt-image-1") -> Reply:
    """404 model_not_found (a retired or unknown model)."""
    return error(404, f"The model `{model}` does not exist or you do not have access to it.",
                 "model_not_found")


def org_not_verified() -> Reply:
    """403 for an unverified organization."""
    return error(403, "Your organization must be verified to use the model `gpt-image-2`. "
                 "Please go to: https://platform.openai.com/settings/organization/general")


def server_error(status: int = 500) -> Reply:
    """A 5xx."""
    return error(status, "The server had an error while processing your request. Sorry about "
                 "that!", None, "server_error")


def malformed() -> Reply:
    """200 whose JSON body is cut short."""
    return Reply(200, b'{"created": 1760000000, "data": [', {"Content-Type": "application/json"})


def truncated_image() -> Reply:
    """200 whose image is valid base64 of a PNG cut in half."""
    png = png_bytes(256, 256)
    return ok(items=[{"b64_json": b64(png[: len(png) // 2])}])


class FakeOpenAI:
    """The fake server, its reply queue and what it saw."""

    def __init__(self, key: str = KEY) -> None:
        self.key = key
        self.queue: list[Reply] = []
        self.violations: list[str] = []
        self.forms: list[dict[str, list[Any]]] = []
        self.server = FakeServer({f"POST {GENERATIONS}": self._generations,
                                  f"POST {EDITS}": self._edits,
                                  r"GET /v1/models": self._list_models,
                                  r"GET /v1/models/(?P<model>[^/]+)": self._get_model})
        self.also_listed: tuple[str, ...] = ()  # ids listed but not served (a new model)
        self.url = f"{self.server.url}/v1"

    def enqueue(self, *replies: Reply) -> None:
        """Answer the next image calls with these replies (after validation)."""
        self.queue.extend(replies)

    @property
    def calls(self) -> list[Request]:
        """Generations and edits requests received, oldest first."""
        return self.server.requests_to("POST", f"{GENERATIONS}|{EDITS}")

    def reset(self) -> None:
        """Forget replies, requests and violations (one fake serves a whole test module)."""
        self.queue.clear()
        self.violations.clear()
        self.forms.clear()
        self.also_listed = ()
        with self.server._lock:
            self.server.history.clear()
            self.server.scripts.clear()

    def close(self) -> None:
        """Stop the server."""
        self.server.close()

    def _auth(self, req: Request) -> Reply | None:
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return error(401, "You didn't provide an API key. You need to provide your API key "
                         "in an Authorization header using Bearer auth.")
        given = auth[len("Bearer "):]
        if given != self.key:
            return error(401, f"Incorrect API key provided: {given}. You can find your API key "
                         "at https://platform.openai.com/account/api-keys.", "invalid_api_key")
        return None

    def _list_models(self, req: Request) -> Reply:
        """``GET /v1/models`` (openai-python ``resources/models.py``): every model the key may
        use, text ones included, as ``{"object": "list", "data": [{"id", ...}]}``."""
        if (bad := self._auth(req)) is not None:
            return bad
        ids = ["gpt-5.2", "whisper-1", *MODELS, *self.also_listed]
        return Reply(200, {"object": "list", "data": [
            {"id": m, "object": "model", "created": 1760000000, "owned_by": "system"}
            for m in ids]})

    def _get_model(self, req: Request) -> Reply:
        if (bad := self._auth(req)) is not None:
            return bad
        model = req.match.group("model") if req.match else ""
        if model not in MODELS:
            return model_not_found(model)
        return Reply(200, {"id": model, "object": "model", "owned_by": "system"})

    def _answer(self, fields: dict[str, Any], problem: str | None) -> Reply:
        if problem:
            self.violations.append(problem)
            return error(400, problem)
        if fields.get("model") not in MODELS:
            return model_not_found(str(fields.get("model")))
        return self.queue.pop(0) if self.queue else ok(int(fields.get("n") or 1))

    def _generations(self, req: Request) -> Reply:
        if (bad := self._auth(req)) is not None:
            return bad
        if not req.headers.get("content-type", "").startswith("application/json"):
            return self._answer({}, "generations take a JSON body")
        fields = req.json()
        unknown = set(fields) - GENERATION_FIELDS
        problem = f"Unknown parameter: '{sorted(unknown)[0]}'." if unknown else None
        return self._answer(fields, problem or _check(fields))

    def _edits(self, req: Request) -> Reply:
        if (bad := self._auth(req)) is not None:
            return bad
        ctype = req.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            return self._answer({}, "edits take a multipart/form-data body")
        form = parse_multipart(ctype, req.body)
        self.forms.append(form)
        fields = {k: v[0] for k, v in form.items() if k not in ("image", "image[]")}
        unknown = set(form) - EDIT_FIELDS
        problem = f"Unknown parameter: '{sorted(unknown)[0]}'." if unknown else None
        singles, several = form.get("image", []), form.get("image[]", [])
        if len(singles) > 1:
            problem = "Duplicate parameter 'image': send several images as 'image[]'."
        elif singles and several:
            problem = "Send either 'image' or 'image[]', not both."
        elif not singles and not several:
            problem = "Missing required parameter: 'image'."
        elif len(singles) + len(several) > 16:
            problem = "At most 16 images may be sent."
        return self._answer(fields, problem or _check(fields))


def _check(fields: dict[str, Any]) -> str | None:
    """What the real API would refuse in these fields, or None."""
    model, size = fields.get("model"), str(fields.get("size", "auto"))
    if not str(fields.get("prompt") or "").strip():
        return "Missing required parameter: 'prompt'."
    try:
        n = int(fields.get("n", 1))
    except ValueError:
        return "Invalid type for 'n': expected an integer."
    if not 1 <= n <= 10:
        return f"Invalid 'n': {n}. Expected a value between 1 and 10."
    if str(fields.get("quality", "auto")) not in QUALITIES:
        return f"Invalid value for 'quality': {fields.get('quality')!r}."
    if model != "gpt-image-2" and size not in PRESETS:
        return f"Invalid value: '{size}'. Supported values are: {sorted(PRESETS)}."
    if model == "gpt-image-2" and size != "auto":
        w, h = (int(x) for x in size.split("x"))
        if w % 16 or h % 16 or max(w, h) > 3840 or max(w, h) > 3 * min(w, h):
            return f"Invalid size '{size}' for gpt-image-2."
        if fields.get("background") == "transparent":
            return "Transparent backgrounds are not supported for gpt-image-2."
    return None


def parse_multipart(content_type: str, body: bytes) -> dict[str, list[Any]]:
    """A multipart/form-data body as ``{field: [str, or (filename, bytes, type) for files]}``."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    form: dict[str, list[Any]] = {}
    for part in msg.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        value: Any = ((filename, payload, part.get_content_type()) if filename
                      else payload.decode())
        form.setdefault(name, []).append(value)
    return form
