"""The contract every registered provider keeps (issue #13 item 5).

Capabilities are consistent; everything they offer passes the request check; whatever they
exclude is refused by ``preflight`` (before queueing) and by ``generate`` before any HTTP
call; the default status map (``errors.status_error``) and Retry-After apply to every HTTP
provider. One parametrised suite, so a new provider gets these tests by registering.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from lib.providers import checks, endpoints, errors, sizing
from lib.providers.base import Capabilities, GenerationRequest, Provider
from lib.providers.compatible import provider_class
from lib.providers.registry import PROVIDERS
from tests.fakes.server import FakeServer, Reply, Request

# OpenAI-compatible endpoints are registered from configuration: one of each flavour here
CONFIGURED = """
[endpoints.contract-bearer]
base_url = "https://gateway.example/v1"
key_env = "CONTRACT_KEY"
models = ["m-1", "m-2"]
sizes = ["1024x1024", "1536x1024"]
qualities = ["low", "high"]
max_n = 4
[endpoints.contract-azure]
flavour = "azure"
base_url = "https://res.openai.azure.com"
api_version = "2025-04-01-preview"
key_env = "CONTRACT_KEY"
models = ["deploy-1"]
"""
COMPATIBLE = [provider_class(ep) for ep in endpoints.parse(CONFIGURED, "contract")[0]]
ALL = list(PROVIDERS.values()) + COMPATIBLE
HTTP = [cls for cls in ALL if cls.default_base_url or cls.base_url_env]
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


class AnyRoute(FakeServer):
    """Answers every GET and POST with the next of ``replies`` (then a 500)."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        super().__init__({"POST /.*": self._answer, "GET /.*": self._answer})

    def _answer(self, req: Request) -> Reply:
        return self.replies.pop(0) if self.replies else Reply(500, {"error": "none scripted"})


@pytest.fixture
def server() -> Iterator[AnyRoute]:
    fake = AnyRoute()
    yield fake
    fake.close()


def make(cls: type[Provider], url: str = "http://127.0.0.1:9") -> Provider:
    """The provider, configured, pointed at ``url``; fast polls where it has them."""
    kw: dict[str, Any] = {}
    if cls.id in ("replicate", "bfl", "fal"):
        kw = {"poll_interval": 0.01, "sleep": lambda s: None}
    if cls.id == "sandbox":
        kw = {"latency": 0.0}
    return cls(base_url=url, api_key="k-contract", timeout=5.0, **kw)


def request(caps: Capabilities, **kw: Any) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "a red fox", "model": caps.default_model, **kw})


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.id)
def test_capabilities_are_consistent(cls: type[Provider]) -> None:
    caps = cls.caps
    assert caps.default_model in caps.models and caps.max_n >= 1
    assert caps.max_prompt_chars >= 1 and caps.max_reference_images >= 0
    assert caps.default_size is None or caps.default_size in caps.sizes
    assert caps.default_quality is None or caps.default_quality in caps.qualities
    for size in caps.sizes:
        w, h = (int(x) for x in size.split("x"))
        assert w > 0 and h > 0
    for ratio in caps.aspect_ratios:
        assert sizing.ratio_of(ratio) > 0
    for model in caps.models:
        assert cls.model_caps(model).open_models == caps.open_models


def offered(cls: type[Provider]) -> Iterator[GenerationRequest]:
    """A request for every value the default model offers."""
    caps = cls.model_caps(cls.caps.default_model)
    yield request(caps, n=caps.max_n)
    yield request(caps, prompt="x" * caps.max_prompt_chars)
    for size in caps.sizes:
        w, h = (int(x) for x in size.split("x"))
        yield request(caps, width=w, height=h)
    for ratio in caps.aspect_ratios:
        yield request(caps, aspect_ratio=ratio)
    for quality in caps.qualities:
        yield request(caps, quality=quality)
    if caps.seed:
        yield request(caps, seed=caps.max_seed)
    for preset in caps.style_presets:
        yield request(caps, style_preset=preset)
    if not caps.sizes:  # ratio-based: a pixel size goes to the nearest offered ratio
        yield request(caps, width=1350, height=1000)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.id)
def test_everything_the_capabilities_offer_passes_the_check(cls: type[Provider]) -> None:
    provider = make(cls)
    for req in offered(cls):
        provider.preflight(req)


def excluded(cls: type[Provider]) -> Iterator[tuple[str, GenerationRequest]]:
    """(what, request) for every kind of value the default model's capabilities exclude."""
    caps = cls.model_caps(cls.caps.default_model)
    yield "empty prompt", request(caps, prompt="  ")
    yield "long prompt", request(caps, prompt="x" * (caps.max_prompt_chars + 1))
    yield "no images", request(caps, n=0)
    yield "too many images", request(caps, n=caps.max_n + 1)
    yield "references", request(caps, reference_images=(PNG,) * (caps.max_reference_images + 1))
    yield "width only", request(caps, width=1024)
    if not caps.open_models:
        yield "model", request(caps, model="no-such-model")
    if caps.qualities:
        yield "quality", request(caps, quality="ultra-mega")
    if caps.aspect_ratios and not caps.open_sizes:
        yield "aspect ratio", request(caps, aspect_ratio="17:3")
    if caps.sizes and not caps.open_sizes:
        yield "size", request(caps, width=1000, height=1000)
    if caps.seed:
        yield "seed", request(caps, seed=caps.max_seed + 1)
    if caps.style_presets:
        yield "style preset", request(caps, style_preset="no-such-preset")


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.id)
def test_what_the_capabilities_exclude_is_refused_before_queueing_and_before_any_call(
    cls: type[Provider], server: AnyRoute
) -> None:
    provider = make(cls, server.url)
    for what, req in excluded(cls):
        with pytest.raises(errors.Rejected):
            provider.preflight(req)
        with pytest.raises(errors.Rejected):
            provider.generate(req)
        assert server.history == [], what


def test_the_check_uses_the_model_s_own_capabilities() -> None:
    class Narrow(Provider):
        id, label = "narrow", "Narrow"
        caps = Capabilities(models=("a", "b"), default_model="a", max_n=4, qualities=("hi",))

        @classmethod
        def model_caps(cls, model: str) -> Capabilities:
            return replace(cls.caps, max_n=1) if model == "b" else cls.caps

        def generate(self, req: GenerationRequest, ctx: Any = None) -> Any:
            raise NotImplementedError

    Narrow().check(GenerationRequest(prompt="p", model="a", n=4, quality="HI"))
    with pytest.raises(errors.Rejected, match="Narrow makes 1 to 1 images per job, not 2"):
        Narrow().check(GenerationRequest(prompt="p", model="b", n=2))


@pytest.mark.parametrize(("status", "kind", "retry_after"), [
    (401, errors.NeedsKey, None), (402, errors.QuotaExhausted, None),
    (429, errors.RateLimited, 7.0), (408, errors.Unavailable, 7.0),
    (409, errors.Unavailable, 7.0), (500, errors.Unavailable, 7.0),
    (502, errors.Unavailable, 7.0), (503, errors.Unavailable, 7.0),
    (504, errors.Unavailable, 7.0), (400, errors.Rejected, None), (418, errors.Rejected, None),
    (302, errors.BadResponse, None),
])
def test_the_default_status_map(status: int, kind: type[errors.ProviderError],
                                retry_after: float | None) -> None:
    error = errors.status_error(status, "Acme", "its words", 7.0)
    assert type(error) is kind and error.retry_after == retry_after
    assert error.retryable is (retry_after is not None)


# A1111 answers 500 when generating failed (out of GPU memory): not retried (a1111.py).
OWN_500 = {"a1111"}


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
@pytest.mark.parametrize("cls", HTTP, ids=lambda c: c.id)
def test_every_http_provider_retries_the_retryable_statuses_after_retry_after(
    cls: type[Provider], status: int, server: AnyRoute
) -> None:
    server.replies.append(
        Reply(status, {"error": {"message": "busy"}, "detail": "busy"}, {"Retry-After": "7"}))
    with pytest.raises(errors.ProviderError) as caught:
        make(cls, server.url).generate(request(cls.caps))
    if status == 500 and cls.id in OWN_500:
        assert type(caught.value) is errors.Rejected
        return
    assert caught.value.retryable and caught.value.retry_after == 7.0, caught.value.message


SPECIAL = [  # rules beyond the capabilities (check_special): refused before queueing as well
    ("stability", {"model": "sd3-medium", "extra": {"cfg_scale": 11}}),
    ("stability", {"model": "sd3-medium", "style_preset": "anime"}),
    ("replicate", {"model": "owner/../name"}),
    ("replicate", {"extra": {"input": "not an object"}}),
    ("a1111", {"extra": {"steps": 0}}),
    ("a1111", {"aspect_ratio": "wide"}),
    ("openai", {"width": 1000, "height": 1000}),
    ("sandbox", {"width": 8192, "height": 64}),
]


@pytest.mark.parametrize(("pid", "kw"), SPECIAL, ids=[f"{p}-{sorted(k)[0]}" for p, k in SPECIAL])
def test_a_provider_s_special_rules_refuse_before_queueing_too(
    pid: str, kw: dict[str, Any]
) -> None:
    cls = PROVIDERS[pid]
    with pytest.raises(errors.Rejected):
        make(cls).preflight(request(cls.caps, **kw))


def test_numbers_in_extra_are_parsed_and_bounded_alike() -> None:
    assert checks.number("0.5", "strength", 0, 1) == 0.5
    assert checks.whole_number(3.7, "steps", 1, 500) == 3  # int() semantics, as A1111 had
    for bad in ("abc", None, 1.5, float("nan")):
        with pytest.raises(errors.Rejected, match="strength must be a number from 0 to 1"):
            checks.number(bad, "strength", 0, 1)
    for bad_whole in ("3.5", None, 0, 501):
        with pytest.raises(errors.Rejected, match="steps must be a whole number from 1 to 500"):
            checks.whole_number(bad_whole, "steps", 1, 500)
