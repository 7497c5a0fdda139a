"""Replicate predictions: official models (flux-schnell, flux-dev) and any ``owner/name:version``.

Wire format: ``../shared/providers.md`` §5; the request builder and the reply reader are in
``replicate_wire.py``. A create starts a *billed* run, so it is never
sent twice blindly: as soon as Replicate returns the prediction id it is saved on the job
(``ctx.save_state``, with a fingerprint of the request), and a later attempt of the same
job (a retry, or a restart after a crash) resumes polling that prediction instead of
creating another. Outputs are deleted
after an hour, so they are downloaded as soon as the run succeeds. Raw usage is
``{"images": n}`` for official models (billed per output image) and
``{"predict_seconds": s}`` for version models (billed per GPU-second; unpriced until an
admin adds a rate, so their cost shows as unknown). A model check (``discovery.py``) looks
each offered or known id up (``GET /models/{owner}/{name}``: 404 is gone) and reads the
curated ``text-to-image`` collection for new ids (replicate.com/docs/reference/http
#models.get, #collections.get; ``replicate_wire.py``)::

    step / reply                                   error           retried
    create: refused before sending                 Unavailable     yes  nothing started
    create: timeout or reset after sending         Uncertain       no   a run may have started
    create: 2xx without a readable prediction      Uncertain       no
    401                                            NeedsKey        no
    402                                            QuotaExhausted  no
    404                                            Rejected        no   model not found
    400, 403, 413, 422, other 4xx                  Rejected        no
    429                                            RateLimited     yes  Retry-After or "~30s"
    408, 409, 5xx                                  Unavailable     yes  Retry-After if sent
    poll or download: timeout, reset, 5xx          Unavailable     yes  and the retry resumes
    output URL refused (not https, host not on     BadResponse     no   lib/providers/download
      the allow-list, private address, too big)
    status failed (NSFW)                           SafetyBlocked   no
    status failed (other)                          BadResponse     no
    status canceled, or cancelled by the user      Cancelled       -
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Sequence
from typing import Any

from lib.providers import catalog_caps, download, errors, http
from lib.providers import catalog_seed as seed
from lib.providers.base import (
    NULL_CONTEXT,
    Capabilities,
    GeneratedImage,
    GenerationRequest,
    GenerationResult,
    JobContext,
)
from lib.providers.polling import PollingProvider, fingerprint
from lib.providers.replicate_wire import (
    COLLECTION,
    FLUX_ASPECTS,
    LABEL,
    MODEL_ID,
    build_input,
    collection_ids,
    parse_model,
    pred_url,
    raise_for,
    report_progress,
    same_origin,
)
from lib.providers.types import LIVE, MISSING

_SEED = re.compile(r"[Uu]sing seed:?\s*(\d+)")
_ACTIVE = ("starting", "processing")
GUESS_PREDICT_SECONDS = 10.0  # per output, for estimates of version models only
UNCERTAIN = ("Replicate may have started this prediction; check replicate.com/predictions "
             "before retrying, so you do not pay twice.")


class ReplicateProvider(PollingProvider):
    """Replicate's hosted models; resumable, so a retry never pays for a second run."""

    id = "replicate"
    label = LABEL
    key_env = "REPLICATE_API_TOKEN"
    base_url_env = "REPLICATE_BASE_URL"
    default_base_url = "https://api.replicate.com/v1"
    description = (
        "Thousands of hosted models. Official models such as FLUX.1 [schnell] are paid per "
        "image; any other model as owner/name:version is paid per GPU-second."
    )
    guess_seconds = 4.0  # a rough guess (UNVERIFIED); team history replaces it
    caps = Capabilities(
        models=seed.offered("replicate"), default_model=seed.default("replicate"), open_models=True,
        aspect_ratios=FLUX_ASPECTS, max_n=4, seed=True, max_prompt_chars=10_000,
        reports_progress=True, cancellable=True,
    )

    def typical_usage(self, req: GenerationRequest) -> dict[str, float]:
        """Images for official models; a rough GPU time for version models."""
        if ":" in req.model:
            return {"predict_seconds": GUESS_PREDICT_SECONDS * req.n}
        return {"images": float(req.n)}

    def test_connection(self) -> str:
        """``GET /account``: proves the token."""
        resp = self._send("GET", f"{self.base_url}/account")
        if resp.status_code != 200:
            raise_for(resp, self.api_key)
        body = http.json_body(resp, LABEL)
        name = body.get("username") if isinstance(body, dict) else None
        return f"Connected as {name or 'an unnamed account'}"

    def list_models(self) -> list[str] | None:
        """``GET /collections/text-to-image`` (collections.get): the curated text-to-image
        models, a source of new ids only; None when Replicate has no such collection (404)."""
        self.require_key()
        resp = self._send("GET", f"{self.base_url}/collections/{COLLECTION}")
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise_for(resp, self.api_key)
        return collection_ids(http.json_body(resp, LABEL))

    def lookup_models(self, ids: Sequence[str]) -> dict[str, str]:
        """``GET /models/{owner}/{name}`` (models.get) for each id, a version's by its model:
        200 is live, 404 is missing (Replicate has no deprecated state); a malformed id is
        skipped, so nothing unsafe goes in a URL path."""
        self.require_key()
        found: dict[str, str] = {}
        for model in ids:
            parsed = MODEL_ID.fullmatch(model)
            if parsed is None:
                continue
            resp = self._send("GET", f"{self.base_url}/models/{parsed[1]}/{parsed[2]}")
            if resp.status_code == 404:
                found[model] = MISSING
                continue
            if resp.status_code != 200:
                raise_for(resp, self.api_key)
            if not isinstance(http.json_body(resp, LABEL), dict):
                raise errors.BadResponse(f"{LABEL} described model {model} in an unreadable "
                                         "form.")
            found[model] = LIVE
        return found

    @classmethod
    def model_caps(cls, model: str) -> Capabilities:
        """A shipped model (FLUX) takes its row's ratios; another id gets its aspect ratio
        passed as is."""
        if catalog_caps.of(cls.id, model.split(":")[0]) is not None:
            return super().model_caps(model.split(":")[0])
        return dataclasses.replace(cls.caps, open_sizes=True)

    def check_special(self, req: GenerationRequest) -> None:
        """A malformed model id, a ratio FLUX lacks, or raw input that is not an object."""
        parse_model(req.model)
        build_input(req.model, req)

    def generate(self, req: GenerationRequest, ctx: JobContext = NULL_CONTEXT) -> GenerationResult:
        """Create (or resume) a prediction, poll it to the end, download its outputs."""
        self.require_key()
        self.check(req)
        found = parse_model(req.model)
        started = time.monotonic()
        inp = build_input(req.model, req)
        stamp = fingerprint(req.model, inp)
        if ctx.state.get("prediction_id") and ctx.state.get("fingerprint") == stamp:
            pred = self._get(ctx.state)  # an earlier attempt started it: never pay twice
        else:
            pred = self._create(found, inp)
            urls = u if isinstance(u := pred.get("urls"), dict) else {}
            ctx.save_state({"prediction_id": pred["id"], "get": urls.get("get"),
                            "cancel": urls.get("cancel"), "fingerprint": stamp})
        pred = self._wait(pred, ctx, started)
        images = self._download(pred)
        if found.group(3):
            metrics = m if isinstance(m := pred.get("metrics"), dict) else {}
            seconds = metrics.get("predict_time")
            if not isinstance(seconds, (int, float)):
                seconds = time.monotonic() - started
            usage = {"predict_seconds": float(seconds)}
        else:
            usage = {"images": float(len(images))}
        logged = _SEED.search(str(pred.get("logs") or ""))
        seed = req.seed if req.seed is not None else (int(logged.group(1)) if logged else None)
        return GenerationResult(images=images, usage=usage, request_id=str(pred["id"]),
                                seed=seed, model=req.model)

    # -- the three phases --------------------------------------------------------------

    def _create(self, model: re.Match[str], inp: dict[str, Any]) -> dict[str, Any]:
        """POST the prediction; any doubt whether it started is Uncertain, never retried."""
        owner, name, version = model.groups()
        url = f"{self.base_url}/predictions"
        body: dict[str, Any] = {"input": inp}
        if version:
            body["version"] = version
        else:
            url = f"{self.base_url}/models/{owner}/{name}/predictions"
        headers = self.auth_headers(url)
        wait = int(min(60.0, self.timeout - 1))  # the reply must come before our timeout
        if wait >= 1:
            headers["Prefer"] = f"wait={wait}"
        resp = self.post_billed(url, body, headers, UNCERTAIN)
        if resp.status_code not in (200, 201, 202):
            raise_for(resp, self.api_key, model=model.group(0))
        return self.read_submitted(resp, "id", UNCERTAIN)

    def _wait(self, pred: dict[str, Any], ctx: JobContext, started: float) -> dict[str, Any]:
        """Poll until a terminal status; honour cancel requests."""
        deadline = time.monotonic() + self.max_poll_s
        while True:
            status = pred.get("status")
            if status == "succeeded":
                return pred
            if status == "failed":
                text = http.clip(http.redact(str(pred.get("error") or "no reason given"),
                                             self.api_key))
                if _flagged(text):
                    raise errors.SafetyBlocked(
                        f"Replicate's safety checker flagged the output: {text} "
                        "Rephrase the prompt.")
                raise errors.BadResponse(f"The model failed on Replicate: {text}")
            if status == "canceled":
                raise errors.Cancelled("The prediction was cancelled on Replicate.")
            if status not in _ACTIVE:
                raise errors.BadResponse(f"Replicate reported an unknown status {status!r}.")
            report_progress(ctx, pred, time.monotonic() - started)
            if ctx.cancel_requested():
                self._cancel(pred)
            if time.monotonic() > deadline:
                raise errors.Unavailable(
                    f"Replicate prediction {pred.get('id')} is still {status} "
                    f"after {self.max_poll_s / 60:g} min; Promptboard will check "
                    "on it again.")
            self._sleep(self.poll_interval)
            pred = self._get({"prediction_id": pred["id"], "get": pred_url(pred, "get")})

    def _download(self, pred: dict[str, Any]) -> list[GeneratedImage]:
        """Fetch every output now (they expire in an hour); URLs are untrusted: ``download``."""
        output = pred.get("output")
        urls = [output] if isinstance(output, str) else output
        if not isinstance(urls, list) or not urls:
            raise errors.BadResponse("Replicate finished without any output image. Try again.")
        if not all(isinstance(url, str) for url in urls):
            raise errors.BadResponse("Replicate sent an output that is not an image URL.")
        policy = download.Policy.from_env()
        images = []
        for url in urls:
            got = download.fetch_image(url, label=LABEL, timeout=self.timeout, policy=policy)
            images.append(GeneratedImage(got.data, got.mime_type))
        return images

    # -- HTTP --------------------------------------------------------------------------

    def auth_headers(self, url: str) -> dict[str, str]:
        """The token goes only to the API's own origin, never to delivery hosts."""
        if http.origin(url) != http.origin(self.base_url):
            return {}
        return {"Authorization": f"Bearer {self.require_key()}"}

    def _get(self, state: dict[str, Any]) -> dict[str, Any]:
        pid = str(state["prediction_id"])
        url = same_origin(state.get("get"), self.base_url) or f"{self.base_url}/predictions/{pid}"
        resp = self._send("GET", url)
        if resp.status_code == 404:
            raise errors.BadResponse(f"Replicate no longer knows prediction {pid}.")
        if resp.status_code != 200:
            raise_for(resp, self.api_key)
        try:
            pred = resp.json()
        except ValueError:
            pred = None
        if not isinstance(pred, dict) or not pred.get("id"):  # a blip: the retry resumes
            raise errors.Unavailable(f"Replicate sent an unreadable state for prediction {pid}.")
        return pred

    def _cancel(self, pred: dict[str, Any]) -> None:
        """Ask Replicate to stop the run, then raise Cancelled either way."""
        pid = str(pred["id"])
        url = (same_origin(pred_url(pred, "cancel"), self.base_url)
               or f"{self.base_url}/predictions/{pid}/cancel")
        try:
            resp = self._send("POST", url)
            confirmed = resp.status_code < 300
        except errors.Unavailable:
            confirmed = False
        if confirmed:
            raise errors.Cancelled("Cancelled; Replicate stopped the prediction.")
        raise errors.Cancelled(
            f"Cancelled here, but Replicate did not confirm stopping prediction "
            f"{pid}; it may still run and bill. Check replicate.com/predictions.")


# --------------------------------------------------------------------------- helpers


def _flagged(error: str) -> bool:
    """A prediction failed by a safety filter: the model's own ("NSFW content detected") or
    Replicate's ("The input or output was flagged as sensitive ... (E005)")."""
    lower = error.lower()
    return "nsfw" in lower or "(e005)" in lower or "flagged as sensitive" in lower
