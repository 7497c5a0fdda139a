"""Replicate's wire format: the request builder and the reply reader of ``replicate.py``.

Wire format: ``../shared/providers.md`` §5. ``build_input`` maps a request onto a model's
``input`` (FLUX field by field, any other model generically); ``parse_model`` keeps a model
id safe to put in a URL path; ``report_progress`` reads a running prediction's logs;
``raise_for`` turns an RFC 7807 error reply into a provider error (the special codes here,
the rest by ``errors.status_error``); ``collection_ids`` reads a curated collection for the
model check.

Model check (replicate.com/docs/reference/http#models.get and #collections.get, checked
2026-12-08 through the reference library): ``GET /v1/models/{owner}/{name}`` answers the model
(``owner``, ``name``, ``visibility``, ``latest_version``, ...) or 404 when there is no such
model; ``GET /v1/collections/{slug}`` answers ``{"name", "slug", "description", "models":
[model, ...]}``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import requests

from lib.providers import errors, http, sizing
from lib.providers.types import GenerationRequest, JobContext

LABEL = "Replicate"
SCHNELL, DEV = "black-forest-labs/flux-schnell", "black-forest-labs/flux-dev"
# providers.md §5 documents the "1:1" default; the rest are the flux model pages' choices.
FLUX_ASPECTS = ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21")
# No part may start with ".": a "."/".." segment would move the POST out of /v1/models/.
_PART = r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}"
MODEL_ID = re.compile(rf"({_PART})/({_PART})(?::([A-Za-z0-9]{{1,128}}))?")
PERCENT = re.compile(r"(\d{1,3})%")
COLLECTION = "text-to-image"  # the curated collection a model check reads for new ids
MAX_COLLECTION = 500  # a hostile or enormous collection is cut to this many ids


def build_input(model: str, req: GenerationRequest) -> dict[str, Any]:
    """The model's ``input``: flux-schnell/dev mapped field by field, others generically.

    ``req.extra["input"]`` (a dict) is merged last, for any raw input a model takes.
    """
    base = model.split(":")[0]
    inp: dict[str, Any] = {"prompt": req.prompt}
    if base in (SCHNELL, DEV):
        inp.update(aspect_ratio=aspect(req), num_outputs=req.n, output_format="png")
        if req.seed is not None:
            inp.update(seed=req.seed, go_fast=False)  # go_fast (fp8) is not deterministic
    else:
        if req.seed is not None:
            inp["seed"] = req.seed
        if req.negative_prompt:
            inp["negative_prompt"] = req.negative_prompt
        if req.aspect_ratio:
            inp["aspect_ratio"] = req.aspect_ratio
        if req.n > 1:
            inp["num_outputs"] = req.n
    extra = req.extra.get("input") or {}
    if not isinstance(extra, dict):
        raise errors.Rejected("extra input for Replicate must be a JSON object of input fields.")
    inp.update(extra)
    return inp


def parse_model(model: str | None) -> re.Match[str]:
    """``owner/name`` or ``owner/name:version``, each part safe to put in a URL path."""
    found = MODEL_ID.fullmatch(model or "")
    if not found:
        raise errors.Rejected(
            f"{model!r} is not a Replicate model id. Use owner/name or "
            "owner/name:version: letters, digits, '-', '_' and '.', each part "
            "starting with a letter, digit, '-' or '_' (so no '.' or '..' parts).")
    return found


def aspect(req: GenerationRequest) -> str:
    if req.aspect_ratio:
        if req.aspect_ratio not in FLUX_ASPECTS:
            raise errors.Rejected(
                f"FLUX on Replicate takes the aspect ratios {', '.join(FLUX_ASPECTS)}"
                f", not {req.aspect_ratio}.")
        return req.aspect_ratio
    if req.width and req.height:
        return sizing.nearest(req.width, req.height, FLUX_ASPECTS)
    return "1:1"


def pred_url(pred: dict[str, Any], name: str) -> str | None:
    urls = pred.get("urls")
    value = urls.get(name) if isinstance(urls, dict) else None
    return value if isinstance(value, str) else None


def same_origin(url: Any, base: str) -> str | None:
    """``url`` when it is on the API's origin (so the token may go there), else None."""
    if isinstance(url, str) and http.origin(url) == http.origin(base):
        return url
    return None


def report_progress(ctx: JobContext, pred: dict[str, Any], elapsed: float) -> None:
    """Real progress from the logs' last "NN%", else an honest estimate."""
    if pred.get("status") == "starting":
        ctx.report_progress(0.05, "starting (the model may be booting)")
        return
    found = PERCENT.findall(str(pred.get("logs") or "")[-2000:])
    if found:
        pct = min(100, int(found[-1]))
        ctx.report_progress(0.1 + 0.85 * pct / 100, f"processing {pct}%")
    else:
        ctx.report_progress(0.1 + 0.8 * (1 - math.exp(-elapsed / 10)), "processing (estimated)")


def raise_for(resp: requests.Response, key: str | None, model: str | None = None) -> None:
    """An error reply (RFC 7807) as an error; the token redacted by value, then clipped."""
    status = resp.status_code
    try:
        body = resp.json()
    except ValueError:
        body = None
    detail = ""
    if isinstance(body, dict):
        detail = str(body.get("detail") or body.get("title") or "")
    detail = http.clip(http.redact(detail or resp.text or resp.reason or "no details", key))
    if status == 401:
        raise errors.NeedsKey(
            "Replicate refused the API token (401). Check REPLICATE_API_TOKEN in the "
            "environment or .streamlit/secrets.toml.")
    if status == 402:
        raise errors.QuotaExhausted("Replicate says the account is out of credit; add billing at "
                                    f"replicate.com/account/billing. ({detail})")
    if status == 404:
        raise errors.Rejected(f"Replicate has no model {model or ''} (404: {detail}). Check the "
                              "owner/name and version.")
    if status == 429:
        hinted = re.search(r"~\s*(\d+(?:\.\d+)?)\s*s", detail)
        wait = http.retry_after_seconds(resp.headers)
        if wait is None and hinted:
            wait = float(hinted.group(1))
        raise errors.RateLimited(
            f"Replicate is rate limiting this account: {detail}", retry_after=wait)
    raise errors.status_error(status, LABEL, detail, http.retry_after_seconds(resp.headers))


def collection_ids(body: Any) -> list[str]:
    """The ``owner/name`` ids of a collection's models: ids that are not safe model ids
    (markup, paths) are left out, and a huge list is cut at ``MAX_COLLECTION``."""
    models = body.get("models") if isinstance(body, dict) else None
    if not isinstance(models, list):
        raise errors.BadResponse(f"{LABEL} sent a collection without a list of models.")
    ids = (f"{m.get('owner')}/{m.get('name')}" for m in models[:MAX_COLLECTION * 2]
           if isinstance(m, dict))
    return [i for i in ids if MODEL_ID.fullmatch(i) and ":" not in i][:MAX_COLLECTION]
