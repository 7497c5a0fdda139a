"""A fake OpenAI-compatible image endpoint on 127.0.0.1, in either flavour, plus an image host.

    fake = FakeCompatible("azure")            # or "openai" (Bearer; xAI, Recraft, LiteLLM)
    with fake.configured("edge") as pid:      # an endpoints file naming it; pid "compat-edge"
        ... jobs.submit(engine, "ann", JobSpec(provider=pid, ...)) ...
    fake.server.script(fake.route, Reply(...))   # the next answers of the generations route

The wire format, as documented:

- ``openai`` flavour: ``POST {base}/images/generations`` with ``Authorization: Bearer KEY``
  and a JSON body ``{"model", "prompt", "n", "size"?, "quality"?, "response_format"?}``;
  the reply ``{"created", "data": [{"b64_json"} | {"url"}], "usage"?}``; errors
  ``{"error": {"message", "type", "param", "code"}}`` (shared/providers.md §2, the OpenAI
  Images API). xAI (docs.x.ai image generation; ``grok-imagine-image``, ``response_format``
  ``url`` or ``b64_json``, links on its own image host) and Recraft
  (recraft.ai/docs/api-reference/clients: "The OpenAI Python library is compatible with the
  Recraft API", base ``https://external.api.recraft.ai/v1``, Bearer, ``response_format`` url
  or b64_json) speak it; so do gateways.
- LiteLLM's proxy adds ``x-litellm-response-cost``, the call's cost in USD as a decimal
  string (docs.litellm.ai/docs/proxy/response_headers; .../pass_through_cost_tracking), sent
  here when ``cost`` is set.
- ``azure`` flavour (Azure OpenAI REST, learn.microsoft.com "Quickstart: Generate images with
  Azure OpenAI"; the api-evangelist OpenAPI collection of the same API):
  ``POST {endpoint}/openai/deployments/{deployment-id}/images/generations?api-version=...``
  with the key in an ``api-key`` header and no ``model`` in the body; its content filter
  refuses with 400 ``{"error": {"code": "content_filter", "message", "status": 400,
  "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {...}}}}``.

A wrong key gets a 401 that echoes the key in full (worse than the real APIs) so tests prove
the client never shows it. ``violations`` lists wire-format mistakes the client made.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lib.providers import registry
from tests.fakes.gemini import b64, png_bytes
from tests.fakes.server import FakeServer, Reply, Request

KEY = "compat-" + "fake-key-0123456789abcdefTESTkey"  # fake; split for secret scanners
KEY_ENV = "PB_TEST_COMPAT_KEY"
API_VERSION = "2025-04-01-preview"
MODELS = ("image-model-a", "image-model-b")
FIELDS = {"model", "prompt", "n", "size", "quality", "response_format"}
IMAGES = r"GET /images/([^/]+)\.png"


def content_filter() -> Reply:
    """Azure's 400 content filter refusal."""
    return Reply(400, {"error": {
        "code": "content_filter", "status": 400,
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's "
                   "content management policy.",
        "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {
            "hate": {"filtered": False, "severity": "safe"},
            "violence": {"filtered": True, "severity": "medium"}}}}})


def error(status: int, message: str, code: str | None = None,
          headers: dict[str, str] | None = None) -> Reply:
    """An OpenAI-shaped error body."""
    return Reply(status, {"error": {"message": message, "type": "invalid_request_error",
                                    "param": None, "code": code}}, headers or {})


class FakeCompatible:
    """The fake endpoint, a fake image host for ``url`` replies, and what they saw."""

    def __init__(self, flavour: str = "openai", key: str = KEY) -> None:
        self.flavour, self.key = flavour, key
        self.cost: str | None = None  # x-litellm-response-cost to send
        self.extra = 0  # images sent beyond the n asked for (a misbehaving gateway)
        self.violations: list[str] = []
        self.host_auth: list[str | None] = []  # headers the image host was sent
        if flavour == "azure":
            self.route = r"POST /openai/deployments/([^/]+)/images/generations"
        else:
            self.route = r"POST /v1/images/generations"
        self.server = FakeServer({self.route: self._generate, r"GET /v1/models": self._models})
        self.images = FakeServer({IMAGES: self._image})
        self.base_url = self.server.url if flavour == "azure" else f"{self.server.url}/v1"

    def reset(self) -> None:
        self.cost = None
        self.extra = 0
        self.violations.clear()
        self.host_auth.clear()
        for server in (self.server, self.images):
            server.history.clear()
            server.scripts.clear()

    def close(self) -> None:
        self.server.close()
        self.images.close()

    def calls(self) -> list[Request]:
        return self.server.requests_to("POST", self.route.split(" ", 1)[1])

    def toml(self, name: str, **settings: Any) -> str:
        """An ``[endpoints.<name>]`` table pointing at this fake."""
        table: dict[str, Any] = {
            "label": f"Fake {self.flavour} endpoint", "flavour": self.flavour,
            "base_url": self.base_url, "key_env": KEY_ENV, "models": list(MODELS),
            "sizes": ["1024x1024", "1536x1024", "1024x1536"],
            "qualities": ["low", "medium", "high"], "max_n": 4}
        if self.flavour == "azure":
            table["api_version"] = API_VERSION
        table.update(settings)
        lines = [f"[endpoints.{name}]"]
        for k, v in table.items():
            if isinstance(v, bool):
                lines.append(f"{k} = {'true' if v else 'false'}")
            elif isinstance(v, (int, list)):
                lines.append(f"{k} = {v!r}".replace("'", '"'))
            else:
                lines.append(f'{k} = "{v}"')
        return "\n".join(lines) + "\n"

    def env(self) -> dict[str, str]:
        """The key's variable and the image host as a test-only download pair."""
        return {KEY_ENV: self.key,
                "PROMPTBOARD_DOWNLOAD_ALLOW_INSECURE_HOSTS": f"127.0.0.1:{self.images.port}"}

    @contextmanager
    def configured(self, name: str = "fake", key: bool = True, **settings: Any
                   ) -> Iterator[str]:
        """The registry with this fake as endpoint ``name`` (from a temporary endpoints
        file); yields its provider id and restores the registry and environment after."""
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "endpoints.toml"
            path.write_text(self.toml(name, **settings), encoding="utf-8")
            values = {**self.env(), "PROMPTBOARD_ENDPOINTS_FILE": str(path)}
            insecure = "PROMPTBOARD_DOWNLOAD_ALLOW_INSECURE_HOSTS"  # keep other fakes' pairs
            values[insecure] = ",".join(filter(None, (os.environ.get(insecure),
                                                      values[insecure])))
            if not key:
                del values[KEY_ENV]
            saved = {k: os.environ.get(k) for k in [*values, KEY_ENV]}
            os.environ.update(values)
            if not key:
                os.environ.pop(KEY_ENV, None)
            try:
                registry.reload()
                assert f"compat-{name}" in registry.PROVIDERS, registry.endpoint_problems()
                yield f"compat-{name}"
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
                registry.reload()

    # -- handlers ----------------------------------------------------------------------

    def _refused(self, req: Request) -> Reply | None:
        if self.flavour == "azure":
            if "authorization" in req.headers:
                self.violations.append("Azure takes the key in api-key, not Authorization")
            given = req.headers.get("api-key", "")
            if req.query.get("api-version") != [API_VERSION]:
                return error(404, "Resource not found (api-version missing or unknown)",
                             "404")
        else:
            given = req.headers.get("authorization", "").removeprefix("Bearer ")
        if given != self.key:
            return error(401, f"Incorrect API key provided: {given}.", "invalid_api_key")
        return None

    def _generate(self, req: Request) -> Reply:
        if (refused := self._refused(req)) is not None:
            return refused
        body = req.json()
        unknown = set(body) - FIELDS
        if unknown or (self.flavour == "azure") == ("model" in body):
            self.violations.append(f"fields {sorted(body)}")
            return error(400, f"Unknown parameter: {sorted(unknown or {'model'})[0]}")
        model = req.match.group(1) if self.flavour == "azure" and req.match else body["model"]
        if model not in MODELS:
            code = "DeploymentNotFound" if self.flavour == "azure" else "model_not_found"
            return error(404, f"The model {model} does not exist.", code)
        n = int(body.get("n") or 1) + self.extra
        if body.get("response_format") == "url":
            data = [{"url": f"{self.images.url}/images/{model}-{i}.png"} for i in range(n)]
        else:
            data = [{"b64_json": b64(png_bytes(64, 48, (30 * i, 90, 160)))} for i in range(n)]
        headers = {"x-request-id": "req_compat_1"}
        if self.cost is not None:
            headers["x-litellm-response-cost"] = self.cost
        return Reply(200, {"created": 1760000000, "data": data}, headers)

    def _models(self, req: Request) -> Reply:
        """``GET /v1/models`` (openai flavour): ``{"object": "list", "data": [{"id"}]}``."""
        if (refused := self._refused(req)) is not None:
            return refused
        return Reply(200, {"object": "list", "data": [{"id": m, "object": "model"}
                                                      for m in MODELS]})

    def _image(self, req: Request) -> Reply:
        self.host_auth.append(req.headers.get("authorization") or req.headers.get("api-key"))
        return Reply(200, png_bytes(64, 48), {"Content-Type": "image/png"})
