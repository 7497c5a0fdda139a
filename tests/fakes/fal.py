"""A fake fal.ai queue on 127.0.0.1 (docs.fal.ai/model-endpoints/queue; lib/providers/fal.py).

    fake = FakeFal()
    env = fake.env()                          # FAL_KEY, FAL_BASE_URL, the CDN for tests
    fake.plan = ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]   # statuses, one per status poll

``POST /{owner}/{model}[/{sub}]`` (``Authorization: Key ...``) answers the request id and its
status, response and cancel URLs (the subpath is left out of them, as fal does); ``GET
.../requests/{id}/status`` walks ``plan``; ``GET .../requests/{id}`` answers FLUX's output with
``x-fal-billable-units``; ``PUT .../requests/{id}/cancel`` answers 202. Images are PNGs on a
second server (the CDN), which records any Authorization header it was sent. Errors are
``{"detail": ...}``.

The same server answers fal's Platform API model search in find mode, ``GET /v1/models?
endpoint_id=a&endpoint_id=b[&limit=n][&cursor=c]`` (docs.fal.ai/platform-apis/v1/models):
``{"models": [{"endpoint_id", "metadata": {"display_name", "category", "status", ...}}],
"next_cursor", "has_more"}``, one row per asked id in :attr:`FakeFal.models` (id -> status,
``active`` or ``deprecated``), ``limit`` rows a page; ids it lacks are left out. Without
``endpoint_id`` (search mode) it answers all its models, by ``status`` if given. ``fake.env()``
points ``FAL_API_URL`` here.
"""

from __future__ import annotations

import base64
import io
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from tests.fakes.server import FakeServer, Reply, Request

KEY = "fal-" + "key0123456789abcdef:secret0123"  # fake; split for secret scanners
SUBMIT = r"POST /([a-z0-9-]+/[a-z0-9.-]+)(/[a-z0-9.-]+)?"
STATUS = r"GET /([a-z0-9-]+/[a-z0-9.-]+)/requests/([^/]+)/status"
RESULT = r"GET /([a-z0-9-]+/[a-z0-9.-]+)/requests/([^/]+)"
CANCEL = r"PUT /([a-z0-9-]+/[a-z0-9.-]+)/requests/([^/]+)/cancel"
CDN = r"GET /files/([^/]+)/out-(\d+)\.png"
SEARCH = "GET /v1/models"
MODELS = {"fal-ai/flux/schnell": "active", "fal-ai/flux/dev": "active",
          "fal-ai/flux-pro/v1.1": "active", "fal-ai/fast-sdxl": "deprecated"}


def png_bytes(width: int = 64, height: int = 48) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (160, 90, 30)).save(buf, "PNG")
    return buf.getvalue()


@dataclass
class Queued:
    """One request in the fake queue."""

    id: str
    model: str
    body: dict[str, Any]
    plan: list[str] = field(default_factory=list)
    polls: int = 0
    cancelled: bool = False


class FakeFal:
    """The fake queue plus its CDN."""

    def __init__(self, key: str = KEY) -> None:
        self.key = key
        self.plan: list[str] = ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
        self.nsfw: list[bool] = []
        self.billable: str | None = None  # x-fal-billable-units; None: the computed MP
        self.requests: dict[str, Queued] = {}
        self.cdn_auth: list[str | None] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.models: dict[str, str] = dict(MODELS)  # what the model search knows
        self.server = FakeServer({CANCEL: self._cancel, STATUS: self._status,
                                  RESULT: self._result, SUBMIT: self._submit,
                                  SEARCH: self._search})
        self.cdn = FakeServer({CDN: self._deliver})
        self.base_url = self.server.url

    def env(self) -> dict[str, str]:
        return {"FAL_KEY": self.key, "FAL_BASE_URL": self.base_url,
                "FAL_API_URL": f"{self.base_url}/v1",
                "PROMPTBOARD_DOWNLOAD_ALLOW_INSECURE_HOSTS": f"127.0.0.1:{self.cdn.port}"}

    def reset(self) -> None:
        self.plan = ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
        self.nsfw, self.billable = [], None
        self.models = dict(MODELS)
        self.requests.clear()
        self.cdn_auth.clear()
        self._ids = itertools.count(1)
        for server in (self.server, self.cdn):
            server.history.clear()
            server.scripts.clear()

    def close(self) -> None:
        self.server.close()
        self.cdn.close()

    def submits(self) -> list[Request]:
        return [r for r in self.server.history if r.method == "POST"]

    # -- handlers ----------------------------------------------------------------------

    def _refused(self, req: Request) -> Reply | None:
        if req.headers.get("authorization") != f"Key {self.key}":
            return Reply(401, {"detail": "Cannot access application: invalid key"})
        return None

    def _submit(self, req: Request) -> Reply:
        if (refused := self._refused(req)) is not None:
            return refused
        assert req.match is not None
        model = req.match.group(1)
        with self._lock:
            rid = f"req-{next(self._ids):04d}"
            self.requests[rid] = Queued(rid, model, req.json(), list(self.plan))
        base = f"{self.base_url}/{model}/requests/{rid}"
        return Reply(200, {"request_id": rid, "response_url": base,
                           "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"})

    def _status(self, req: Request) -> Reply:
        if (refused := self._refused(req)) is not None:
            return refused
        assert req.match is not None
        with self._lock:
            q = self.requests[req.match.group(2)]
            status = q.plan[min(q.polls, len(q.plan) - 1)]
            q.polls += 1
        body: dict[str, Any] = {"status": status, "request_id": q.id}
        if status == "IN_QUEUE":
            body["queue_position"] = 2
        return Reply(202 if status != "COMPLETED" else 200, body)

    def _result(self, req: Request) -> Reply:
        if (refused := self._refused(req)) is not None:
            return refused
        assert req.match is not None
        q = self.requests[req.match.group(2)]
        size = q.body.get("image_size") or {"width": 1024, "height": 768}
        n = int(q.body.get("num_images") or 1)
        images = [{"url": f"{self.cdn.url}/files/{q.id}/out-{i}.png", "width": size["width"],
                   "height": size["height"], "content_type": "image/png"} for i in range(n)]
        mp = -(-size["width"] * size["height"] // (1 << 20))
        units = self.billable if self.billable is not None else str(n * mp)
        return Reply(200, {"images": images, "seed": q.body.get("seed", 4242),
                           "has_nsfw_concepts": self.nsfw or [False] * n,
                           "prompt": q.body.get("prompt"), "timings": {"inference": 0.4}},
                     {"x-fal-billable-units": units, "x-fal-request-id": q.id})

    def _cancel(self, req: Request) -> Reply:
        if (refused := self._refused(req)) is not None:
            return refused
        assert req.match is not None
        self.requests[req.match.group(2)].cancelled = True
        return Reply(202, {"status": "CANCELLATION_REQUESTED"})

    def _search(self, req: Request) -> Reply:
        if (refused := self._refused(req)) is not None:
            return refused
        asked = req.query.get("endpoint_id", [])
        if len(asked) > 50:
            return Reply(400, {"detail": "endpoint_id: between 1 and 50 values"})
        status = (req.query.get("status") or [None])[0]
        if not asked:  # search mode: every text-to-image model (all of the fake's), by status
            asked = [m for m, s in self.models.items() if status in (None, s)]
        rows = [{"endpoint_id": m, "metadata": {
            "display_name": m.rsplit("/", 1)[-1], "category": "text-to-image",
            "description": f"{m} on fal", "status": self.models[m], "tags": [],
            "updated_at": "2026-11-01T12:00:00Z", "model_url": f"https://fal.run/{m}"}}
            for m in asked if m in self.models]
        limit = int((req.query.get("limit") or ["20"])[0])
        page = int(base64.b64decode((req.query.get("cursor") or ["MA=="])[0]))
        more = len(rows) > (page + 1) * limit
        cursor = base64.b64encode(str(page + 1).encode()).decode() if more else None
        return Reply(200, {"models": rows[page * limit:(page + 1) * limit],
                           "next_cursor": cursor, "has_more": more})

    def _deliver(self, req: Request) -> Reply:
        self.cdn_auth.append(req.headers.get("authorization"))
        return Reply(200, png_bytes(), {"Content-Type": "image/png"})
