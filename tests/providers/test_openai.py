"""The OpenAI Images provider against a fake API: wire format, scenarios, lifecycle, secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

import pytest

from lib import jobs
from lib.core import config
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.money import costs
from lib.providers.base import BadResponse, GenerationRequest, RateLimited, Rejected
from lib.providers.openai_images import OpenAIImagesProvider, read_usage
from tests.fakes import openai as o
from tests.fakes.gemini import png_bytes
from tests.fakes.openai import KEY, FakeOpenAI
from tests.fakes.server import Reply
from tests.helpers import run_next
from tests.providers.engines import provider_engine

TODAY = date(2026, 11, 21)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    """One fake per module: stopping a server costs half a second."""
    fake = FakeOpenAI()
    yield fake
    fake.close()


@pytest.fixture
def fake(server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    server.reset()
    yield server
    assert not server.violations, server.violations


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(fake: FakeOpenAI, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
           caplog: pytest.LogCaptureFixture) -> Iterator[Engine]:
    """A job engine on the fake's URL; the key is never kept (rows, events, log)."""
    caplog.set_level(logging.DEBUG)
    yield from provider_engine(
        monkeypatch, {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake.url,
                      "PROMPTBOARD_HTTP_TIMEOUT": "2"}, clock,
        secret=KEY, log=lambda: caplog.text)


def provider(fake: FakeOpenAI, today: date = TODAY) -> OpenAIImagesProvider:
    return OpenAIImagesProvider(base_url=fake.url, api_key=KEY, timeout=2, today=lambda: today)


def request(model: str = "gpt-image-2", **kw: Any) -> GenerationRequest:
    return GenerationRequest(prompt=kw.pop("prompt", "a red fox in snow"), model=model, **kw)


def submit(engine: Engine, **kw: Any) -> str:
    kw.setdefault("width", 1024)
    kw.setdefault("height", 1024)
    return jobs.submit(engine, "ann", jobs.JobSpec(prompt="a red fox in snow", provider="openai",
                                                   **kw))


def job_of(engine: Engine, job_id: str) -> jobs.Job:
    job = jobs.get(engine, job_id)
    assert job is not None
    return job


# --------------------------------------------------------------------------- request side


def test_generations_send_bearer_auth_and_the_documented_json(fake: FakeOpenAI) -> None:
    result = provider(fake).generate(request(n=2, width=1536, height=1024, quality="high",
                                             extra={"background": "opaque", "style": None}))
    (call,) = fake.calls
    assert call.path == "/v1/images/generations" and call.query == {} and KEY not in call.path
    assert call.headers["authorization"] == f"Bearer {KEY}"
    assert call.json() == {"model": "gpt-image-2", "prompt": "a red fox in snow", "n": 2,
                           "size": "1536x1024", "quality": "high", "output_format": "png",
                           "moderation": "auto", "background": "opaque"}
    assert len(result.images) == 2 and result.request_id == "req_fake_1"


@pytest.mark.parametrize("count", [1, 3])
def test_references_go_to_edits_as_image_or_repeated_image_brackets(
    fake: FakeOpenAI, count: int
) -> None:
    refs = tuple(png_bytes(8 + i, 8) for i in range(count))
    provider(fake).generate(request("gpt-image-1.5", reference_images=refs, quality="low"))
    (call,) = fake.calls
    (form,) = fake.forms
    assert call.path == "/v1/images/edits" and call.headers["authorization"] == f"Bearer {KEY}"
    field, other = ("image", "image[]") if count == 1 else ("image[]", "image")
    assert [f[1] for f in form[field]] == list(refs) and other not in form
    assert all(f[2] == "image/png" and f[0].endswith(".png") for f in form[field])
    assert {k: v for k, v in form.items() if k not in ("image", "image[]")} == {
        "prompt": ["a red fox in snow"], "model": ["gpt-image-1.5"], "n": ["1"],
        "size": ["1024x1024"], "quality": ["low"], "output_format": ["png"]}


@pytest.mark.parametrize(
    ("model", "kw", "size"),
    [("gpt-image-2", {}, "1024x1024"),
     ("gpt-image-2", {"width": 2048, "height": 1152}, "2048x1152"),
     ("gpt-image-2", {"width": 3840, "height": 2160}, "3840x2160"),
     ("gpt-image-2", {"aspect_ratio": "16:9"}, "1360x768"),
     ("gpt-image-1.5", {"aspect_ratio": "16:9"}, "1536x1024"),
     ("gpt-image-1-mini", {"aspect_ratio": "9:16"}, "1024x1536")],
)
def test_sizes_sent_per_model(fake: FakeOpenAI, model: str, kw: dict[str, Any], size: str) -> None:
    provider(fake).generate(request(model, **kw))
    assert fake.calls[0].json()["size"] == size


@pytest.mark.parametrize(
    ("model", "kw", "message"),
    [("gpt-image-2", {"width": 1000, "height": 1000}, "divisible by 16"),
     ("gpt-image-2", {"width": 4096, "height": 2048}, "too large"),
     ("gpt-image-2", {"width": 3840, "height": 3840}, "too large"),
     ("gpt-image-2", {"width": 3072, "height": 1008}, "between 1:3 and 3:1"),
     ("gpt-image-1.5", {"width": 2048, "height": 2048}, "or gpt-image-2 for other sizes"),
     ("gpt-image-2", {"extra": {"background": "transparent"}}, "cannot make transparent"),
     ("gpt-image-2", {"extra": {"background": "green"}}, "background must be one of"),
     ("gpt-image-2", {"quality": "ultra"}, "quality must be one of"),
     ("gpt-image-2", {"n": 11}, "1 to 10 images"),
     ("gpt-image-2", {"reference_images": (png_bytes(),) * 17}, "at most 16 reference"),
     ("gpt-image-2", {"width": 1024}, "both width and height"),
     ("dall-e-3", {}, "shut down dall-e-3 on 2026-05-12; use gpt-image-2"),
     ("gpt-image-9", {}, "no model 'gpt-image-9'")],
)
def test_bad_requests_are_refused_before_any_call(
    fake: FakeOpenAI, model: str, kw: dict[str, Any], message: str
) -> None:
    with pytest.raises(Rejected, match=message):
        provider(fake).generate(request(model, **kw))
    assert fake.calls == []


def test_transparent_background_is_sent_for_older_models(fake: FakeOpenAI) -> None:
    provider(fake).generate(request("gpt-image-1.5", extra={"background": "transparent"}))
    assert fake.calls[0].json()["background"] == "transparent"


@pytest.mark.parametrize("model", ["gpt-image-1.5", "gpt-image-1-mini"])
def test_a_model_is_refused_from_its_shutdown_date_naming_the_replacement(
    fake: FakeOpenAI, model: str
) -> None:
    provider(fake, today=date(2026, 11, 30)).generate(request(model))
    assert len(fake.calls) == 1
    with pytest.raises(Rejected, match=f"OpenAI shut down {model} on 2026-12-01; use gpt-image-2"):
        provider(fake, today=date(2026, 12, 1)).generate(request(model))
    assert len(fake.calls) == 1
    notice = OpenAIImagesProvider().shutdown_notice(model, TODAY)
    assert notice == f"OpenAI shuts down {model} on 2026-12-01; use gpt-image-2 instead."
    assert OpenAIImagesProvider().shutdown_notice("gpt-image-2", TODAY) is None


def test_model_caps_narrow_sizes_for_older_models() -> None:
    assert OpenAIImagesProvider.model_caps("gpt-image-1.5").sizes == (
        "1024x1024", "1536x1024", "1024x1536")
    caps = OpenAIImagesProvider.model_caps("gpt-image-2")
    assert "3840x2160" in caps.sizes and caps.max_n == 10 and caps.max_reference_images == 16
    assert (caps.default_model, caps.default_quality, caps.default_size) == (
        "gpt-image-2", "medium", "1024x1024")


def test_usage_is_read_by_token_class() -> None:
    assert read_usage(o.usage(text=40, image_in=194, output=1584), 1) == {
        "input_text_tokens": 40.0, "input_image_tokens": 194.0, "output_image_tokens": 1584.0}
    assert read_usage({"input_tokens": 12, "output_tokens": 272}, 1) == {
        "input_text_tokens": 12.0, "input_image_tokens": 0.0, "output_image_tokens": 272.0}
    assert read_usage(None, 3) == {"images": 3.0}


def test_text_output_tokens_are_their_own_class() -> None:
    """``output_tokens_details`` splits the output: text tokens are billed at the text-output
    rate, not the image rate (only the image tokens are image output)."""
    assert read_usage(o.usage(text=40, output=1056, text_out=180), 1) == {
        "input_text_tokens": 40.0, "input_image_tokens": 0.0, "output_image_tokens": 1056.0,
        "output_text_tokens": 180.0}
    # details given but without text tokens: all output is image output
    assert read_usage({"input_tokens": 9, "output_tokens": 272,
                       "output_tokens_details": {"image_tokens": 272}}, 1)[
        "output_image_tokens"] == 272.0


@pytest.mark.parametrize(("message", "wait"), [
    # as seen (community.openai.com/t/.../1382726); other durations from OpenAI's text-model
    # 429s (BuilderIO/micro-agent#86, Pythagora-io/gpt-pilot#608): Go's duration format
    ("Rate limit reached for gpt-image-2-codex (for limit gpt-image) in organization org-abc "
     "on input-images per min: Limit 4000, Used 4000, Requested 1. Please try again in 15ms. "
     "Visit https://platform.openai.com/account/rate-limits to learn more.", 0.015),
    ("Rate limit reached ... Please try again in 12.441s.", 12.441),
    ("Rate limit reached ... Please try again in 1.5s.", 1.5),
    ("Rate limit reached ... Please try again in 250ms.", 0.25),
    ("Rate limit reached ... Please try again in 1m30.5s.", 90.5),
    ("Rate limit reached ... Please try again in 6m0s.", 360.0),
    ("Rate limit reached ... Please try again later.", None),
])
def test_a_429_without_headers_waits_as_its_message_says(
    fake: FakeOpenAI, message: str, wait: float | None
) -> None:
    fake.enqueue(o.error(429, message, "rate_limit_exceeded", type_="requests"))
    with pytest.raises(RateLimited) as caught:
        provider(fake).generate(request())
    assert caught.value.retry_after == wait


def test_the_retry_after_header_wins_over_the_message(fake: FakeOpenAI) -> None:
    fake.enqueue(o.error(429, "Please try again in 12s.", "rate_limit_exceeded",
                         headers={"retry-after": "3"}))
    with pytest.raises(RateLimited) as caught:
        provider(fake).generate(request())
    assert caught.value.retry_after == 3.0


def test_a_url_instead_of_base64_is_a_bad_response(fake: FakeOpenAI) -> None:
    fake.enqueue(o.ok(items=[{"url": "https://example.com/img.png"}]))
    with pytest.raises(BadResponse, match="OPENAI_BASE_URL"):
        provider(fake).generate(request())


def test_connection_check_looks_up_the_default_model(fake: FakeOpenAI) -> None:
    assert "gpt-image-2 is available" in provider(fake).test_connection()
    assert fake.server.history[-1].path == "/v1/models/gpt-image-2"


# --------------------------------------------------------------------------- through the engine

FAILS = [  # (id, reply, error_type, what the message must say)
    ("moderation_input", o.moderation_blocked("input"), "safety", "input stage"),
    ("moderation_output", o.moderation_blocked("output"), "safety", "Rephrase the prompt"),
    ("insufficient_quota", o.insufficient_quota(), "quota",
     "Add credit at platform.openai.com/account/billing"),
    ("billing_limit", o.error(400, "Billing hard limit has been reached",
                              "billing_hard_limit_reached"), "quota", "account/billing"),
    ("model_not_found", o.model_not_found("gpt-image-2"), "rejected", "Choose gpt-image-2"),
    ("unauthorized", o.error(401, "Incorrect API key provided", "invalid_api_key"), "needs_key",
     "Check OPENAI_API_KEY"),
    ("org_not_verified", o.org_not_verified(), "rejected", "verify it at platform.openai.com"),
    ("forbidden", o.error(403, "Country not supported."), "needs_key", "OPENAI_API_KEY"),
    ("bad_request", o.error(400, "Invalid prompt: too vague. " + "x" * 400), "rejected",
     "OpenAI refused the request: Invalid prompt: too vague."),
    ("unprocessable", o.error(422, "Unprocessable image."), "rejected", "Unprocessable image."),
    ("echoed_key", o.error(400, f"Bad header {KEY}"), "rejected", "Bad header ***"),
    ("should_not_retry", o.rate_limited(should_retry="false"), "rejected",
     "asked not to retry"),
    ("malformed", o.malformed(), "bad_response", "not valid JSON"),
    ("truncated_image", o.truncated_image(), "bad_response", "could not be read"),
    ("no_image", o.ok(items=[]), "bad_response", "without an image"),
    ("url_only", o.ok(items=[{"url": "https://x/y.png"}]), "bad_response", "OPENAI_BASE_URL"),
]


@pytest.mark.parametrize(("reply", "error_type", "says"), [f[1:] for f in FAILS],
                         ids=[f[0] for f in FAILS])
def test_a_refusal_fails_the_job_at_once_with_an_actionable_message(
    engine: Engine, fake: FakeOpenAI, reply: Reply, error_type: str, says: str
) -> None:
    fake.enqueue(reply)
    job_id = submit(engine)
    assert run_next(engine) == jobs.FAILED
    job = job_of(engine, job_id)
    assert (job.error_type, job.attempts) == (error_type, 1)
    assert says in (job.error_message or "") and len(job.error_message or "") < 600
    assert run_next(engine) is None and len(fake.calls) == 1  # never retried
    assert engine.storage.list_keys("img/") == []


def _in_20_s() -> dict[str, str]:
    """A retry-after HTTP date 20 s after the real now (the helper reads the real clock)."""
    return {"retry-after": format_datetime(datetime.now(UTC) + timedelta(seconds=20),
                                           usegmt=True)}


RETRIES = [  # (id, reply, error_type, seconds until the retry, what the message must say)
    ("rate_limited", o.rate_limited("3"), "rate_limited", 3.0, "rate limiting"),
    ("rate_limited_ms", o.rate_limited("9", "1500"), "rate_limited", 1.5, "rate limiting"),
    ("rate_limited_hint_in_words", o.rate_limited(None), "rate_limited", 3.0, "rate limiting"),
    ("rate_limited_no_hint", o.error(429, "Rate limit reached for images per minute.",
                                     "rate_limit_exceeded", "requests"), "rate_limited", 2.0,
     "rate limiting"),
    ("server_500", o.server_error(500), "unavailable", 2.0, "HTTP 500"),
    ("bad_gateway_502", o.server_error(502), "unavailable", 2.0, "HTTP 502"),
    ("unavailable_503", o.server_error(503), "unavailable", 2.0, "HTTP 503"),
    ("timeout_408", o.error(408, "Request timed out."), "unavailable", 2.0, "HTTP 408"),
    ("conflict_409", o.error(409, "Conflict."), "unavailable", 2.0, "HTTP 409"),
    ("timeout", Reply(200, {}, delay=0.8), "unavailable", 2.0, "did not answer within 0.3 s"),
    ("reset", Reply(reset=True), "unavailable", 2.0, "could not be reached"),
]


@pytest.mark.parametrize(("reply", "error_type", "wait", "says"), [r[1:] for r in RETRIES],
                         ids=[r[0] for r in RETRIES])
def test_a_transient_failure_is_retried_after_the_hint_then_succeeds(
    engine: Engine, fake: FakeOpenAI, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
    reply: Reply, error_type: str, wait: float, says: str,
) -> None:
    monkeypatch.setenv("PROMPTBOARD_HTTP_TIMEOUT", "0.3")
    fake.enqueue(reply, o.ok())
    job_id = submit(engine)
    assert run_next(engine) == jobs.QUEUED
    job = job_of(engine, job_id)
    assert job.error_type == error_type and says in (job.error_message or "")
    assert (job.next_run_at - clock.now()).total_seconds() == pytest.approx(wait)
    clock.advance(wait)
    assert run_next(engine) == jobs.SUCCEEDED
    assert len(fake.calls) == 2 and job_of(engine, job_id).attempts == 2


def test_a_wrong_key_echoed_by_openai_is_never_stored(
    engine: Engine, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "sk-proj-WRONGwrongWRONG0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", wrong)  # the fake's 401 quotes it in full
    job_id = submit(engine)
    assert run_next(engine) == jobs.FAILED
    assert job_of(engine, job_id).error_type == "needs_key"
    stored = repr(engine.db.fetchall("SELECT * FROM jobs"))
    stored += repr(engine.db.fetchall("SELECT * FROM job_events"))
    assert wrong not in stored and wrong not in caplog.text
    assert fake.calls[0].headers["authorization"] == f"Bearer {wrong}"  # it was really sent


def test_a_retry_after_http_date_is_honoured(
    engine: Engine, fake: FakeOpenAI, clock: FakeClock
) -> None:
    fake.enqueue(o.error(429, "Slow down.", "rate_limit_exceeded", headers=_in_20_s()))
    job_id = submit(engine)
    assert run_next(engine) == jobs.QUEUED
    wait = (job_of(engine, job_id).next_run_at - clock.now()).total_seconds()
    assert 17 <= wait <= 20


def test_a_job_of_three_images_is_one_call_with_cost_split_exactly(
    engine: Engine, fake: FakeOpenAI
) -> None:
    job_id = submit(engine, n=3, quality="medium")
    assert job_of(engine, job_id).estimated_cost_usd == 3 * Decimal("0.053")  # per-image rows
    assert run_next(engine) == jobs.SUCCEEDED
    job = job_of(engine, job_id)
    # 50 text tokens x $5/1M + 3 x 1056 image tokens x $30/1M
    assert job.cost_usd == Decimal("0.00025") + Decimal("0.09504") == Decimal("0.09529")
    assert job.request_id == "req_fake_1" and len(fake.calls) == 1
    assert json.loads(job.usage or "{}") == {"input_text_tokens": 50.0,
                                             "input_image_tokens": 0.0,
                                             "output_image_tokens": 3168.0}
    rows = engine.db.dicts("SELECT * FROM images WHERE job_id = ? ORDER BY idx", [job_id])
    parts = [r["cost_usd"] for r in rows]
    assert parts == costs.split(job.cost_usd, 3) and sum(parts) == job.cost_usd
    assert parts == [Decimal("0.03176333"), Decimal("0.03176333"), Decimal("0.03176334")]
    assert all(engine.storage.get(r["original_key"]) for r in rows)
    assert {r["request_id"] for r in rows} == {"req_fake_1"}


def test_text_output_tokens_are_priced_at_the_text_rate(engine: Engine, fake: FakeOpenAI) -> None:
    fake.enqueue(o.ok(use=o.usage(text=50, output=1056, text_out=180)))
    job_id = submit(engine, quality="medium")
    assert run_next(engine) == jobs.SUCCEEDED
    # gpt-image-2: 50 text-in x $5/1M + 1056 image-out x $30/1M + 180 text-out x $10/1M
    assert job_of(engine, job_id).cost_usd == Decimal("0.00025") + Decimal("0.03168") + \
        Decimal("0.0018")


def test_without_usage_the_image_is_priced_by_size_and_quality(
    engine: Engine, fake: FakeOpenAI
) -> None:
    fake.enqueue(o.ok(use={}))
    job_id = submit(engine, model="gpt-image-1-mini", width=1536, height=1024, quality="high")
    assert run_next(engine) == jobs.SUCCEEDED
    job = job_of(engine, job_id)
    assert json.loads(job.usage or "{}") == {"images": 1.0}
    assert job.cost_usd == Decimal("0.052")  # providers.md §2: mini, high, 1536x1024


def test_without_usage_a_gpt_image_2_image_is_priced_by_its_pixels(
    engine: Engine, fake: FakeOpenAI
) -> None:
    fake.enqueue(o.ok(n=2, use={}))
    job_id = submit(engine, width=1536, height=1024, quality="medium", n=2)
    assert run_next(engine) == jobs.SUCCEEDED
    job = job_of(engine, job_id)
    assert json.loads(job.usage or "{}") == {"images": 3.0}  # 2 x 1.5 squares of 1024x1024
    assert job.cost_usd == Decimal("0.159")  # 3 x $0.053, the medium 1024x1024 figure


def test_a_reference_image_goes_to_edits_and_image_tokens_are_priced(
    engine: Engine, fake: FakeOpenAI
) -> None:
    fake.enqueue(o.ok(use=o.usage(text=40, image_in=194, output=1584)))
    job_id = submit(engine, reference=png_bytes(40, 30, (0, 200, 0)), width=1024, height=1536)
    assert run_next(engine) == jobs.SUCCEEDED
    stored_ref = engine.storage.get(job_of(engine, job_id).reference_key or "")
    assert fake.forms[0]["image"][0][1] == stored_ref and fake.calls[0].path.endswith("/edits")
    # 40 x $5/1M + 194 x $8/1M + 1584 x $30/1M
    assert job_of(engine, job_id).cost_usd == Decimal("0.0002") + Decimal("0.001552") + Decimal(
        "0.04752")


def test_a_shut_down_model_fails_the_job_without_a_call(
    fake: FakeOpenAI, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    eng = Engine(config.load(), clock=clock,
                 provider_factory=lambda _pid: provider(fake, today=date(2026, 12, 2)))
    try:
        job_id = submit(eng, model="gpt-image-1.5")
        assert run_next(eng) == jobs.FAILED
        job = job_of(eng, job_id)
        assert job.error_type == "rejected" and "use gpt-image-2" in (job.error_message or "")
        assert fake.calls == [] and not eng.internal_errors
    finally:
        eng.close()
