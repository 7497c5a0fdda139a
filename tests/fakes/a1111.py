"""A fake AUTOMATIC1111 / Forge API on 127.0.0.1 (wire format: providers.md §4).

    fake = FakeA1111(step_delay=0.02, auth=("ann", "pw"))
    monkeypatch.setenv("A1111_URL", fake.url)

``txt2img``/``img2img`` really take ``steps × step_delay`` seconds, during which
``/sdapi/v1/progress`` reports the running step (the server is threaded, so polls overlap
the POST) and ``/sdapi/v1/interrupt`` makes the running call return early, as the real
server does. ``info`` is a JSON *string*; ``parameters`` echoes ``seed: -1``.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from typing import Any

from PIL import Image

from tests.fakes.server import FakeServer, Reply, Request

GENERATE = "POST /sdapi/v1/(txt2img|img2img)"
PROGRESS = "GET /sdapi/v1/progress"
INTERRUPT = "POST /sdapi/v1/interrupt"
MODELS = "GET /sdapi/v1/sd-models"
SAMPLERS = ("Euler a", "Euler", "DPM++ 2M", "DDIM")
REAL_SEED = 3_141_592


def png_bytes(width: int = 64, height: int = 64, shade: int = 90) -> bytes:
    """A real PNG."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (shade, 60, 160)).save(buf, "PNG")
    return buf.getvalue()


def error(status: int, detail: Any) -> Reply:
    """An error in A1111's shape."""
    return Reply(status, {"error": "HTTPException", "detail": detail, "body": "", "errors": ""})


class FakeA1111:
    """The fake server; :attr:`progress_seen` lists every ``/progress`` answer it gave."""

    def __init__(self, step_delay: float = 0.0, auth: tuple[str, str] | None = None,
                 grid: bool = False) -> None:
        self.step_delay = step_delay
        self.auth = auth
        self.grid = grid  # put a grid image first, as with return_grid
        self.checkpoints = ["sd_xl_base_1.0.safetensors [31e35c80fc]",
                            "v1-5-pruned-emaonly.safetensors [6ce0161689]"]
        self.progress_seen: list[dict[str, Any]] = []
        self.interrupts = 0
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._step, self._steps, self._running = 0, 0, False
        self._interrupt = threading.Event()
        self.server = FakeServer({
            GENERATE: self._generate, PROGRESS: self._progress,
            INTERRUPT: self._interrupt_call, MODELS: self._models,
        })
        self.url = self.server.url

    def reset(self, step_delay: float = 0.0, auth: tuple[str, str] | None = None,
              grid: bool = False) -> None:
        """Start afresh with new settings (one server serves a whole test module)."""
        self.step_delay, self.auth, self.grid = step_delay, auth, grid
        self.progress_seen.clear()
        self.bodies.clear()
        self.interrupts = 0
        self._interrupt.clear()
        self.server.history.clear()
        self.server.scripts.clear()

    def close(self) -> None:
        """Stop the server."""
        self.server.close()

    def _authorized(self, req: Request) -> bool:
        if self.auth is None:
            return True
        token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
        return req.headers.get("authorization") == f"Basic {token}"

    def _generate(self, req: Request) -> Reply:
        if not self._authorized(req):
            return Reply(401, {"detail": "Incorrect username or password"})
        body = req.json()
        self.bodies.append(body)
        if body.get("sampler_name") not in SAMPLERS:
            return error(404, "Sampler not found")
        if req.match and req.match.group(1) == "img2img" and not body.get("init_images"):
            return error(404, "Init image not found")
        started = time.monotonic()
        steps = int(body.get("steps", 50))
        with self._lock:
            self._interrupt.clear()
            self._running, self._step, self._steps = True, 0, steps
        try:
            for step in range(1, steps + 1):
                if self._interrupt.wait(self.step_delay):
                    break
                with self._lock:
                    self._step = step
        finally:
            with self._lock:
                self._running = False
        n = int(body.get("batch_size", 1))
        seed = REAL_SEED if body.get("seed", -1) == -1 else int(body["seed"])
        w, h = int(body.get("width", 512)) // 8, int(body.get("height", 512)) // 8
        images = [base64.b64encode(png_bytes(w, h, 40 + 30 * i)).decode() for i in range(n)]
        if self.grid and n > 1:
            images.insert(0, base64.b64encode(png_bytes(w * 2, h, 0)).decode())
        info = {"prompt": body.get("prompt"), "seed": seed,
                "all_seeds": [seed + i for i in range(n)], "width": body.get("width"),
                "height": body.get("height"), "sampler_name": body.get("sampler_name"),
                "steps": steps, "job_timestamp": "20261102090000",
                "index_of_first_image": 1 if self.grid and n > 1 else 0,
                "infotexts": ["..."] * n}
        params = {k: v for k, v in body.items() if k != "init_images"}
        return Reply(200, {"images": images, "parameters": params, "info": json.dumps(info)},
                     {"X-Process-Time": f"{time.monotonic() - started:.4f}"})

    def _progress(self, req: Request) -> Reply:
        with self._lock:
            running, step, steps = self._running, self._step, self._steps
        state = {"skipped": False, "interrupted": self._interrupt.is_set(),
                 "stopping_generation": False, "job": "scripts_txt2img" if running else "",
                 "job_count": 1 if running else 0, "job_timestamp": "20261102090000",
                 "job_no": 0, "sampling_step": step if running else 0,
                 "sampling_steps": steps if running else 0}
        progress = step / steps if running and steps else 0.0
        body = {"progress": progress, "eta_relative": 0.0, "state": state,
                "current_image": None, "textinfo": None}
        self.progress_seen.append(body)
        return Reply(200, body)

    def _interrupt_call(self, req: Request) -> Reply:
        self.interrupts += 1
        self._interrupt.set()
        return Reply(200, {})

    def _models(self, req: Request) -> Reply:
        if not self._authorized(req):
            return Reply(401, {"detail": "Incorrect username or password"})
        return Reply(200, [{"title": t, "model_name": t.split(".")[0], "hash": t[-11:-1],
                            "sha256": None, "filename": f"/models/{t}", "config": None}
                           for t in self.checkpoints])
