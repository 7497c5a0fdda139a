"""fal.ai's queue API: FLUX and any other image model fal hosts, by its endpoint id.

Wire format (docs.fal.ai/model-endpoints/queue and .../model-apis/errors, checked 2026-12-07
through the reference library): ``POST {base}/{model_id}`` with ``Authorization: Key ...``
and the model's input as JSON answers ``{"request_id", "status_url", "response_url",
"cancel_url"}``. ``GET status_url`` answers ``{"status": "IN_QUEUE" | "IN_PROGRESS" |
"COMPLETED", "queue_position"?}``; ``GET response_url`` answers the model's output (FLUX:
``{"images": [{"url", "width", "height", "content_type"}], "seed", "has_nsfw_concepts"}``),
with ``x-fal-billable-units`` when fal says what it billed; ``PUT cancel_url`` asks it to
stop. Errors are ``{"detail": ...}``; a content-checker refusal is a 422 of type
``content_policy_violation``. Outputs live on fal's CDN (``*.fal.media``) and are downloaded
at once through the allow-listed, size-capped downloader, without the key.

A submit starts a billed request, so it is never sent twice: the request id and its URLs are
saved on the job before polling (``ctx.save_state``), and a retry or a restart resumes it.
fal bills successful outputs only ("never charged for server errors or time spent waiting in
the queue", docs.fal.ai pricing). Cost: per megapixel (2^20 pixels), each image rounded up to
a whole megapixel ("All per-megapixel prices round up to nearest MP" [2nd]); raw usage
``{"megapixels": n}``, and fal's own ``x-fal-billable-units`` as reported usage
``{"billable_units": n}`` (priced where a row says what a unit costs)::

    step / reply                                   error           retried
    submit: refused before sending                 Unavailable     yes  nothing started
    submit: timeout or reset after sending         Uncertain       no   a request may run
    401, 403                                       NeedsKey        no   (403 "Exhausted
                                                                          balance": Quota)
    422 content_policy_violation                   SafetyBlocked   no
    400, 404, 422, other 4xx                       Rejected        no   fal's words
    429                                            RateLimited     yes
    5xx, poll timeout or reset                     Unavailable     yes  the retry resumes
    a status or result URL off the API's origin    BadResponse     no
    every image flagged (has_nsfw_concepts)        SafetyBlocked   no   blacked out, not kept

A model check (``discovery.py``) asks fal's Platform API model search
(docs.fal.ai/platform-apis/v1/models, checked 2026-12-08 through the reference library): in
search mode (``?category=text-to-image&status=active``) for new ids, and in find mode,
``GET {FAL_API_URL}/models?endpoint_id=a&endpoint_id=b`` (1-50 ids; ``limit``, ``cursor``),
for the ids offered here. Both answer ``{"models": [{"endpoint_id", "metadata":
{"display_name", "category", "status": "active" | "deprecated", ...}}], "next_cursor",
"has_more"}``; an id the find mode does not return is gone. Its host is not the queue's:
``FAL_API_URL``, by default ``https://api.fal.ai/v1`` with the default queue, and
``{FAL_BASE_URL}/v1`` when the queue points elsewhere (a proxy, the tests' fake), so the key
only goes where an admin pointed it.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Sequence
from typing import Any

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
from lib.providers.types import DEPRECATED, LIVE, MISSING

LABEL = "fal.ai"
SCHNELL, DEV = "fal-ai/flux/schnell", "fal-ai/flux/dev"
MODELS = seed.offered("fal")  # presets: any endpoint id is taken
SIZES = ("1024x1024", "1024x768", "768x1024", "1280x720", "720x1280", "1536x1024",
         "1024x1536")
MEGAPIXEL = 1 << 20
DELIVERY_HOSTS = ("fal.media",)  # v3.fal.media and the like; plus PROMPTBOARD_DOWNLOAD_HOSTS
_MODEL_ID = re.compile(r"[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*){1,3}")
API_URL_ENV, DEFAULT_API_URL = "FAL_API_URL", "https://api.fal.ai/v1"  # the model search
SEARCH_IDS, SEARCH_PAGES, SEARCH_ROWS = 50, 5, 1000  # per call, calls, rows read per call
LIST_PAGE, LIST_PAGES = 100, 5  # the active text-to-image list: at most 500 ids, 5 calls
UNCERTAIN = ("fal.ai may have started this request; check fal.ai/dashboard/requests before "
             "retrying, so you do not pay twice.")


class FalProvider(PollingProvider):
    """fal.ai's hosted models through its queue; resumable, so a retry never pays twice."""

    id = "fal"
    label = LABEL
    key_env = "FAL_KEY"
    base_url_env = "FAL_BASE_URL"
    default_base_url = "https://queue.fal.run"
    vendor = "fal.ai"
    description = ("Hundreds of hosted image models by endpoint id (FLUX [schnell] and [dev] "
                   "listed); paid per megapixel for successful outputs only.")
    guess_seconds = 6.0  # a rough guess (UNVERIFIED); team history replaces it
    follow_redirects = False  # status and result URLs are checked before the key goes
    caps = Capabilities(
        models=MODELS, default_model=seed.default("fal"), open_models=True, sizes=SIZES,
        default_size="1024x1024", open_sizes=True, max_n=4, seed=True,
        max_prompt_chars=10_000, reports_progress=True, cancellable=True,
    )

    def check_special(self, req: GenerationRequest) -> None:
        """An endpoint id as fal writes them (``owner/model[/variant]``), sides 64-4096."""
        if not _MODEL_ID.fullmatch(req.model):
            raise errors.Rejected(f"{req.model!r} is not a fal.ai endpoint id; they look like "
                                  f"{SCHNELL}.")
        for side in (req.width, req.height):
            if side is not None and not 64 <= side <= 4096:
                raise errors.Rejected(f"{LABEL} takes sides from 64 to 4096 pixels, not {side}.")

    def typical_usage(self, req: GenerationRequest) -> dict[str, float]:
        """Whole megapixels per image, rounded up."""
        return {"megapixels": float(req.n * megapixels(req.width or 1024, req.height or 1024))}

    def auth_headers(self, url: str) -> dict[str, str]:
        """The key goes to the queue's own origin and the model search's only, never to the
        CDN."""
        if http.origin(url) not in (http.origin(self.base_url), http.origin(self.api_url())):
            return {}
        return {"Authorization": f"Key {self.require_key()}"}

    def api_url(self) -> str:
        """The Platform API (model search): ``FAL_API_URL``, else fal's with the default
        queue, else the configured queue's own address at ``/v1``."""
        if set_url := os.environ.get(API_URL_ENV, "").strip():
            return set_url.rstrip("/")
        return DEFAULT_API_URL if self.base_url == self.default_base_url else f"{self.base_url}/v1"

    def list_models(self) -> list[str]:
        """The model search in search mode (``category=text-to-image&status=active``): a
        source of new ids only, cut at ``LIST_PAGE * LIST_PAGES``; malformed ids left out."""
        self.require_key()
        found: list[str] = []
        cursor: str | None = None
        for _ in range(LIST_PAGES):
            params = {"category": "text-to-image", "status": "active", "limit": LIST_PAGE,
                      **({"cursor": cursor} if cursor else {})}
            body = self._search(params)
            found += [str(row["endpoint_id"]) for row in body["models"][:SEARCH_ROWS]
                      if isinstance(row, dict) and isinstance(row.get("endpoint_id"), str)
                      and _MODEL_ID.fullmatch(row["endpoint_id"])]
            cursor = body.get("next_cursor")
            if not (isinstance(cursor, str) and cursor):
                break
        return list(dict.fromkeys(found))[:LIST_PAGE * LIST_PAGES]

    def _search(self, params: Any) -> dict[str, Any]:
        """One call of the model search: its reply, with a list of models, or an error."""
        resp = self._send("GET", f"{self.api_url()}/models", params=params)
        if resp.status_code != 200:
            _raise_for(resp, self.api_key)
        body = http.json_body(resp, LABEL)
        if not isinstance(body, dict) or not isinstance(body.get("models"), list):
            raise errors.BadResponse(f"{LABEL}'s model search sent no list of models.")
        return body

    def lookup_models(self, ids: Sequence[str]) -> dict[str, str]:
        """The model search in find mode for up to 50 endpoint ids: ``active`` is live,
        ``deprecated`` deprecated, an id it does not return missing. Malformed ids are
        skipped; rows for ids not asked about are ignored, and a reply of more than
        ``SEARCH_ROWS`` rows is refused rather than cut (a cut would make ids "gone")."""
        self.require_key()
        asked = [m for m in dict.fromkeys(ids) if _MODEL_ID.fullmatch(m)][:SEARCH_IDS]
        if not asked:
            return {}
        found: dict[str, str] = {}
        cursor: str | None = None
        for _ in range(SEARCH_PAGES):
            params: list[tuple[str, str]] = [("endpoint_id", m) for m in asked]
            params += [("limit", str(len(asked)))] + ([("cursor", cursor)] if cursor else [])
            body = self._search(params)
            if len(body["models"]) > SEARCH_ROWS:  # cut, an id past the cut would be "gone"
                raise errors.BadResponse(f"{LABEL}'s model search sent {len(body['models'])} "
                                         f"rows for {len(asked)} ids; Promptboard did not "
                                         "read them.")
            for row in body["models"]:
                meta = row.get("metadata") if isinstance(row, dict) else None
                model = row.get("endpoint_id") if isinstance(row, dict) else None
                if model in asked:
                    status = meta.get("status") if isinstance(meta, dict) else None
                    found[str(model)] = DEPRECATED if status == "deprecated" else LIVE
            cursor = body.get("next_cursor")
            if not (isinstance(cursor, str) and cursor) or len(found) == len(asked):
                break
        else:  # still paging: an id not seen yet may be on a later page, so none is "gone"
            raise errors.BadResponse(f"{LABEL}'s model search kept paging past "
                                     f"{SEARCH_PAGES} pages for {len(asked)} ids; try again.")
        return {m: found.get(m, MISSING) for m in asked}

    def generate(self, req: GenerationRequest, ctx: JobContext = NULL_CONTEXT) -> GenerationResult:
        """Submit (or resume) one request for all the images, poll it, download them."""
        self.require_key()
        self.check(req)
        body = request_body(req)
        stamp = fingerprint(req.model, body)
        if ctx.state.get("request_id") and ctx.state.get("fingerprint") == stamp:
            queued = dict(ctx.state)  # an earlier attempt submitted it: never pay twice
        else:
            queued = {**self._submit(req.model, body), "fingerprint": stamp}
            ctx.save_state(queued)
        self._wait(queued, ctx)
        resp = self._send("GET", self._own(queued.get("response_url"), "result"))
        if resp.status_code != 200:
            _raise_for(resp, self.api_key)  # a 404 here is the request's, not the endpoint's
        output = http.json_body(resp, LABEL)
        images, mp = self._download(output if isinstance(output, dict) else {}, req)
        units = _number(resp.headers.get("x-fal-billable-units"))
        seed = output.get("seed") if isinstance(output, dict) else None
        return GenerationResult(
            images=images, usage={"megapixels": float(mp)},
            request_id=str(queued["request_id"]), model=req.model,
            seed=seed if isinstance(seed, int) else req.seed,
            reported_usage={"billable_units": units} if units is not None else {})

    # -- the phases --------------------------------------------------------------------

    def _submit(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to the queue; any doubt whether it started is Uncertain, never retried."""
        url = f"{self.base_url}/{model}"
        resp = self.post_billed(url, body, self.auth_headers(url), UNCERTAIN)
        if resp.status_code not in (200, 201, 202):
            _raise_for(resp, self.api_key, model)
        queued = self.read_submitted(resp, "request_id", UNCERTAIN)
        return {k: queued.get(k) for k in ("request_id", "status_url", "response_url",
                                           "cancel_url")}

    def _own(self, url: Any, what: str) -> str:
        """A URL fal gave us, if it is on the queue's own origin (the key goes there)."""
        try:
            own = isinstance(url, str) and http.origin(url) == http.origin(self.base_url)
        except ValueError:  # malformed: a port that is not a number, an unclosed [
            own = False
        if not own:
            raise errors.BadResponse(f"{LABEL} gave a {what} URL off its own API "
                                     f"({http.clip(str(url), 80)}); Promptboard did not "
                                     "follow it.")
        return str(url)

    def _wait(self, queued: dict[str, Any], ctx: JobContext) -> None:
        """Poll the status until COMPLETED; honour cancel requests."""
        url = self._own(queued.get("status_url"), "status")
        deadline = time.monotonic() + self.max_poll_s
        while True:
            resp = self._send("GET", url)
            if resp.status_code not in (200, 202):
                _raise_for(resp, self.api_key)
            try:
                state = http.json_body(resp, LABEL)
            except errors.BadResponse:  # a blip: the request runs on, and a retry resumes it
                raise errors.Unavailable(f"{LABEL} sent an unreadable state for request "
                                         f"{queued['request_id']}; Promptboard will check "
                                         "again.") from None
            status = str(state.get("status") or "") if isinstance(state, dict) else ""
            if status == "COMPLETED":
                return
            if status not in ("IN_QUEUE", "IN_PROGRESS"):
                raise errors.BadResponse(f"{LABEL} reported an unknown status {status!r}.")
            where = state.get("queue_position") if isinstance(state, dict) else None
            note = f"queued (position {where})" if isinstance(where, int) else status.lower()
            ctx.report_progress(0.1 if status == "IN_QUEUE" else 0.5, note.replace("_", " "))
            if ctx.cancel_requested():
                self._cancel(queued)
            if time.monotonic() > deadline:
                raise errors.Unavailable(f"{LABEL} request {queued['request_id']} is still "
                                         f"{status} after {self.max_poll_s / 60:g} min; "
                                         "Promptboard will check on it again.")
            self._sleep(self.poll_interval)

    def _cancel(self, queued: dict[str, Any]) -> None:
        """Ask fal to drop the request, then raise Cancelled either way."""
        try:
            resp = self._send("PUT", self._own(queued.get("cancel_url"), "cancel"))
            confirmed = resp.status_code in (200, 202)
        except errors.ProviderError:
            confirmed = False
        if confirmed:
            raise errors.Cancelled(f"Cancelled; {LABEL} was asked to stop the request (it may "
                                   "still finish and bill if it was already running).")
        raise errors.Cancelled(f"Cancelled here, but {LABEL} did not confirm dropping request "
                               f"{queued['request_id']}; it may still run and bill.")

    def _download(self, output: dict[str, Any], req: GenerationRequest
                  ) -> tuple[list[GeneratedImage], int]:
        """Every output image not flagged by fal's checker, and the whole megapixels of all
        of them (flagged ones were made too; an image without its size counts as asked)."""
        items = output.get("images")
        if not isinstance(items, list) or not items:
            raise errors.BadResponse(f"{LABEL} finished without any image. Try again.")
        flags = output.get("has_nsfw_concepts")
        flags = flags if isinstance(flags, list) else []
        policy = download.Policy.from_env(DELIVERY_HOSTS)
        images: list[GeneratedImage] = []
        mp = 0
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("url"), str):
                raise errors.BadResponse(f"{LABEL} sent an output that is not an image URL.")
            w, h = item.get("width"), item.get("height")
            if not (isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0):
                w, h = req.width or 1024, req.height or 1024
            mp += megapixels(w, h)
            if i < len(flags) and flags[i] is True:
                continue  # blacked out by the safety checker: not kept
            got = download.fetch_image(item["url"], label=LABEL, timeout=self.timeout,
                                       policy=policy)
            images.append(GeneratedImage(got.data, got.mime_type))
        if not images:
            raise errors.SafetyBlocked(f"{LABEL}'s safety checker flagged every image, so none "
                                       "was kept. Rephrase the prompt and try again.",
                                       usage={"megapixels": float(mp)})
        return images, mp


# --------------------------------------------------------------------------- wire helpers


def request_body(req: GenerationRequest) -> dict[str, Any]:
    """The input FLUX endpoints take (other endpoints ignore what they do not know)."""
    body: dict[str, Any] = {
        "prompt": req.prompt, "num_images": req.n, "output_format": "png",
        "enable_safety_checker": True,
        "image_size": {"width": req.width or 1024, "height": req.height or 1024}}
    if req.seed is not None:
        body["seed"] = req.seed
    return body


def megapixels(width: int, height: int) -> int:
    """Whole megapixels (2^20 pixels) of one image, rounded up as fal bills them."""
    return max(1, math.ceil(width * height / MEGAPIXEL))


def _number(raw: str | None) -> float | None:
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def _raise_for(resp: requests.Response, key: str | None, model: str = "") -> None:
    """Map a non-2xx reply (``{"detail": str | [{"msg", "type"}]}``) to the error tree."""
    try:
        body = resp.json()
    except ValueError:
        body = {}
    detail = body.get("detail") if isinstance(body, dict) else None
    kinds: list[str] = []
    if isinstance(detail, list):
        kinds = [str(d.get("type")) for d in detail if isinstance(d, dict)]
        detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d)
                           for d in detail)
    words = http.clip(http.redact(str(detail or ""), key), 300) or f"HTTP {resp.status_code}"
    status, wait = resp.status_code, http.retry_after_seconds(resp.headers)
    if "content_policy_violation" in kinds:
        raise errors.SafetyBlocked(f"{LABEL}'s content checker refused this: {words} "
                                   "Rephrase the prompt.")
    if status in (401, 403):
        if "balance" in words.lower():
            raise errors.QuotaExhausted(f"{LABEL} says the account is out of balance "
                                        f"({words}). Top up at fal.ai/dashboard/billing.")
        raise errors.NeedsKey(f"{LABEL} refused the key ({words}). Check FAL_KEY (keys are at "
                              "fal.ai/dashboard/keys), then restart Promptboard.")
    if status == 404 and model:
        raise errors.Rejected(f"{LABEL} has no endpoint {model!r} ({words}).")
    raise errors.status_error(status, LABEL, words, wait)
