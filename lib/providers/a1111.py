"""AUTOMATIC1111 / Forge web UI API: a Stable Diffusion server the team runs itself.

Wire format: ``../shared/providers.md`` §4. Offered only when ``A1111_URL`` is set (the
server must run with ``--api``); ``A1111_AUTH=user:password`` matches its ``--api-auth``.
One blocking POST to ``/sdapi/v1/txt2img`` (or ``img2img`` with a reference image) makes
all ``n`` images; meanwhile a thread polls ``/sdapi/v1/progress`` for real progress and,
on a cancel request, calls ``/sdapi/v1/interrupt``. Raw usage is ``{"gpu_seconds": s}``
from ``X-Process-Time`` (else wall time), priced at 0 unless an admin sets a rate::

    status / failure                     error          retried
    401                                  NeedsKey       no   check A1111_AUTH
    404 "Sampler not found"              Rejected       no
    404 other (no API at that address)   NeedsKey       no   start it with --api
    422 validation                       Rejected       no
    500 (OOM, NaNs, bad checkpoint)      Rejected       no   the same request fails again
    502, 503, 504 (a proxy, start-up)    Unavailable    yes  Retry-After if sent
    other statuses                       the base's default map (errors.status_error)
    timeout, refused, reset              Unavailable    yes
    200 without a readable image         BadResponse    no
    cancelled while running              Cancelled      -

A 500 from A1111 is an exception raised while generating (usually out of GPU memory);
retrying the same request would occupy the GPU and fail the same way, so it is not retried.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests

from lib.providers import catalog_seed as seed
from lib.providers import checks, errors, http, sizing
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

log = logging.getLogger(__name__)
LABEL = "AUTOMATIC1111"
SIZES = ("512x512", "512x768", "768x512", "768x768", "1024x1024", "832x1216", "1216x832",
         "896x1152", "1152x896", "1344x768", "768x1344")
DEFAULT_STEPS = 20
DEFAULT_CFG = 7.0
DEFAULT_SAMPLER = "Euler a"
GUESS_SECONDS_PER_STEP = 0.1  # a rough guess for estimates only: ~10 it/s at 512² on a mid GPU
_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8", "image/jpeg"), (b"RIFF", "image/webp"))


@dataclass(frozen=True)
class Login:
    """``A1111_AUTH`` parsed once: the basic-auth pair, whether it is well formed, and the
    strings to redact from the server's messages. Its repr never shows the password."""

    pair: tuple[str, str] | None
    ok: bool
    secrets: tuple[str, ...]

    def __repr__(self) -> str:
        return f"Login(set={self.pair is not None}, ok={self.ok})"


def read_login() -> Login:
    """Parse ``A1111_AUTH`` (``user:password``, as given to ``--api-auth``); unset is fine."""
    raw = os.environ.get("A1111_AUTH", "").strip()
    ok = not raw or ":" in raw
    user, _, password = raw.partition(":")
    return Login((user, password) if raw and ok else None, ok, (raw, password))


class A1111Provider(Provider):
    """A local AUTOMATIC1111 or Forge server: any checkpoint, real progress, cancellable."""

    id = "a1111"
    label = "AUTOMATIC1111 / Forge (local)"
    short_label = LABEL
    hint = "Is it running, with --api?"
    key_env = None
    base_url_env = "A1111_URL"
    default_base_url = None
    description = (
        "Your own Stable Diffusion server (AUTOMATIC1111 or Forge, started with --api). "
        "Any checkpoint it has; costs nothing unless an admin sets a rate per GPU-second."
    )
    guess_seconds = 10.0  # a rough guess (UNVERIFIED); team history replaces it
    caps = Capabilities(
        models=seed.offered("a1111"), default_model=seed.default("a1111"), open_models=True,
        sizes=SIZES,
        default_size="512x512", max_n=8, max_reference_images=1, negative_prompt=True,
        seed=True, max_prompt_chars=10_000, reports_progress=True, cancellable=True,
        open_sizes=True,
    )

    def __init__(
        self, session: requests.Session | None = None, base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT, api_key: str | None = None, *,
        progress_interval: float = 0.5,
    ) -> None:
        """Reads ``A1111_AUTH`` (``user:password``) now; it is kept private, never printed."""
        super().__init__(session, base_url, timeout, api_key)
        self.progress_interval = progress_interval
        self._login = read_login()

    def __repr__(self) -> str:
        return f"A1111Provider({http.origin(self.base_url) if self.base_url else 'unset'})"

    def typical_usage(self, req: GenerationRequest) -> dict[str, float]:
        """A rough GPU time from steps and count (only matters once a rate is set)."""
        try:
            steps = checks.whole_number(req.extra.get("steps", DEFAULT_STEPS), "steps", 1, 500)
        except errors.Rejected:  # generate() says so; an estimate should not fail the submit
            steps = DEFAULT_STEPS
        return {"gpu_seconds": GUESS_SECONDS_PER_STEP * steps * req.n}

    def list_models(self) -> list[str]:
        """Titles of the checkpoints the server has (``GET /sdapi/v1/sd-models``)."""
        resp = self._call("GET", "/sdapi/v1/sd-models")
        if resp.status_code != 200:
            _raise_for(resp, DEFAULT_SAMPLER, self._login)
        body = http.json_body(resp, LABEL)
        if not isinstance(body, list):
            raise errors.BadResponse("AUTOMATIC1111 sent a model list that is not a list.")
        return [str(m["title"]) for m in body if isinstance(m, dict) and m.get("title")]

    def check_special(self, req: GenerationRequest) -> None:
        """steps, cfg_scale and strength in range, and a readable aspect ratio."""
        _payload(req)

    def test_connection(self) -> str:
        """List the checkpoints: proves the address, the API flag and the login."""
        titles = self.list_models()
        shown = ", ".join(titles[:5]) + (", ..." if len(titles) > 5 else "")
        return f"Connected; {len(titles)} models: {shown or 'none'}"

    def generate(self, req: GenerationRequest, ctx: JobContext = NULL_CONTEXT) -> GenerationResult:
        """One blocking call for all images, watched by a progress/cancel thread."""
        self._check_config()
        self.check(req)
        path, payload = _payload(req)
        stop, interrupted = threading.Event(), threading.Event()
        watcher = threading.Thread(target=self._watch, args=(ctx, stop, interrupted),
                                   name="a1111-progress", daemon=True)
        started = time.monotonic()
        watcher.start()
        try:
            resp = self._call("POST", path, json=payload, timeout=self.timeout)
        except errors.ProviderError:
            if interrupted.is_set():
                raise errors.Cancelled("Cancelled; AUTOMATIC1111 was told to stop.") from None
            raise
        finally:
            stop.set()
            watcher.join(timeout=self._poll_timeout + 1)
        wall = time.monotonic() - started
        if interrupted.is_set():
            raise errors.Cancelled(
                "Cancelled; AUTOMATIC1111 was told to stop and nothing was kept.")
        if resp.status_code != 200:
            _raise_for(resp, payload["sampler_name"], self._login)
        images, seed, job_stamp = _read(resp, req.n)
        try:
            gpu_seconds = float(resp.headers.get("x-process-time", ""))
        except ValueError:
            gpu_seconds = wall
        return GenerationResult(
            images=images, usage={"gpu_seconds": round(gpu_seconds, 3)},
            request_id=f"a1111-{job_stamp}" if job_stamp else None, seed=seed, model=req.model,
        )

    # -- HTTP --------------------------------------------------------------------------

    @property
    def _poll_timeout(self) -> float:
        return min(self.timeout, 5.0)

    def _check_config(self) -> None:
        if not self.base_url:
            raise errors.NeedsKey(f"{self.label} is not configured. {self.configure_hint()}")
        if not self._login.ok:
            raise errors.NeedsKey(
                "A1111_AUTH must look like user:password (as given to --api-auth).")

    def _call(self, method: str, path: str, *, timeout: float | None = None,
              **kw: Any) -> requests.Response:
        self._check_config()
        return self._send(method, path, timeout=timeout, auth=self._login.pair, **kw)

    def _watch(self, ctx: JobContext, stop: threading.Event,
               interrupted: threading.Event) -> None:
        """Poll progress until ``stop``; on a cancel request, interrupt the server once."""
        while not stop.wait(self.progress_interval):
            try:
                if not interrupted.is_set() and ctx.cancel_requested():
                    interrupted.set()
                    self._call("POST", "/sdapi/v1/interrupt", timeout=self._poll_timeout)
                    continue
                resp = self._call("GET", "/sdapi/v1/progress",
                                  params={"skip_current_image": "true"},
                                  timeout=self._poll_timeout)
                if resp.status_code == 200 and not stop.is_set():
                    _report(ctx, http.json_body(resp, LABEL))
            except errors.ProviderError as exc:  # progress is best effort; the POST decides
                log.debug("A1111 progress poll failed: %s", exc.message)
            except Exception:  # noqa: BLE001 - e.g. the job row being written elsewhere
                log.warning("A1111 progress thread hit an error", exc_info=True)


# --------------------------------------------------------------------------- request


def _payload(req: GenerationRequest) -> tuple[str, dict[str, Any]]:
    """The endpoint path and JSON body for a request."""
    width, height = req.width or 512, req.height or 512
    if req.aspect_ratio and not (req.width and req.height):
        width, height = _aspect_size(req.aspect_ratio)
    body: dict[str, Any] = {
        "prompt": req.prompt, "negative_prompt": req.negative_prompt or "",
        "width": width, "height": height,
        "steps": checks.whole_number(req.extra.get("steps", DEFAULT_STEPS), "steps", 1, 500),
        "cfg_scale": checks.number(req.extra.get("cfg_scale", DEFAULT_CFG), "cfg_scale", 1, 30),
        "seed": -1 if req.seed is None else req.seed,
        "sampler_name": str(req.extra.get("sampler") or DEFAULT_SAMPLER),
        "batch_size": req.n, "n_iter": 1, "send_images": True, "save_images": False,
    }
    if req.extra.get("scheduler"):
        body["scheduler"] = str(req.extra["scheduler"])
    if req.model and req.model != "default":
        body["override_settings"] = {"sd_model_checkpoint": req.model}
    if not req.reference_images:
        return "/sdapi/v1/txt2img", body
    body["init_images"] = [base64.b64encode(req.reference_images[0]).decode()]
    body["denoising_strength"] = checks.number(req.extra.get("strength", 0.75), "strength", 0, 1)
    return "/sdapi/v1/img2img", body


def _aspect_size(ratio: str) -> tuple[int, int]:
    """About 512² pixels in a ``W:H`` ratio, sides multiples of 64."""
    return sizing.size_for_ratio(ratio, 512, 64)


# --------------------------------------------------------------------------- response


def _report(ctx: JobContext, body: Any) -> None:
    """Forward one ``/progress`` reply; an idle server (``job_count == 0``) says nothing."""
    if not isinstance(body, dict) or not isinstance(body.get("state"), dict):
        return
    state = body["state"]
    if not state.get("job_count"):
        return
    fraction = max(0.0, min(0.99, float(body.get("progress") or 0.0)))
    ctx.report_progress(fraction,
                        f"step {state.get('sampling_step', 0)}/{state.get('sampling_steps', '?')}")


def _read(resp: requests.Response, n: int) -> tuple[list[GeneratedImage], int | None, str | None]:
    """Images, the first seed and the job timestamp; ``info`` is JSON inside a JSON string."""
    body = http.json_body(resp, LABEL)
    if not isinstance(body, dict) or not isinstance(body.get("images"), list):
        raise errors.BadResponse("AUTOMATIC1111 answered without an image list. Try again.")
    try:
        info = json.loads(body.get("info") or "{}")
    except (TypeError, ValueError):
        info = {}
    info = info if isinstance(info, dict) else {}
    first = info.get("index_of_first_image", 0)  # 1 when a grid image comes first
    blobs = body["images"][first if isinstance(first, int) else 0:][:n]
    if not blobs:
        raise errors.BadResponse("AUTOMATIC1111 answered without an image. Try again.")
    seeds = s if isinstance(s := info.get("all_seeds"), list) else []
    images = []
    for i, b64 in enumerate(blobs):
        data = http.b64_image(str(b64 or ""), LABEL)
        mime = next((m for magic, m in _MAGIC if data.startswith(magic)), "image/png")
        seed = seeds[i] if i < len(seeds) else None
        images.append(GeneratedImage(data, mime, seed if isinstance(seed, int) else None))
    seed = info.get("seed") if isinstance(info.get("seed"), int) else images[0].seed
    stamp = info.get("job_timestamp")
    return images, seed, str(stamp) if stamp else None


def _raise_for(resp: requests.Response, sampler: str, login: Login) -> None:
    """Turn a non-200 reply (``{"error","detail","body","errors"}``) into a ProviderError."""
    status, detail = resp.status_code, _detail(resp, login)
    if status == 401:
        raise errors.NeedsKey("AUTOMATIC1111 refused the login (401); check A1111_AUTH "
                              "(user:password, as given to --api-auth).")
    if status == 404 and "sampler" in detail.lower():
        raise errors.Rejected(f"AUTOMATIC1111 has no sampler {sampler!r}; pick one it lists at "
                              "/sdapi/v1/samplers (e.g. 'Euler a', 'DPM++ 2M').")
    if status == 404:
        raise errors.NeedsKey(
            f"AUTOMATIC1111 answered 404 ({detail}); start it with --api and check "
            "A1111_URL.")
    if status == 422:
        raise errors.Rejected(f"AUTOMATIC1111 refused the request as invalid: {detail}")
    if status in (502, 503, 504):
        raise errors.Unavailable(f"AUTOMATIC1111 is not ready (HTTP {status}).",
                                 retry_after=http.retry_after_seconds(resp.headers))
    if status >= 500:
        raise errors.Rejected(
            f"AUTOMATIC1111 could not make this image: {detail}. If it ran out of "
            "GPU memory, try a smaller size or fewer images.")
    raise errors.status_error(status, LABEL, detail, http.retry_after_seconds(resp.headers))


def _detail(resp: requests.Response, login: Login) -> str:
    """The server's own words, without the A1111_AUTH credentials should it echo them."""
    try:
        body = resp.json()
    except ValueError:
        return http.clip(http.redact(resp.text or resp.reason or "no details", *login.secrets))
    detail = body.get("detail") if isinstance(body, dict) else body
    if isinstance(detail, list):  # FastAPI validation: [{"loc": [...], "msg": "..."}]
        detail = "; ".join(
            f"{'.'.join(str(x) for x in d.get('loc', [])[1:])}: {d.get('msg')}"
            if isinstance(d, dict) else str(d) for d in detail)
    text = str(detail or (body.get("errors") if isinstance(body, dict) else "") or "no details")
    return http.clip(http.redact(text, *login.secrets))
