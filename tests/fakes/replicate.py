"""A fake Replicate API on 127.0.0.1 (wire format: providers.md §5).

    fake = FakeReplicate(token="r8_test")
    monkeypatch.setenv("REPLICATE_BASE_URL", fake.base_url)
    fake.plan = ["processing"] * 100          # the next prediction's statuses, one per GET

A create answers ``starting``; each ``GET /v1/predictions/{id}`` moves the prediction one
step along :attr:`FakeReplicate.plan` (default ``processing`` then ``succeeded``). Outputs
are served by a *second* server (another origin, like replicate.delivery), which records
whether anyone sent it an Authorization header. Errors are RFC 7807 problem details.

The delivery server speaks plain http on 127.0.0.1, which Promptboard downloads from only
when the test names it in ``PROMPTBOARD_DOWNLOAD_ALLOW_INSECURE_HOSTS`` (``fake.env()``
does). ``fake.outputs = [url, ...]`` makes a model return those URLs instead, as a model
someone published could.

For a model check it also answers ``GET /v1/models/{owner}/{name}`` (models.get: the model
with ``visibility`` and ``latest_version``, or a 404 problem when :attr:`FakeReplicate.models`
lacks it) and ``GET /v1/collections/{slug}`` (collections.get: ``{"name", "slug",
"description", "models": [...]}`` from :attr:`FakeReplicate.collection`; other slugs 404).
Shapes from replicate.com/docs/reference/http#models.get and #collections.get.
"""

from __future__ import annotations

import io
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from tests.fakes.server import FakeServer, Reply, Request

CREATE = "POST /v1/models/([^/]+)/([^/]+)/predictions"
CREATE_VERSION = "POST /v1/predictions"
GET = "GET /v1/predictions/([^/]+)"
CANCEL = "POST /v1/predictions/([^/]+)/cancel"
ACCOUNT = "GET /v1/account"
MODEL = "GET /v1/models/([^/]+)/([^/]+)"
COLLECTION = "GET /v1/collections/([^/]+)"
MODELS = ("black-forest-labs/flux-schnell", "black-forest-labs/flux-dev",
          "black-forest-labs/flux-1.1-pro", "stability-ai/sdxl")
DELIVERY = r"GET /delivery/([^/]+)/out-(\d+)\.png"
NSFW = "NSFW content detected. Try running it again, or try a different prompt."
# A prediction's ``error`` when Replicate's own filter flags it, as returned by the API (quoted
# in replicate/replicate-python and cog issues; the id in brackets differs per prediction)
E005 = ("The input or output was flagged as sensitive. Please try again with different "
        "inputs. (E005) (uIJ6l3ruRD)")


def png_bytes(width: int = 64, height: int = 64, shade: int = 120) -> bytes:
    """A real PNG."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, shade, 40)).save(buf, "PNG")
    return buf.getvalue()


def problem(status: int, detail: str, title: str = "", headers: dict[str, str] | None = None
            ) -> Reply:
    """An RFC 7807 error reply."""
    body = {"type": f"https://replicate.com/docs/reference/http#{status}",
            "title": title or detail.split(".")[0], "status": status, "detail": detail,
            "instance": "/v1/fake"}
    return Reply(status, body, {"Content-Type": "application/problem+json", **(headers or {})})


@dataclass
class Prediction:
    """One prediction the fake knows."""

    id: str
    model: str
    version: str | None
    input: dict[str, Any]
    plan: list[str]
    status: str = "starting"
    error: str | None = None
    gets: int = 0
    cancelled_by_call: bool = False
    outputs: list[str] = field(default_factory=list)


class FakeReplicate:
    """The fake API plus its delivery host."""

    def __init__(self, token: str = "r8_" + "testtoken0123456789abcdef") -> None:
        self.token = token
        self.plan: list[str] = ["processing", "succeeded"]
        self.fail_error = "CUDA out of memory"
        self.predictions: dict[str, Prediction] = {}
        self.creates: list[Request] = []
        self.delivery_auth: list[str | None] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.server = FakeServer({
            CREATE: self._create, CREATE_VERSION: self._create, GET: self._get,
            CANCEL: self._cancel, ACCOUNT: self._account, MODEL: self._model,
            COLLECTION: self._collection,
        })
        self.delivery = FakeServer({DELIVERY: self._deliver})
        self.base_url = f"{self.server.url}/v1"
        self.outputs: list[str] | None = None  # what a succeeded prediction returns instead
        self.models: set[str] = set(MODELS)  # what models.get knows (owner/name)
        self.collection: list[str] = list(MODELS[:3])  # the text-to-image collection

    @property
    def delivery_host(self) -> str:
        """``127.0.0.1:port`` of the delivery server, for the download test setting."""
        return f"127.0.0.1:{self.delivery.port}"

    def env(self) -> dict[str, str]:
        """The variables that point Promptboard at this fake (token, API, delivery host)."""
        return {"REPLICATE_API_TOKEN": self.token, "REPLICATE_BASE_URL": self.base_url,
                "PROMPTBOARD_DOWNLOAD_ALLOW_INSECURE_HOSTS": self.delivery_host}

    def reset(self) -> None:
        """Start afresh (one pair of servers serves a whole test module)."""
        self.plan = ["processing", "succeeded"]
        self.fail_error = "CUDA out of memory"
        self.outputs = None
        self.models, self.collection = set(MODELS), list(MODELS[:3])
        self.predictions.clear()
        self.creates.clear()
        self.delivery_auth.clear()
        self._ids = itertools.count(1)
        for server in (self.server, self.delivery):
            server.history.clear()
            server.scripts.clear()

    def close(self) -> None:
        """Stop both servers."""
        self.server.close()
        self.delivery.close()

    def _refused(self, req: Request) -> Reply | None:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return problem(401, "You did not pass a valid authentication token",
                           "Unauthenticated")
        if req.query:
            return problem(400, "Unexpected query string")
        return None

    def _view(self, p: Prediction) -> dict[str, Any]:
        api = self.base_url
        logs = ""
        if p.status in ("processing", "succeeded"):
            logs = f"Using seed: 4242\n  0%|          | 0/4\n 50%|#####     | {p.gets}/4"
        return {
            "id": p.id, "model": p.model, "version": p.version or "official",
            "status": p.status, "input": p.input,
            "output": p.outputs if p.status == "succeeded" else None,
            "error": p.error, "logs": logs,
            "metrics": {"predict_time": 2.5} if p.status == "succeeded" else {},
            "created_at": "2026-11-02T09:00:00.000Z", "started_at": None, "completed_at": None,
            "urls": {"get": f"{api}/predictions/{p.id}",
                     "cancel": f"{api}/predictions/{p.id}/cancel",
                     "stream": f"{self.delivery.url}/stream/{p.id}"},
        }

    def _create(self, req: Request) -> Reply:
        if refused := self._refused(req):
            return refused
        self.creates.append(req)
        body = req.json()
        if not isinstance(body.get("input"), dict):
            return problem(422, "input: Input is required")
        if req.match and req.match.groups():
            model, version = f"{req.match.group(1)}/{req.match.group(2)}", None
        elif not body.get("version"):
            return problem(422, "version: version is required")
        else:
            model, version = "community/model", str(body["version"])
        with self._lock:
            pid = f"pred{next(self._ids):04d}"
            self.predictions[pid] = Prediction(pid, model, version, body["input"],
                                               list(self.plan))
        return Reply(201, self._view(self.predictions[pid]))

    def _get(self, req: Request) -> Reply:
        if refused := self._refused(req):
            return refused
        p = self.predictions.get(req.match.group(1) if req.match else "")
        if p is None:
            return problem(404, "Not found.")
        with self._lock:
            p.gets += 1
            if p.status in ("starting", "processing") and p.plan:
                p.status = p.plan.pop(0)
                if p.status == "failed":
                    p.error = self.fail_error
                if p.status == "succeeded":
                    n = int(p.input.get("num_outputs", 1))
                    p.outputs = list(self.outputs) if self.outputs is not None else [
                        f"{self.delivery.url}/delivery/{p.id}/out-{i}.png" for i in range(n)]
        return Reply(200, self._view(p))

    def _cancel(self, req: Request) -> Reply:
        if refused := self._refused(req):
            return refused
        p = self.predictions.get(req.match.group(1) if req.match else "")
        if p is None:
            return problem(404, "Not found.")
        with self._lock:
            if p.status in ("starting", "processing"):
                p.status, p.plan, p.cancelled_by_call = "canceled", [], True
        return Reply(200, self._view(p))

    def _account(self, req: Request) -> Reply:
        if refused := self._refused(req):
            return refused
        return Reply(200, {"type": "user", "username": "promptboard-bot", "name": "Bot",
                           "github_url": None})

    @staticmethod
    def model_view(model: str) -> dict[str, Any]:
        """A model as models.get and collections.get describe it."""
        owner, name = model.split("/", 1)
        return {"url": f"https://replicate.com/{model}", "owner": owner, "name": name,
                "description": f"{name} by {owner}", "visibility": "public",
                "github_url": None, "paper_url": None, "license_url": None,
                "run_count": 1234, "cover_image_url": None, "default_example": None,
                "latest_version": {"id": "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b662",
                                   "created_at": "2026-10-01T00:00:00.000Z",
                                   "cog_version": "0.9.4", "openapi_schema": {}}}

    def _model(self, req: Request) -> Reply:
        if refused := self._refused(req):
            return refused
        model = f"{req.match.group(1)}/{req.match.group(2)}" if req.match else ""
        if model not in self.models:
            return problem(404, "Not found.")
        return Reply(200, self.model_view(model))

    def _collection(self, req: Request) -> Reply:
        if refused := self._refused(req):
            return refused
        if not req.match or req.match.group(1) != "text-to-image":
            return problem(404, "Not found.")
        return Reply(200, {"name": "Generate images", "slug": "text-to-image",
                           "description": "Models that generate images from text prompts.",
                           "models": [self.model_view(m) for m in self.collection]})

    def _deliver(self, req: Request) -> Reply:
        self.delivery_auth.append(req.headers.get("authorization"))
        i = int(req.match.group(2)) if req.match else 0
        return Reply(200, png_bytes(64 + 8 * i, 64), {"Content-Type": "image/png"})
