"""A fake Black Forest Labs API on 127.0.0.1 (docs.bfl.ai/api-reference; lib/providers/bfl.py).

    fake = FakeBFL()
    env = fake.env()                 # BFL_API_KEY, BFL_BASE_URL, the delivery host for tests
    fake.plan = ["Pending", "Ready"]  # the next task's statuses, one per poll

``POST /v1/{model}`` (key in ``x-key``) answers ``{"id", "polling_url", "cost", "input_mp",
"output_mp"}``; each ``GET /v1/get_result?id=`` moves the task one step along ``plan``; a Ready
task's ``result.sample`` is a PNG on a *second* server (another origin, like
delivery-eu1.bfl.ai), which records any ``x-key`` it was sent. Errors are FastAPI's
``{"detail": ...}``. The delivery server speaks plain http on 127.0.0.1, downloaded from only
when the test names it in ``PROMPTBOARD_DOWNLOAD_ALLOW_INSECURE_HOSTS`` (``env()`` does).
"""

from __future__ import annotations

import io
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from tests.fakes.server import FakeServer, Reply, Request

KEY = "bfl-" + "testkey0123456789abcdef"  # fake; split for secret scanners
SUBMIT = r"POST /v1/(flux-2-[a-z0-9-]+)"
POLL = r"GET /v1/get_result"
CREDITS = r"GET /v1/credits"
DELIVERY = r"GET /results/([^/]+)/sample\.png"


def png_bytes(width: int = 64, height: int = 48) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (30, 90, 160)).save(buf, "PNG")
    return buf.getvalue()


@dataclass
class Task:
    """One submitted task and where it is in its plan."""

    id: str
    model: str
    body: dict[str, Any]
    plan: list[str] = field(default_factory=list)
    polls: int = 0


class FakeBFL:
    """The fake API plus its delivery host."""

    def __init__(self, key: str = KEY) -> None:
        self.key = key
        self.plan: list[str] = ["Pending", "Ready"]
        self.details: Any = None
        self.polling_host: str | None = None  # a polling URL on another origin
        self.tasks: dict[str, Task] = {}
        self.delivery_keys: list[str | None] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.server = FakeServer({SUBMIT: self._submit, POLL: self._poll,
                                  CREDITS: self._credits})
        self.delivery = FakeServer({DELIVERY: self._deliver})
        self.base_url = self.server.url

    def env(self) -> dict[str, str]:
        return {"BFL_API_KEY": self.key, "BFL_BASE_URL": self.base_url,
                "PROMPTBOARD_DOWNLOAD_ALLOW_INSECURE_HOSTS": f"127.0.0.1:{self.delivery.port}"}

    def reset(self) -> None:
        self.plan = ["Pending", "Ready"]
        self.details = None
        self.polling_host = None
        self.tasks.clear()
        self.delivery_keys.clear()
        self._ids = itertools.count(1)
        for server in (self.server, self.delivery):
            server.history.clear()
            server.scripts.clear()

    def close(self) -> None:
        self.server.close()
        self.delivery.close()

    def submits(self) -> list[Request]:
        return self.server.requests_to("POST", r"/v1/flux-2-.*")

    # -- handlers ----------------------------------------------------------------------

    def _refused(self, req: Request) -> Reply | None:
        if req.headers.get("x-key") != self.key:
            return Reply(403, {"detail": "Not authenticated - Invalid Authentication"})
        return None

    def _submit(self, req: Request) -> Reply:
        if (refused := self._refused(req)) is not None:
            return refused
        body = req.json()
        if not str(body.get("prompt") or "").strip():
            return Reply(422, {"detail": [{"loc": ["body", "prompt"], "msg": "Field required",
                                           "type": "missing"}]})
        with self._lock:
            task_id = f"task-{next(self._ids):04d}"
            self.tasks[task_id] = Task(task_id, req.match.group(1) if req.match else "",
                                       body, list(self.plan))
        origin = self.polling_host or self.base_url
        out_mp = body.get("width", 1024) * body.get("height", 1024) / (1 << 20)
        return Reply(200, {"id": task_id, "polling_url": f"{origin}/v1/get_result?id={task_id}",
                           "cost": round(3 + max(0.0, out_mp - 1) * 1.5, 2),
                           "input_mp": 0, "output_mp": round(out_mp, 2)})

    def _poll(self, req: Request) -> Reply:
        if (refused := self._refused(req)) is not None:
            return refused
        task_id = (req.query.get("id") or [""])[0]
        with self._lock:
            task = self.tasks.get(task_id)
            if task is None:
                return Reply(200, {"id": task_id, "status": "Task not found", "result": None})
            status = task.plan[min(task.polls, len(task.plan) - 1)]
            task.polls += 1
        reply: dict[str, Any] = {"id": task_id, "status": status, "result": None,
                                 "progress": 0.5 if status == "Pending" else None,
                                 "details": self.details}
        if status == "Ready":
            reply["result"] = {
                "sample": f"{self.delivery.url}/results/{task_id}/sample.png",
                "prompt": task.body.get("prompt"), "seed": task.body.get("seed", 42)}
        return Reply(200, reply)

    def _credits(self, req: Request) -> Reply:
        return self._refused(req) or Reply(200, {"credits": 1234.5})

    def _deliver(self, req: Request) -> Reply:
        self.delivery_keys.append(req.headers.get("x-key"))
        return Reply(200, png_bytes(), {"Content-Type": "image/png"})
