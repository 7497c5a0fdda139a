"""The Gemini provider against a fake generateContent API: wire format, every scenario, secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import requests

from lib import jobs
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.gallery import queries as gallery
from lib.jobs.model import SubmitError
from lib.money import costs
from lib.providers.base import (
    Cancelled,
    GenerationRequest,
    NeedsKey,
    Rejected,
    Unavailable,
)
from lib.providers.gemini import GeminiProvider
from lib.providers.gemini_models import SHUTDOWNS
from lib.providers.gemini_usage import read_usage
from lib.reporting import analytics
from tests.fakes import gemini as g
from tests.fakes.gemini import KEY, FakeGemini, b64, png_bytes
from tests.fakes.server import Reply
from tests.helpers import closed_port_url, run_next
from tests.providers.engines import provider_engine

PRO, FLASH = "gemini-3-pro-image", "gemini-3.1-flash-image"  # the live GA ids
OLD = "gemini-2.5-flash-image"  # shut down 2026-10-02
PRO_PREVIEW = "gemini-3-pro-image-preview"  # shut down 2026-06-25
TODAY = datetime(2026, 12, 6, 9, 0)  # the pinned clock: issue 12's "today"
TODAY_DATE = TODAY.date()
BEFORE = date(2026, 6, 1)  # every Gemini model in this file was live then


@pytest.fixture(scope="module")
def server() -> Iterator[FakeGemini]:
    """One fake per module: stopping a server costs half a second."""
    fake = FakeGemini()
    yield fake
    fake.close()


@pytest.fixture
def fake(server: FakeGemini) -> Iterator[FakeGemini]:
    server.reset()
    yield server
    assert not server.violations, server.violations


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> FakeClock:
    """Pinned at TODAY, or at the datetime a test passes with ``indirect=["clock"]``."""
    return FakeClock(getattr(request, "param", TODAY))


@pytest.fixture
def engine(fake: FakeGemini, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
           caplog: pytest.LogCaptureFixture) -> Iterator[Engine]:
    """A job engine on the fake's URL; the key is never kept (rows, events, log)."""
    caplog.set_level(logging.DEBUG)
    yield from provider_engine(
        monkeypatch, {"GEMINI_API_KEY": KEY, "GEMINI_BASE_URL": fake.url,
                      "PROMPTBOARD_HTTP_TIMEOUT": "2"}, clock,
        secret=KEY, log=lambda: caplog.text)


def assert_key_never_stored(engine: Engine, log_text: str) -> None:
    """The key is in no job row, no job event and no log line."""
    stored = repr(engine.db.fetchall("SELECT * FROM jobs"))
    stored += repr(engine.db.fetchall("SELECT * FROM job_events"))
    stored += repr(engine.db.fetchall("SELECT * FROM images"))
    assert KEY not in stored and KEY not in log_text


def provider(fake: FakeGemini, today: date = TODAY_DATE, **kw: Any) -> GeminiProvider:
    return GeminiProvider(base_url=fake.url, api_key=KEY, timeout=2, **kw).on_date(lambda: today)


def request(model: str = PRO, **kw: Any) -> GenerationRequest:
    return GenerationRequest(prompt=kw.pop("prompt", "a lighthouse at dusk"), model=model, **kw)


def submit(engine: Engine, **kw: Any) -> str:
    kw.setdefault("aspect_ratio", "16:9")
    kw.setdefault("prompt", "a lighthouse at dusk")
    return jobs.submit(engine, "ann", jobs.JobSpec(provider="gemini", **kw))


def job_of(engine: Engine, job_id: str) -> jobs.Job:
    job = jobs.get(engine, job_id)
    assert job is not None
    return job


class Recorder:
    """A JobContext that records progress and can ask to cancel after some reports."""

    attempt = 1

    def __init__(self, cancel_after: int | None = None) -> None:
        self.state: dict[str, Any] = {}
        self.progress: list[tuple[float, str | None]] = []
        self.cancel_after = cancel_after

    def save_state(self, state: dict[str, Any]) -> None:
        self.state = dict(state)

    def report_progress(self, fraction: float, note: str | None = None) -> None:
        self.progress.append((fraction, note))

    def cancel_requested(self) -> bool:
        return self.cancel_after is not None and len(self.progress) >= self.cancel_after


# --------------------------------------------------------------------------- request side


def test_request_carries_the_key_in_a_header_and_a_camel_case_body(fake: FakeGemini) -> None:
    refs = (png_bytes(8, 8), png_bytes(9, 9, (1, 2, 3)))
    result = provider(fake).generate(request(PRO, quality="2k", aspect_ratio="16:9",
                                             reference_images=refs))
    (call,) = fake.calls
    assert call.path == f"/v1beta/models/{PRO}:generateContent" and call.query == {}
    assert call.headers["x-goog-api-key"] == KEY and KEY not in call.path
    assert call.json() == {
        "contents": [{"role": "user", "parts": [
            {"text": "a lighthouse at dusk"},
            {"inlineData": {"mimeType": "image/png", "data": b64(refs[0])}},
            {"inlineData": {"mimeType": "image/png", "data": b64(refs[1])}}]}],
        "generationConfig": {"responseModalities": ["TEXT", "IMAGE"],
                             "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"}}}
    assert result.request_id == "resp-gemini-1" and result.images[0].data == png_bytes()


@pytest.mark.parametrize(
    ("model", "width", "height", "ratio"),
    [(PRO, 1920, 1080, "16:9"), (PRO, 1000, 1500, "2:3"), (FLASH, 512, 512, "1:1"),
     (FLASH, 2560, 1080, "21:9"), (PRO, 1100, 900, "5:4"), (FLASH, 400, 1600, "1:4"),
     (PRO, 400, 1600, "9:16"), (OLD, 1920, 1080, "16:9")],
)
def test_width_and_height_become_the_nearest_supported_ratio(
    fake: FakeGemini, model: str, width: int, height: int, ratio: str
) -> None:
    fake.live = g.ALL_MODELS  # the Gemini API of 2026-06-01, when 2.5 Flash Image still ran
    provider(fake, today=BEFORE).generate(request(model, width=width, height=height,
                                                  quality="1K"))
    config_sent = fake.calls[0].json()["generationConfig"]["imageConfig"]
    assert config_sent["aspectRatio"] == ratio
    assert ("imageSize" in config_sent) is (model != OLD)  # 2.5 Flash was 1K only: omitted


@pytest.mark.parametrize(
    ("model", "kw", "message"),
    [(OLD, {"quality": "2K"}, "1K images, not 2K"),
     (OLD, {"reference_images": (png_bytes(),) * 4}, "at most 3 reference images"),
     (PRO, {"reference_images": (png_bytes(),) * 15}, "at most 14 reference images"),
     (FLASH, {"reference_images": (png_bytes(),) * 15}, "at most 14 reference images"),
     (PRO, {"aspect_ratio": "4:1"}, "does not make 4:1"),
     (PRO, {"quality": "8K"}, "1K or 2K or 4K images, not 8K"),
     ("gemini-9-ultra", {}, "has no model 'gemini-9-ultra'; choose one of gemini-3-pro-image, "
                           "gemini-3.1-flash-image."),
     (FLASH, {"prompt": "   "}, "prompt is empty"),
     (FLASH, {"n": 5}, "1 to 4 images")],
)
def test_requests_a_model_cannot_serve_are_refused_before_any_call(
    fake: FakeGemini, model: str, kw: dict[str, Any], message: str
) -> None:
    with pytest.raises(Rejected, match=message):
        provider(fake, today=BEFORE).generate(request(model, **kw))
    assert fake.calls == []


def test_no_key_needs_key_without_calling(fake: FakeGemini) -> None:
    with pytest.raises(NeedsKey, match="GEMINI_API_KEY"):
        GeminiProvider(base_url=fake.url, api_key=None).generate(request())
    assert fake.calls == []


def test_the_fake_fails_a_client_that_puts_the_key_in_the_url(fake: FakeGemini) -> None:
    resp = requests.post(f"{fake.url}/models/{FLASH}:generateContent?key={KEY}", json={},
                         timeout=2)
    assert resp.status_code == 400 and fake.violations == ["the API key was sent in the URL query"]
    fake.violations.clear()


def test_model_caps_narrow_the_class_caps_per_model() -> None:
    old, pro, flash = (GeminiProvider.model_caps(m) for m in (OLD, PRO, FLASH))
    assert (old.qualities, old.max_reference_images) == (("1K",), 3)
    assert (pro.qualities, pro.max_reference_images) == (("1K", "2K", "4K"), 14)
    assert (flash.qualities, flash.max_reference_images) == (("1K", "2K", "4K"), 14)
    assert "8:1" in flash.aspect_ratios and "8:1" not in pro.aspect_ratios
    assert len(flash.aspect_ratios) == 14 and len(pro.aspect_ratios) == 10
    assert GeminiProvider.seed_line().live(date(2026, 12, 7)) == (PRO, FLASH)
    assert not GeminiProvider.caps.open_models


# --------------------------------------------------------------------------- response side


def test_images_are_read_from_every_candidate_skipping_thoughts(fake: FakeGemini) -> None:
    jpeg = png_bytes(5, 5)  # any bytes: what matters is the mime type reported with them
    fake.enqueue(Reply(200, {"candidates": [
        {"content": {"parts": [
            {"inlineData": {"mimeType": "image/png", "data": b64(b"draft")}, "thought": True},
            {"inline_data": {"mime_type": "image/jpeg", "data": b64(jpeg)}}]},
         "finishReason": "STOP"},
        {"content": {"parts": [{"text": "![img](data:image/webp;base64," + b64(b"webp!") + ")"}]},
         "finishReason": "STOP"}],
        "responseId": "r2"}))
    result = provider(fake).generate(request())
    assert [(i.data, i.mime_type) for i in result.images] == [
        (jpeg, "image/jpeg"), (b"webp!", "image/webp")]
    assert result.usage == {"images": 2.0}  # no usageMetadata: priced per image


def test_usage_splits_image_tokens_from_text_and_thinking() -> None:
    meta = g.usage(prompt=300, image=1120, text=40, thoughts=800)
    assert read_usage({"usageMetadata": meta}, 1) == {
        "input_tokens": 300.0, "output_image_tokens": 1120.0, "output_text_tokens": 840.0}
    no_details = {"promptTokenCount": 5, "candidatesTokenCount": 1290}
    assert read_usage({"usageMetadata": no_details}, 1)["output_image_tokens"] == 1290.0


def test_several_images_are_sequential_calls_with_progress_and_summed_usage(
    fake: FakeGemini,
) -> None:
    fake.enqueue(g.ok(response_id="a"), g.ok(response_id="b"), g.ok(response_id="c"))
    ctx = Recorder()
    result = provider(fake).generate(request(n=3), ctx)
    assert len(fake.calls) == 3 and len(result.images) == 3 and result.request_id == "c"
    assert [p for p, _ in ctx.progress] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert result.usage == {"input_tokens": 810.0, "output_image_tokens": 3360.0,
                            "output_text_tokens": 0.0}


def test_a_failure_after_some_images_says_they_were_charged(fake: FakeGemini) -> None:
    fake.enqueue(g.ok(), g.server_error(503))
    with pytest.raises(Unavailable, match="1 of 3 images were made before this"):
        provider(fake).generate(request(n=3), Recorder())
    assert len(fake.calls) == 2


BLOCKED_USAGE = [  # (id, reply, the usage the job records, its cost on gemini-3-pro-image)
    # thinking tokens billed at the text-output rate ($12/1M), the prompt at $2/1M; Google
    # does not charge for the blocked image itself (its finishMessage says so)
    ("image_blocked_after_thinking", g.finished("IMAGE_SAFETY", g.BLOCKED_IMAGE, thoughts=220),
     {"input_tokens": 9.0, "output_text_tokens": 220.0}, Decimal("0.002658")),
    ("prompt_blocked", g.prompt_blocked(), {"input_tokens": 9.0}, Decimal("0.000018")),
    ("text_instead", g.text_only(), {"input_tokens": 9.0, "output_text_tokens": 20.0},
     Decimal("0.000258")),
]


@pytest.mark.parametrize(("reply", "usage", "cost"), [b[1:] for b in BLOCKED_USAGE],
                         ids=[b[0] for b in BLOCKED_USAGE])
def test_a_reply_without_an_image_records_the_tokens_google_reported(
    engine: Engine, fake: FakeGemini, reply: Reply, usage: dict[str, float], cost: Decimal,
) -> None:
    """A 200 without an image is not a failed request in Google's billing sense (only 400 and
    500 replies are free): its reported prompt and thinking tokens are recorded and priced."""
    fake.enqueue(reply)
    job_id = submit(engine, model=PRO)
    assert run_next(engine) == jobs.FAILED
    job = job_of(engine, job_id)
    assert json.loads(job.usage or "null") == usage and job.cost_usd == cost


def test_hostile_token_counts_fall_back_to_the_image_price_and_never_crash(
    engine: Engine, fake: FakeGemini
) -> None:
    fake.enqueue(g.ok(meta={"promptTokenCount": "lots", "candidatesTokenCount": "many",
                            "thoughtsTokenCount": float("nan")}),
                 Reply(200, {"candidates": [{"finishReason": "IMAGE_SAFETY"}],
                             "usageMetadata": {"promptTokenCount": [9], "thoughtsTokenCount":
                                               -5, "candidatesTokensDetails": [
                                                   {"modality": "IMAGE", "tokenCount": "x"}]}}))
    ok_id = submit(engine, model=PRO, quality="1K")
    assert run_next(engine) == jobs.SUCCEEDED
    done = job_of(engine, ok_id)
    assert json.loads(done.usage or "{}") == {"images": 1.0} and done.cost_usd == Decimal("0.134")
    blocked = submit(engine, model=PRO, prompt="another")
    assert run_next(engine) == jobs.FAILED
    assert job_of(engine, blocked).error_type == "safety"  # not an internal error


def test_images_made_before_a_refusal_are_recorded_as_billed(
    engine: Engine, fake: FakeGemini
) -> None:
    meta = g.usage(prompt=100, image=1120, text=0, thoughts=0)
    fake.enqueue(g.ok(meta=meta), g.finished("IMAGE_SAFETY", g.BLOCKED_IMAGE))
    job_id = submit(engine, model=PRO, quality="2K", n=3)
    assert run_next(engine) == jobs.FAILED
    job = job_of(engine, job_id)
    assert json.loads(job.usage or "null") == {
        "input_tokens": 109.0, "output_image_tokens": 1120.0, "output_text_tokens": 0.0}
    # 109 x $2/1M + 1120 x $120/1M
    assert job.cost_usd == Decimal("0.000218") + Decimal("0.1344")
    assert "1 of 3 images were made before this; they were charged" in (job.error_message or "")


def test_a_transient_error_after_billed_images_fails_with_their_cost_instead_of_retrying(
    engine: Engine, fake: FakeGemini
) -> None:
    """A retry would make (and pay for) every image again while the job kept only the last
    attempt's cost: spend would be understated. The job fails with what was billed, and says
    so; retrying is the user's choice."""
    meta = g.usage(prompt=100, image=1120, text=0, thoughts=0)
    fake.enqueue(g.ok(meta=meta), g.server_error(503))
    job_id = submit(engine, model=PRO, quality="2K", n=3)
    assert run_next(engine) == jobs.FAILED
    job = job_of(engine, job_id)
    assert job.cost_usd == Decimal("0.0002") + Decimal("0.1344") and job.attempts == 1
    assert "Not retried automatically" in (job.error_message or "")
    assert run_next(engine) is None and len(fake.calls) == 2


def test_cancel_between_images_stops_calling(fake: FakeGemini) -> None:
    with pytest.raises(Cancelled, match="after 1 of 3") as caught:
        provider(fake).generate(request(n=3), Recorder(cancel_after=1))
    assert len(fake.calls) == 1
    assert caught.value.usage == {"input_tokens": 270.0, "output_image_tokens": 1120.0,
                                  "output_text_tokens": 0.0}  # the image made was charged


def test_connection_check_uses_the_header_and_maps_errors(fake: FakeGemini) -> None:
    assert PRO in provider(fake).test_connection()
    call = fake.server.history[-1]
    assert call.path == f"/v1beta/models/{PRO}" and call.headers["x-goog-api-key"] == KEY
    with pytest.raises(NeedsKey, match="GEMINI_API_KEY"):
        GeminiProvider(base_url=fake.url, api_key="AIzaWRONGwrong000000").test_connection()


# --------------------------------------------------------------------------- through the engine

FAILS = [  # (id, reply, error_type, what the message must say)
    ("prompt_blocked", g.prompt_blocked(), "safety", "Rephrase"),
    ("image_safety", g.finished("IMAGE_SAFETY"), "safety", "Rephrase"),
    ("image_safety_explained", g.finished("IMAGE_SAFETY", g.BLOCKED_IMAGE), "safety",
     "Google says: \"Unable to show the generated image."),
    ("no_image_explained", g.finished("NO_IMAGE", "The model could not draw this."),
     "bad_response", "Google says: \"The model could not draw this.\""),
    ("recitation", g.finished("RECITATION"), "safety", "copyrighted"),
    ("no_image", g.finished("NO_IMAGE"), "bad_response", "Rephrase"),
    ("max_tokens", g.finished("MAX_TOKENS"), "bad_response", "Shorten"),
    ("text_only", g.text_only(), "bad_response", "text but no image: 'I can't draw that"),
    ("empty", Reply(200, {"responseId": "x"}), "bad_response", "without an image"),
    ("bad_key", g.api_key_invalid(), "needs_key", "Check GEMINI_API_KEY"),
    ("forbidden", g.error(403, "PERMISSION_DENIED", "denied"), "needs_key", "GEMINI_API_KEY"),
    ("bad_argument", g.error(400, "INVALID_ARGUMENT", "Bad thing."), "rejected", "Bad thing."),
    ("region", g.error(400, "FAILED_PRECONDITION", "User location is not supported for the API "
                       "use."), "rejected", "enable billing"),
    ("billing", g.error(400, "FAILED_PRECONDITION", "This model requires billing to be "
                        "enabled."), "quota", "Enable billing"),
    ("not_found", g.error(404, "NOT_FOUND", "gone"), "rejected", "choose one of gemini-3-pro"),
    ("too_large", g.error(413, "", "too big"), "rejected", "fewer or smaller reference"),
    ("daily_quota", g.daily_quota(), "quota", "Try again tomorrow"),
    ("malformed", g.malformed(), "bad_response", "not valid JSON"),
    ("truncated_image", g.truncated_image(), "bad_response", "could not be read"),
    ("echoed_key", g.error(400, "INVALID_ARGUMENT", f"bad key {KEY}"), "rejected", "bad key ***"),
]


@pytest.mark.parametrize(("reply", "error_type", "says"), [f[1:] for f in FAILS],
                         ids=[f[0] for f in FAILS])
def test_a_refusal_fails_the_job_at_once_with_an_actionable_message(
    engine: Engine, fake: FakeGemini, reply: Reply, error_type: str, says: str
) -> None:
    fake.enqueue(reply)
    job_id = submit(engine)
    assert run_next(engine) == jobs.FAILED
    job = job_of(engine, job_id)
    assert (job.error_type, job.attempts) == (error_type, 1)
    assert says in (job.error_message or "")
    assert run_next(engine) is None and len(fake.calls) == 1  # never retried
    assert engine.storage.list_keys("img/") == []


RETRIES = [  # (id, reply, error_type, seconds until the retry, what the message must say)
    ("rate_limited", g.rate_limited("32s"), "rate_limited", 32.0, "rate limiting"),
    ("rate_limited_fraction", g.rate_limited("1.5s"), "rate_limited", 1.5, "rate limiting"),
    ("rate_limited_no_hint", g.rate_limited(None), "rate_limited", 2.0, "rate limiting"),
    ("internal_500", g.server_error(500), "unavailable", 2.0, "HTTP 500 INTERNAL"),
    ("unavailable_503", g.server_error(503), "unavailable", 2.0, "HTTP 503 UNAVAILABLE"),
    ("deadline_504", g.server_error(504), "unavailable", 2.0, "HTTP 504"),
    ("timeout", Reply(200, {}, delay=0.8), "unavailable", 2.0, "did not answer within 0.3 s"),
    ("reset", Reply(reset=True), "unavailable", 2.0, "could not be reached"),
]


@pytest.mark.parametrize(("reply", "error_type", "wait", "says"), [r[1:] for r in RETRIES],
                         ids=[r[0] for r in RETRIES])
def test_a_transient_failure_is_retried_after_the_hint_then_succeeds(
    engine: Engine, fake: FakeGemini, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
    reply: Reply, error_type: str, wait: float, says: str,
) -> None:
    monkeypatch.setenv("PROMPTBOARD_HTTP_TIMEOUT", "0.3")
    fake.enqueue(reply, g.ok())
    job_id = submit(engine)
    assert run_next(engine) == jobs.QUEUED
    job = job_of(engine, job_id)
    assert job.error_type == error_type and says in (job.error_message or "")
    assert (job.next_run_at - clock.now()).total_seconds() == pytest.approx(wait)
    clock.advance(wait)
    assert run_next(engine) == jobs.SUCCEEDED
    assert len(fake.calls) == 2 and job_of(engine, job_id).attempts == 2


def test_a_refused_connection_is_retried_then_gives_up(
    engine: Engine, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_BASE_URL", closed_port_url() + "/v1beta")
    job_id = submit(engine)
    for wait in (2.0, 4.0, 8.0):
        assert run_next(engine) == jobs.QUEUED
        clock.advance(wait)
    assert run_next(engine) == jobs.FAILED
    job = job_of(engine, job_id)
    assert job.error_type == "unavailable" and "could not be reached at http://127.0.0.1" in (
        job.error_message or "") and "gave up after 4 attempts" in (job.error_message or "")


def test_a_ga_model_generates_and_is_priced_by_its_dated_price_rows(
    engine: Engine, fake: FakeGemini
) -> None:
    job_id = submit(engine)  # the default model, gemini-3-pro-image, at 1K
    assert job_of(engine, job_id).model == PRO
    # estimate: ceil(20/4) = 5 prompt tokens x $2/1M (UNVERIFIED) + 1120 image tokens x $120/1M
    # (ai.google.dev pricing) + ~800 thinking tokens x $12/1M (UNVERIFIED), rows of 2026-05-28
    expected_estimate = Decimal("0.00001") + Decimal("0.1344") + Decimal("0.0096")
    assert job_of(engine, job_id).estimated_cost_usd == expected_estimate
    assert run_next(engine) == jobs.SUCCEEDED
    job = job_of(engine, job_id)
    # 270 input tokens x $2/1M + 1120 image tokens x $120/1M (Google: "$0.134 per 1K image")
    assert job.cost_usd == Decimal("0.00054") + Decimal("0.1344") == Decimal("0.13494")
    assert json.loads(job.price_ids or "[]")  # priced from the seeded rows
    assert job.request_id == "resp-gemini-1"
    assert json.loads(job.usage or "{}") == {"input_tokens": 270.0, "output_image_tokens": 1120.0,
                                             "output_text_tokens": 0.0}
    (img,) = engine.db.dicts("SELECT * FROM images WHERE job_id = ?", [job_id])
    assert img["cost_usd"] == job.cost_usd and img["request_id"] == "resp-gemini-1"
    assert (img["width"], img["height"]) == (64, 48) and engine.storage.get(img["original_key"])


def test_a_job_of_three_images_sums_usage_and_splits_cost_exactly(
    engine: Engine, fake: FakeGemini
) -> None:
    meta = g.usage(prompt=100, image=1120, text=0, thoughts=801)
    fake.enqueue(*(g.ok(meta=meta, response_id=f"r{i}") for i in range(3)))
    job_id = submit(engine, model=PRO, quality="2K", n=3)
    assert run_next(engine) == jobs.SUCCEEDED
    job = job_of(engine, job_id)
    # 3 x (100 x $2/1M + 1120 x $120/1M + 801 x $12/1M), the seeded (partly UNVERIFIED) rates
    assert job.cost_usd == 3 * (Decimal("0.0002") + Decimal("0.1344") + Decimal("0.009612"))
    assert job.cost_usd == Decimal("0.432636")
    parts = [r[0] for r in engine.db.fetchall(
        "SELECT cost_usd FROM images WHERE job_id = ? ORDER BY idx", [job_id])]
    assert parts == costs.split(job.cost_usd, 3) and sum(parts) == job.cost_usd
    assert len(fake.calls) == 3 and fake.calls[0].json()["generationConfig"]["imageConfig"] == {
        "aspectRatio": "16:9", "imageSize": "2K"}


def test_a_reference_image_reaches_gemini_inline(engine: Engine, fake: FakeGemini) -> None:
    job_id = submit(engine, reference=png_bytes(30, 20, (255, 0, 0)))
    assert run_next(engine) == jobs.SUCCEEDED
    parts = fake.calls[0].json()["contents"][0]["parts"]
    stored_ref = engine.storage.get(job_of(engine, job_id).reference_key or "")
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": b64(stored_ref)}}


def test_the_key_never_reaches_rows_events_or_logs(
    engine: Engine, fake: FakeGemini, caplog: pytest.LogCaptureFixture
) -> None:
    fake.enqueue(g.error(400, "INVALID_ARGUMENT", f"key {KEY} echoed"), g.api_key_invalid())
    for _ in range(2):
        submit(engine)
        assert run_next(engine) == jobs.FAILED
    assert any("generateContent" in r.getMessage() for r in caplog.records)  # DEBUG was on
    assert_key_never_stored(engine, caplog.text)


# --------------------------------------------------------------------------- lifecycle


@pytest.mark.parametrize(("model", "replacement", "day"), [
    (m, ends.replacement, ends.on.isoformat()) for m, ends in SHUTDOWNS.items()])
def test_a_shut_down_model_is_refused_at_submit_naming_its_replacement_without_a_call(
    engine: Engine, fake: FakeGemini, model: str, replacement: str, day: str
) -> None:
    fake.live = g.ALL_MODELS  # even if Google still answered, we must not call
    with pytest.raises(SubmitError) as refused:
        submit(engine, model=model)
    assert str(refused.value) == (f"Google shut down {model} on {day}; use {replacement} "
                                  "instead.")
    assert replacement in GeminiProvider.caps.models  # the replacement is offered
    assert fake.calls == [] and engine.db.fetchall("SELECT id FROM jobs") == []


def test_the_default_model_is_live_on_the_pinned_clock(
    engine: Engine, fake: FakeGemini, clock: FakeClock
) -> None:
    default = GeminiProvider.caps.default_model
    assert clock.now() == TODAY and default not in SHUTDOWNS
    assert GeminiProvider().shutdown_notice(default, clock.now().date()) is None
    live = engine.models().live("gemini", clock.now().date())  # what the form offers
    assert live and set(live).isdisjoint(SHUTDOWNS)
    assert run_next(engine) is None
    submit(engine)
    assert run_next(engine) == jobs.SUCCEEDED
    assert fake.calls[0].path == f"/v1beta/models/{default}:generateContent"


@pytest.mark.parametrize("clock", [datetime(2026, 6, 24, 23, 0)], indirect=True)
def test_a_model_in_its_shutdown_window_runs_before_the_date_and_is_refused_after(
    engine: Engine, fake: FakeGemini, clock: FakeClock
) -> None:
    fake.live = g.ALL_MODELS  # the API an hour before gemini-3-pro-image-preview ended
    assert run_next(engine) is None
    first = submit(engine, model=PRO_PREVIEW)
    assert run_next(engine) == jobs.SUCCEEDED
    assert fake.calls[-1].path == f"/v1beta/models/{PRO_PREVIEW}:generateContent"
    queued = submit(engine, model=PRO_PREVIEW, prompt="a second lighthouse")
    clock.advance(3600)  # 2026-06-25 00:00: shut down
    assert run_next(engine) == jobs.FAILED  # queued before the date, run after: no call
    job = job_of(engine, queued)
    assert job.error_type == "rejected" and "use gemini-3-pro-image instead" in (
        job.error_message or "")
    with pytest.raises(SubmitError, match="Google shut down gemini-3-pro-image-preview on "
                                          "2026-06-25; use gemini-3-pro-image instead"):
        submit(engine, model=PRO_PREVIEW, prompt="a third lighthouse")
    assert len(fake.calls) == 1 and job_of(engine, first).status == jobs.SUCCEEDED


@pytest.mark.parametrize("clock", [datetime(2026, 9, 1, 12, 0)], indirect=True)
def test_images_of_a_shut_down_model_still_show_in_the_gallery_and_analytics(
    engine: Engine, fake: FakeGemini, clock: FakeClock
) -> None:
    fake.live = g.ALL_MODELS  # gemini-2.5-flash-image still ran on 2026-09-01
    fake.enqueue(g.ok(meta=g.usage(prompt=270, image=1290), model=OLD))
    job_id = submit(engine, model=OLD)
    assert run_next(engine) == jobs.SUCCEEDED
    clock.advance((TODAY - clock.now()).total_seconds())  # past its shutdown on 2026-10-02
    with pytest.raises(SubmitError, match="use gemini-3.1-flash-image"):
        submit(engine, model=OLD)
    viewer = gallery.Viewer("ann", "member")
    page = gallery.search(engine.db, viewer, gallery.GalleryFilter(models=(OLD,)))
    assert [card.model for card in page.rows] == [OLD]
    detail = gallery.get_image(engine.db, viewer, page.rows[0].id)
    assert detail is not None and engine.storage.get(detail.original_key)
    # 270 x $0.30/1M + 1290 x $30/1M: the 2.5 Flash Image rows of 2025-08-26 still price it
    assert job_of(engine, job_id).cost_usd == Decimal("0.038781")
    by_model = analytics.cost_per_image_by_model(
        engine.db, viewer, analytics.Filters(date(2026, 9, 1), TODAY_DATE))
    assert OLD in set(by_model["model"])


@pytest.mark.parametrize("clock", [datetime(2026, 6, 24, 23, 0)], indirect=True)
def test_a_404_for_a_model_google_already_retired_names_its_replacement(
    engine: Engine, fake: FakeGemini
) -> None:
    job_id = submit(engine, model=PRO_PREVIEW)  # our date says live; the fake has retired it
    assert run_next(engine) == jobs.FAILED
    job = job_of(engine, job_id)
    assert job.error_type == "rejected" and "use gemini-3-pro-image." in (job.error_message or "")
    assert len(fake.calls) == 1
