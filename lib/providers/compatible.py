"""OpenAI-compatible endpoints: any named endpoint that speaks ``POST /images/generations``.

Azure OpenAI deployments, xAI, Recraft, and gateways such as LiteLLM answer the
OpenAI Images wire format (``shared/providers.md`` §2). Each endpoint an admin configures
(``lib/providers/endpoints.py`` reads the file) becomes one subclass of
:class:`CompatibleProvider`, id ``compat-<name>``, made by :func:`provider_class`; the registry
appends them to the built-in providers. Two flavours::

    openai  POST {base_url}/images/generations                  Authorization: Bearer KEY
            body {"model", "prompt", "n", "size"?, "quality"?, "response_format"?}
    azure   POST {base_url}/openai/deployments/{deployment}/images/generations
                 ?api-version={api_version}                      api-key: KEY
            the same body without "model" (the deployment in the path is the model)

The key is read from the environment variable the configuration names (``key_env``), goes
only to the endpoint's own origin, and never into a message, a log line or the database.
Redirects are not followed (Azure's ``api-key`` header would travel with them).

Replies: ``data[].b64_json``, or ``data[].url`` (xAI and Recraft can answer links), fetched
at once through the allow-listed, size-capped downloader (``lib/providers/download.py``;
allowed: the endpoint's host, or its ``download_hosts``). Usage is OpenAI's token ``usage``
when sent, else ``{"images": n}``; no price is shipped for any endpoint, so a job's cost is
unknown until an admin adds price rows for ``compat-<name>``. A gateway that reports what a
call cost in a header (LiteLLM's ``x-litellm-response-cost``, in USD; ``cost_header`` in the
configuration) is recorded beside our figure as reported usage ``{"usd": amount}``.

Status and body → error (``error_for``)::

    moderation_blocked, content_filter,
    ResponsibleAIPolicyViolation (Azure), content_policy_violation   SafetyBlocked
    insufficient_quota, billing_hard_limit_reached                    QuotaExhausted
    model_not_found, DeploymentNotFound (or 404 on Azure)             Rejected  names the model
    401, 403                                                          NeedsKey  names key_env
    429                                                               RateLimited  retry-after,
                                                                      or "try again in 12s"
    other statuses                                                    the base's default map
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, cast
from urllib.parse import quote, urlsplit

import requests

from lib.providers import download, errors, http, sizing
from lib.providers.base import (
    NULL_CONTEXT,
    Capabilities,
    GeneratedImage,
    GenerationRequest,
    GenerationResult,
    JobContext,
    Provider,
)
from lib.providers.openai_images import read_usage

PREFIX = "compat-"  # provider ids of endpoints; no built-in id starts with it
OPENAI, AZURE = "openai", "azure"
FLAVOURS = (OPENAI, AZURE)
RESPONSE_FORMATS = ("b64_json", "url")
USD = "usd"  # reported usage unit: a gateway's own cost in dollars, priced 1:1
MAX_REPORTED_USD = 10_000.0  # a cost header above this is not believed (nor can it be stored)
SAFETY_CODES = frozenset({"moderation_blocked", "content_filter", "content_policy_violation",
                          "responsibleaipolicyviolation"})
QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})
MISSING_CODES = frozenset({"model_not_found", "deploymentnotfound"})
REQUEST_ID_HEADERS = ("x-request-id", "apim-request-id", "x-litellm-call-id")


@dataclass(frozen=True)
class Endpoint:
    """One configured endpoint, validated (``lib/providers/endpoints.py``)."""

    name: str  # a slug: the provider id is compat-<name>
    label: str
    base_url: str
    key_env: str  # the NAME of the variable that holds the key, never the key
    models: tuple[str, ...]  # model ids, or Azure deployment names
    default_model: str
    flavour: str = OPENAI
    api_version: str = ""  # Azure only
    sizes: tuple[str, ...] = ()  # empty: no size is sent
    default_size: str | None = None
    qualities: tuple[str, ...] = ()  # empty: no quality is sent
    default_quality: str | None = None
    max_n: int = 1
    max_prompt_chars: int = 4000
    response_format: str | None = None  # sent when set
    cost_header: str | None = None  # a reply header with the call's cost in USD
    download_hosts: tuple[str, ...] = ()  # empty: the endpoint's own host
    source: str = ""  # where it was configured, for messages

    @property
    def provider_id(self) -> str:
        """``compat-<name>``."""
        return PREFIX + self.name


class CompatibleProvider(Provider):
    """An endpoint speaking OpenAI's ``/images/generations``; one subclass per endpoint."""

    endpoint: ClassVar[Endpoint]
    follow_redirects = False  # the key header would follow a redirect to another host
    guess_seconds = 30.0  # a rough guess (UNVERIFIED); team history replaces it
    vendor = "the endpoint"

    @classmethod
    def configure_hint(cls) -> str:
        """Which variable holds the key (not the file's path: the API shows this to anyone)."""
        return (f"Set {cls.key_env} (the key of the endpoint {cls.endpoint.name!r} in the "
                "endpoints file) in the environment or in .streamlit/secrets.toml, then restart "
                "Promptboard.")

    def auth_headers(self, url: str) -> dict[str, str]:
        """The key, to the endpoint's own origin only: ``api-key`` (Azure) or Bearer."""
        if http.origin(url) != http.origin(self.base_url):
            return {}
        key = self.require_key()
        if self.endpoint.flavour == AZURE:
            return {"api-key": key}
        return {"Authorization": f"Bearer {key}"}

    def test_connection(self) -> str:
        """``GET {base}/models`` with the key (gateways and xAI list their models there);
        Azure's data plane has no such call for a key, so an image is the test there."""
        key = self.require_key()
        if self.endpoint.flavour == AZURE:
            return (f"{self.label} has no cheap connection check: generate one image to test "
                    "the key and the deployment.")
        resp = self._send("GET", "/models")
        if resp.status_code == 404:
            return (f"{self.label} answered at {http.origin(self.base_url)} but lists no "
                    "models: generate one image to test the key.")
        if resp.status_code != 200:
            raise error_for(resp, self.endpoint, self.label, "", key)
        body = http.json_body(resp, self.label)
        listed = body.get("data") if isinstance(body, dict) else None
        count = len(listed) if isinstance(listed, list) else 0
        return f"{self.label} accepted the key and lists {count} model(s)."

    def generate(self, req: GenerationRequest, ctx: JobContext = NULL_CONTEXT) -> GenerationResult:
        """One call for all ``req.n`` images; links in the reply are downloaded at once."""
        key = self.require_key()
        self.check(req)
        ep = self.endpoint
        if ep.flavour == AZURE:
            deployment = quote(req.model, safe="")
            resp = self._send("POST", f"/openai/deployments/{deployment}/images/generations",
                              params={"api-version": ep.api_version}, json=self.build_body(req))
        else:
            resp = self._send("POST", "/images/generations", json=self.build_body(req))
        if resp.status_code != 200:
            raise error_for(resp, ep, self.label, req.model, key)
        body = http.json_body(resp, self.label)
        if not isinstance(body, dict):
            raise errors.BadResponse(f"{self.label} sent a reply we cannot read. Try again.")
        images = self.read_images(body, req.n)
        ctx.report_progress(1.0, f"{len(images)} image(s) received")
        request_id = next((resp.headers[h] for h in REQUEST_ID_HEADERS if h in resp.headers),
                          None)
        return GenerationResult(images=images, usage=read_usage(body.get("usage"), len(images)),
                                request_id=request_id, model=req.model,
                                reported_usage=reported_cost(resp, ep.cost_header))

    def build_body(self, req: GenerationRequest) -> dict[str, Any]:
        """The JSON body: only the fields this endpoint is configured to take."""
        ep = self.endpoint
        body: dict[str, Any] = {"prompt": req.prompt, "n": req.n}
        if ep.flavour != AZURE:
            body = {"model": req.model, **body}
        if ep.sizes:
            if req.size:
                body["size"] = req.size
            elif req.aspect_ratio:
                body["size"] = sizing.nearest(sizing.ratio_of(req.aspect_ratio), 1, ep.sizes)
            elif ep.default_size:
                body["size"] = ep.default_size
        wanted = (req.quality or ep.default_quality or "").lower()
        if ep.qualities and wanted:  # as the configuration spells it (the check ignores case)
            body["quality"] = next((q for q in ep.qualities if q.lower() == wanted), wanted)
        if ep.response_format:
            body["response_format"] = ep.response_format
        return body

    def read_images(self, body: dict[str, Any], n: int) -> list[GeneratedImage]:
        """``data[].b64_json``, or ``data[].url`` through the allow-listed downloader; at most
        the ``n`` images asked for (a gateway sending more is not downloaded from)."""
        items = body.get("data")
        if not isinstance(items, list):
            raise errors.BadResponse(f"{self.label} answered without image data. Try again.")
        items = items[:n]
        mime = {"jpeg": "image/jpeg", "webp": "image/webp"}.get(str(body.get("output_format")),
                                                                "image/png")
        hosts = self.endpoint.download_hosts or (urlsplit(self.base_url).hostname or "",)
        images: list[GeneratedImage] = []
        for item in items:
            if not isinstance(item, dict):
                continue
            if isinstance(item.get("b64_json"), str):
                images.append(GeneratedImage(http.b64_image(item["b64_json"], self.label), mime))
            elif isinstance(item.get("url"), str):
                got = download.fetch_image(item["url"], label=self.label, timeout=self.timeout,
                                           policy=download.Policy.from_env(hosts))
                images.append(GeneratedImage(got.data, got.mime_type))
        if not images:
            raise errors.BadResponse(
                f"{self.label} answered without an image. Try again or rephrase the prompt.")
        return images


def provider_class(ep: Endpoint) -> type[CompatibleProvider]:
    """The provider class of one endpoint: its id, label, key variable, URL and capabilities."""
    caps = Capabilities(
        models=ep.models, default_model=ep.default_model, sizes=ep.sizes,
        default_size=ep.default_size, qualities=ep.qualities,
        default_quality=ep.default_quality, max_n=ep.max_n,
        max_prompt_chars=ep.max_prompt_chars)
    kind = "Azure OpenAI deployments" if ep.flavour == AZURE else "OpenAI-compatible endpoint"
    attrs: dict[str, Any] = {
        "id": ep.provider_id, "label": ep.label, "key_env": ep.key_env,
        "default_base_url": ep.base_url, "caps": caps, "endpoint": ep,
        "description": f"{kind} {ep.name!r}: the models its configuration lists; cost "
                       "unknown until an admin adds its prices.",
        "hint": f"An admin can check base_url of the endpoint {ep.name!r} (endpoints file)."}
    made = type(f"Compatible_{ep.name.replace('-', '_')}", (CompatibleProvider,), attrs)
    return cast("type[CompatibleProvider]", made)


def reported_cost(resp: requests.Response, header: str | None) -> dict[str, float]:
    """``{"usd": amount}`` from the configured cost header, when it holds a sane amount."""
    raw = resp.headers.get(header) if header else None
    try:
        amount = float(raw) if raw is not None else math.nan
    except ValueError:
        amount = math.nan
    sane = math.isfinite(amount) and 0 <= amount <= MAX_REPORTED_USD  # 1e25 would break pricing
    return {USD: amount} if sane else {}


def error_for(resp: requests.Response, ep: Endpoint, label: str, model: str, key: str
              ) -> errors.ProviderError:
    """The error for a non-200 reply (see the module docstring); the key is never quoted."""
    try:
        body = resp.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    err = body.get("error")
    if isinstance(err, str):  # some gateways: {"error": "words"}
        err = {"message": err}
    err = err if isinstance(err, dict) else {}
    inner = err.get("innererror") or err.get("inner_error")
    codes = {str(c).lower() for c in (err.get("code"), err.get("type"), body.get("code"),
                                      inner.get("code") if isinstance(inner, dict) else None)
             if c}
    said = str(err.get("message") or body.get("message") or body.get("detail") or "")
    words = http.clip(http.redact(said, key)) or f"HTTP {resp.status_code}"
    status = resp.status_code
    wait = http.retry_after_seconds(resp.headers)
    if wait is None and status == 429:
        wait = http.hinted_wait(said)
    if codes & SAFETY_CODES:
        return errors.SafetyBlocked(f"{label}'s safety system refused this request ({words}). "
                                    "Rephrase the prompt and try again.")
    if codes & QUOTA_CODES:
        return errors.QuotaExhausted(f"{label} says the account is out of credit or at its "
                                     f"limit ({words}). Add credit with the provider, then try "
                                     "again.")
    if codes & MISSING_CODES or (status == 404 and ep.flavour == AZURE):
        what = "deployment" if ep.flavour == AZURE else "model"
        return errors.Rejected(f"{label} has no {what} {model!r} ({words}). Check the models "
                               f"of the endpoint {ep.name!r} in the endpoints file.")
    if status in (401, 403):
        return errors.NeedsKey(f"{label} refused the key (HTTP {status}: {words}). Check "
                               f"{ep.key_env}, then restart Promptboard.")
    return errors.status_error(status, label, words, wait)
