"""Black Forest Labs' own API: the FLUX.2 models (pro, max, flex, klein).

Wire format (docs.bfl.ai/api-reference, the OpenAPI at api.bfl.ai/openapi.json; checked
2026-12-07 through the reference library; BFL's published skill black-forest-labs/bfl-api for
prices): ``POST {base}/v1/{model}`` with the key in ``x-key`` and a JSON body (``prompt``,
``width``, ``height`` 256-2048, ``seed``, ``input_image`` as base64, ``output_format``) answers
``{"id", "polling_url", "cost"?, "input_mp"?, "output_mp"?}``. ``GET polling_url`` answers
``{"id", "status", "result": {"sample": URL}, "progress"?, "details"?}`` with a status of
``Pending``, ``Ready``, ``Request Moderated``, ``Content Moderated``, ``Error`` or ``Task not
found``. Result URLs expire after ten minutes, so the image is downloaded as soon as it is
ready, through the allow-listed, size-capped downloader (``*.bfl.ai`` delivery hosts).

A submit starts a billed task, so it is never sent twice: each task's id and polling URL are
saved on the job before polling (``ctx.save_state``), and a retry or a restart resumes them.
One task per image. Only a Ready task is charged ("You are not charged for requests that
return a moderated status", help.bfl.ai). Cost: BFL charges credits ($0.01 each) per
megapixel (2^20 pixels): the first megapixel of an image at one rate, each further output or
input megapixel at another; raw usage is ``{"images": n, "extra_megapixels": further MP}``. BFL's
own figure (the submit reply's ``cost``, in credits) is recorded beside it as reported usage
``{"credits": c}`` (a price row says $0.01 per credit), so admins see any difference::

    step / reply                                   error           retried
    submit: refused before sending                 Unavailable     yes  nothing started
    submit: timeout or reset after sending         Uncertain       no   a task may have started
    401, 403                                       NeedsKey        no
    402                                            QuotaExhausted  no   out of credits
    422, other 4xx                                 Rejected        no   BFL's words
    429                                            RateLimited     yes  too many active tasks
    5xx, poll timeout or reset                     Unavailable     yes  the retry resumes
    polling URL not https on a bfl.ai host         BadResponse     no   (or the API's own origin)
    Request / Content Moderated                    SafetyBlocked   no   not charged
    Error, Task not found                          BadResponse     no
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from lib.providers import catalog_seed as seed
from lib.providers import download, errors, http
from lib.providers.base import (
    NULL_CONTEXT,
    Capabilities,
    GeneratedImage,
    GenerationRequest,
    GenerationResult,
    JobContext,
)
from lib.providers.polling import PollingProvider, fingerprint

LABEL = "Black Forest Labs"
MODELS = seed.offered("bfl")  # lib/providers/models.csv
SIZES = ("1024x1024", "1024x768", "768x1024", "1536x1024", "1024x1536", "1440x1440",
         "2048x1152", "1152x2048", "2048x2048")
MIN_SIDE, MAX_SIDE, STEP = 256, 2048, 32
MEGAPIXEL = 1 << 20
DELIVERY_HOSTS = ("bfl.ai",)  # delivery-eu1.bfl.ai and the like; plus PROMPTBOARD_DOWNLOAD_HOSTS
MODERATED = ("Request Moderated", "Content Moderated")
UNCERTAIN = ("Black Forest Labs may have started this task; check your usage at "
             "dashboard.bfl.ai before retrying, so you do not pay twice.")


class BFLProvider(PollingProvider):
    """FLUX.2 from its makers; resumable, so a retry never pays for a second task."""

    id = "bfl"
    label = LABEL
    short_label = "BFL"
    key_env = "BFL_API_KEY"
    base_url_env = "BFL_BASE_URL"
    default_base_url = "https://api.bfl.ai"
    vendor = "Black Forest Labs"
    description = ("FLUX.2 [pro], [max], [flex] and [klein] from Black Forest Labs, priced per "
                   "megapixel in credits ($0.01 each).")
    guess_seconds = 12.0  # a rough guess (UNVERIFIED); team history replaces it
    max_poll_default = 600.0
    follow_redirects = False  # the key is in x-key, which requests would carry along
    caps = Capabilities(
        models=MODELS, default_model=seed.default("bfl"), sizes=SIZES, default_size="1024x1024",
        open_sizes=True, max_n=4, max_reference_images=1, seed=True, max_seed=2**32 - 1,
        max_prompt_chars=10_000, reports_progress=True,
    )

    def check_special(self, req: GenerationRequest) -> None:
        """Sides from 256 to 2048 pixels, in steps of 32."""
        for side in (req.width, req.height):
            if side is not None and not (MIN_SIDE <= side <= MAX_SIDE and side % STEP == 0):
                raise errors.Rejected(
                    f"{LABEL} takes sides from {MIN_SIDE} to {MAX_SIDE} pixels in steps of "
                    f"{STEP}, not {side}; try 1024x1024 or 1536x1024.")

    def typical_usage(self, req: GenerationRequest) -> dict[str, float]:
        """The megapixels BFL charges for: see :func:`usage_for`."""
        return usage_for(req, req.n)

    def auth_headers(self, url: str) -> dict[str, str]:
        """The key goes to BFL's API hosts only, never to a delivery host."""
        return {"x-key": self.require_key()} if _api_host(url, self.base_url) else {}

    def test_connection(self) -> str:
        """``GET /v1/credits``: proves the key, and says what is left."""
        resp = self._send("GET", "/v1/credits")
        if resp.status_code != 200:
            _raise_for(resp, self.api_key)
        body = http.json_body(resp, LABEL)
        credits = body.get("credits") if isinstance(body, dict) else None
        left = f"; {credits} credits left" if isinstance(credits, (int, float)) else ""
        return f"Connected to Black Forest Labs{left}."

    def generate(self, req: GenerationRequest, ctx: JobContext = NULL_CONTEXT) -> GenerationResult:
        """One task per image: submit (or resume) each, poll it to the end, download it."""
        self.require_key()
        self.check(req)
        body = request_body(req)
        stamp = fingerprint(req.model, body)
        saved = ctx.state.get("tasks") if ctx.state.get("fingerprint") == stamp else None
        tasks: list[dict[str, Any]] = list(saved) if isinstance(saved, list) else []
        images: list[GeneratedImage] = []
        for i in range(req.n):
            ready = False  # task i is Ready: charged, whether or not its download works
            try:
                if i and ctx.cancel_requested():
                    raise errors.Cancelled(f"Cancelled after {i} of {req.n} images; Black "
                                           "Forest Labs charged for those, but they were not "
                                           "kept.")
                if i >= len(tasks):  # never submitted: an earlier attempt's are resumed
                    seed = None if req.seed is None else (req.seed + i) % 2**32
                    tasks.append(self._submit(req.model, {**body, **(
                        {"seed": seed} if seed is not None else {})}))
                    ctx.save_state({"tasks": tasks, "fingerprint": stamp})
                sample = self._wait(tasks[i], ctx, i, req.n)
                ready = True
                got = download.fetch_image(sample, label=LABEL, timeout=self.timeout,
                                           policy=download.Policy.from_env(DELIVERY_HOSTS))
            except errors.ProviderError as err:
                charged = i + ready
                if not charged:
                    raise
                # a retry resumes the saved tasks (no second payment); if the job ends here
                # instead, it records what was charged
                raise type(err)(f"{err.message} ({charged} of {req.n} images were made "
                                "before this; they were charged.)", retry_after=err.retry_after,
                                usage=usage_for(req, charged), resumable=True) from err
            images.append(GeneratedImage(got.data, got.mime_type))
        credits = [float(c) for t in tasks[:len(images)]
                   if isinstance(c := t.get("cost"), (int, float))]
        reported = ({"credits": sum(credits)}  # BFL's own figure, when every task had one
                    if credits and len(credits) == len(images) else {})
        return GenerationResult(images=images, usage=usage_for(req, len(images)),
                                request_id=",".join(t["id"] for t in tasks) or None,
                                seed=req.seed, model=req.model, reported_usage=reported)

    # -- the phases --------------------------------------------------------------------

    def _submit(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST the task; any doubt whether it started is Uncertain, never retried."""
        url = f"{self.base_url}/v1/{model}"
        resp = self.post_billed(url, body, self.auth_headers(url), UNCERTAIN)
        if resp.status_code != 200:
            _raise_for(resp, self.api_key, model)
        task = self.read_submitted(resp, "id", UNCERTAIN)
        polling = task.get("polling_url")
        cost = task.get("cost")  # credits, in the submit reply [2nd]; kept for the resume
        return {"id": task["id"], "polling_url": str(polling) if polling else "",
                "cost": float(cost) if isinstance(cost, (int, float)) else None}

    def _wait(self, task: dict[str, Any], ctx: JobContext, i: int, n: int) -> str:
        """Poll a task until Ready; return its result URL."""
        url = task["polling_url"] or f"{self.base_url}/v1/get_result?id={task['id']}"
        if not _api_host(url, self.base_url):
            shown = http.clip(http.redact(url, self.api_key), 80)
            raise errors.BadResponse(f"{LABEL} gave a polling URL on another host ({shown}); "
                                     "Promptboard did not follow it.")
        deadline = time.monotonic() + self.max_poll_s  # each task its own time
        while True:
            resp = self._send("GET", url)
            if resp.status_code != 200:
                _raise_for(resp, self.api_key)
            try:
                state = http.json_body(resp, LABEL)
            except errors.BadResponse:  # a blip: the task runs on, and a retry resumes it
                raise errors.Unavailable(f"{LABEL} sent an unreadable state for task "
                                         f"{task['id']}; Promptboard will check again.") from None
            state = state if isinstance(state, dict) else {}
            status = str(state.get("status") or "")
            details = _details(state, self.api_key)
            if status == "Ready":
                result = state.get("result")
                sample = result.get("sample") if isinstance(result, dict) else None
                if not isinstance(sample, str) or not sample:
                    raise errors.BadResponse(f"{LABEL} finished task {task['id']} without an "
                                             "image URL. Try again.")
                return sample
            if status in MODERATED:
                raise errors.SafetyBlocked(
                    f"{LABEL}'s moderation stopped this ({status}){details}. Nothing was "
                    "charged. Rephrase the prompt (or change the reference image).")
            if status in ("Error", "Failed"):
                raise errors.BadResponse(f"{LABEL} failed task {task['id']}{details}. Nothing "
                                         "was charged; try again.")
            if status == "Task not found":
                raise errors.BadResponse(
                    f"{LABEL} no longer knows task {task['id']} (results are kept for ten "
                    "minutes). Retry the job to make it again.")
            if status != "Pending" and status:
                raise errors.BadResponse(f"{LABEL} reported an unknown status {status!r}.")
            progress = state.get("progress")
            part = float(progress) if isinstance(progress, (int, float)) else 0.0
            ctx.report_progress((i + min(max(part, 0.0), 1.0)) / n, f"image {i + 1} of {n}")
            if ctx.cancel_requested():
                raise errors.Cancelled(
                    f"Cancelled here; {LABEL} has no cancel call, so task {task['id']} may "
                    "still finish and be charged.")
            if time.monotonic() > deadline:
                raise errors.Unavailable(f"{LABEL} task {task['id']} is still pending after "
                                         f"{self.max_poll_s / 60:g} min; Promptboard will "
                                         "check on it again.")
            self._sleep(self.poll_interval)


# --------------------------------------------------------------------------- wire helpers


def request_body(req: GenerationRequest) -> dict[str, Any]:
    """The JSON BFL takes (the seed is added per image)."""
    width, height = req.width or 1024, req.height or 1024
    body: dict[str, Any] = {"prompt": req.prompt, "width": width, "height": height,
                            "output_format": "png"}
    if req.reference_images:
        body["input_image"] = base64.b64encode(req.reference_images[0]).decode("ascii")
    return body


def usage_for(req: GenerationRequest, images: int) -> dict[str, float]:
    """``images`` (each image's first megapixel) and ``extra_megapixels`` (each further output
    megapixel, and the reference image's, counted once per image), in units of 2^20 pixels:
    BFL's formula, first MP + (output MP - 1) x rate + input MP x rate [2nd]."""
    out_mp = (req.width or 1024) * (req.height or 1024) / MEGAPIXEL
    in_mp = 0.0
    if req.reference_images:
        in_mp = _pixels(req.reference_images[0]) / MEGAPIXEL
    further = max(0.0, out_mp - 1.0) + in_mp
    usage = {"images": float(images)}
    if further and images:
        usage["extra_megapixels"] = round(further * images, 6)
    return usage


def _pixels(png: bytes) -> int:
    """Width x height from a PNG's header (references are re-encoded PNGs)."""
    if png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) >= 24:
        return int.from_bytes(png[16:20], "big") * int.from_bytes(png[20:24], "big")
    return MEGAPIXEL  # unknown: count one megapixel


def _api_host(url: str, base_url: str) -> bool:
    """The API's own origin, or https on one of BFL's API hosts (api.bfl.ai, api.eu2.bfl.ai):
    where the key may go. Delivery hosts and anything malformed are not."""
    try:
        if http.origin(url) == http.origin(base_url):
            return True
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:  # a port that is not a number, an unclosed [
        return False
    return parts.scheme == "https" and port in (None, 443) and (
        host == "api.bfl.ai" or (host.startswith("api.") and host.endswith(".bfl.ai")))


def _details(state: dict[str, Any], key: str | None) -> str:
    """BFL's own words on a task, shortened and redacted, or nothing."""
    raw = state.get("details")
    if not raw:
        return ""
    text = raw if isinstance(raw, str) else json.dumps(raw)
    return f": {http.clip(http.redact(text, key), 200)}"


def _raise_for(resp: requests.Response, key: str | None, model: str = "") -> None:
    """Map a non-200 reply (FastAPI's ``{"detail": ...}``) to the error tree."""
    try:
        body = resp.json()
    except ValueError:
        body = {}
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d)
                           for d in detail)
    words = http.clip(http.redact(str(detail or ""), key), 300) or f"HTTP {resp.status_code}"
    wait = http.retry_after_seconds(resp.headers)
    status = resp.status_code
    if status in (401, 403):
        raise errors.NeedsKey(f"{LABEL} refused the key ({words}). Check BFL_API_KEY (keys are "
                              "at dashboard.bfl.ai), then restart Promptboard.")
    if status == 402:
        raise errors.QuotaExhausted(f"{LABEL} says the account is out of credits ({words}). "
                                    "Add credits at dashboard.bfl.ai, then try again.")
    if status == 404 and model:
        raise errors.Rejected(f"{LABEL} has no model {model!r} ({words}). Choose one of "
                              f"{', '.join(MODELS)}.")
    if status == 429:
        raise errors.RateLimited(f"{LABEL} is limiting this account (too many active tasks): "
                                 f"{words}", retry_after=wait)
    raise errors.status_error(status, LABEL, words, wait)

