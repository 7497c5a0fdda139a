"""A fake Stability AI v2beta API on 127.0.0.1 (wire format: providers.md §3).

    fake = FakeStability(key="sk-test")
    monkeypatch.setenv("STABILITY_BASE_URL", fake.base_url)
    fake.server.script(GENERATE, error(429, "rate_limited", "slow down"))

Like the real API it wants ``Authorization: Bearer``, a multipart/form-data body and
``Accept: image/*`` (raw PNG, ``finish-reason``/``seed``/``x-request-id`` headers) or
``Accept: application/json`` (``{"image","finish_reason","seed"}``). Every accepted call
is recorded in :attr:`FakeStability.calls` as its parsed form.
"""

from __future__ import annotations

import base64
import io
import itertools
import uuid
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from PIL import Image

from tests.fakes.server import FakeServer, Reply, Request

GENERATE = "POST /v2beta/stable-image/generate/(core|ultra|sd3)"


def png_bytes(width: int = 64, height: int = 64, color: tuple[int, int, int] = (40, 90, 200)
              ) -> bytes:
    """A real PNG."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def error(status: int, name: str, *errors: str, headers: dict[str, str] | None = None) -> Reply:
    """An error reply in Stability's shape."""
    body = {"id": uuid.uuid4().hex, "name": name, "errors": list(errors) or [name]}
    return Reply(status, body, headers or {})


def image_reply(data: bytes | None = None, *, finish: str = "SUCCESS", seed: int = 1234,
                request_id: str = "req-scripted") -> Reply:
    """A raw-bytes 200 as sent for ``Accept: image/*``."""
    return Reply(200, png_bytes() if data is None else data, {
        "Content-Type": "image/png", "finish-reason": finish, "seed": str(seed),
        "x-request-id": request_id})


@dataclass
class Form:
    """One multipart body, parsed."""

    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


def parse_multipart(content_type: str, body: bytes) -> Form:
    """Parse multipart/form-data into text fields and file parts."""
    msg: Message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    form = Form()
    for part in msg.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            form.files[str(name)] = payload
        else:
            form.fields[str(name)] = payload.decode()
    return form


class FakeStability:
    """The fake API: validates like the real one and answers with real PNGs."""

    def __init__(self, key: str = "sk-test-stability-key") -> None:
        self.key = key
        self.calls: list[tuple[str, Form, Request]] = []  # (endpoint, form, request)
        self._ids = itertools.count(1)
        self.server = FakeServer({GENERATE: self._generate})
        self.base_url = f"{self.server.url}/v2beta"

    def reset(self) -> None:
        """Forget calls, history and unused scripts (one server serves a whole test module)."""
        self.calls.clear()
        self.server.history.clear()
        self.server.scripts.clear()
        self._ids = itertools.count(1)

    def close(self) -> None:
        """Stop the server."""
        self.server.close()

    def _generate(self, req: Request) -> Reply:
        if req.headers.get("authorization") != f"Bearer {self.key}":
            return error(401, "unauthorized", "authorization: invalid or missing header value")
        if req.query:
            return error(400, "bad_request", "unexpected query string")
        ctype = req.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            return error(400, "bad_request", "content-type: must be multipart/form-data")
        form = parse_multipart(ctype, req.body)
        endpoint = req.match.group(1) if req.match else "?"
        if not form.fields.get("prompt"):
            return error(400, "bad_request", "prompt: cannot be empty")
        if endpoint == "sd3" and form.fields.get("mode") == "image-to-image" and (
                "image" not in form.files or "strength" not in form.fields):
            return error(400, "bad_request", "image-to-image needs image and strength")
        self.calls.append((endpoint, form, req))
        n = next(self._ids)
        seed = int(form.fields.get("seed") or 0) or 1000 + n
        png = png_bytes(96, 64, (n * 40 % 256, 120, 60))
        accept = req.headers.get("accept", "")
        if accept == "application/json":
            return Reply(200, {"image": base64.b64encode(png).decode(),
                               "finish_reason": "SUCCESS", "seed": seed},
                         {"x-request-id": f"req-{n}"})
        if accept != "image/*":
            return error(400, "bad_request", f"accept: unsupported {accept!r}")
        return image_reply(png, seed=seed, request_id=f"req-{n}")


def json_reply(image_b64: str | None, finish: str = "SUCCESS", seed: int = 77) -> Reply:
    """A scripted ``Accept: application/json`` 200."""
    body: dict[str, Any] = {"finish_reason": finish, "seed": seed}
    if image_b64 is not None:
        body["image"] = image_b64
    return Reply(200, body, {"x-request-id": "req-json"})
