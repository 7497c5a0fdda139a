"""Stability AI v2beta against a fake API on 127.0.0.1, through the real job engine."""

from __future__ import annotations

import base64
import io
import json
import logging
import socket
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from PIL import Image

from lib import jobs
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.providers.base import Cancelled, GenerationRequest, NeedsKey, Rejected
from lib.providers.stability import StabilityProvider
from tests.fakes.server import Reply
from tests.fakes.stability import (
    GENERATE,
    FakeStability,
    error,
    image_reply,
    json_reply,
    png_bytes,
)
from tests.helpers import MemoryContext, run_next
from tests.providers.engines import provider_engine

KEY = "sk-stability-SECRET-0123456789"


@pytest.fixture(scope="module")
def shared_fake() -> Iterator[FakeStability]:
    server = FakeStability(key=KEY)  # one server per module: closing one takes 0.5 s
    yield server
    server.close()


@pytest.fixture
def fake(shared_fake: FakeStability) -> FakeStability:
    shared_fake.reset()
    return shared_fake


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(fake: FakeStability, clock: FakeClock,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    yield from provider_engine(
        monkeypatch, {"STABILITY_API_KEY": KEY, "STABILITY_BASE_URL": fake.base_url,
                      "PROMPTBOARD_HTTP_TIMEOUT": "0.5"}, clock)


def provider(fake: FakeStability, key: str = KEY) -> StabilityProvider:
    return StabilityProvider(base_url=fake.base_url, api_key=key, timeout=5)


def submit(engine: Engine, **kw: Any) -> str:
    kw.setdefault("prompt", "a lighthouse at dusk")
    return jobs.submit(engine, "ann", jobs.JobSpec(provider="stability", **kw))


def job(engine: Engine, job_id: str) -> jobs.Job:
    found = jobs.get(engine, job_id)
    assert found is not None
    return found


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v2beta"


# --------------------------------------------------------------------------- request side


def test_every_call_is_multipart_with_a_bearer_key_and_no_key_in_the_url(
    fake: FakeStability,
) -> None:
    provider(fake).generate(GenerationRequest(prompt="a fox", model="core",
                                              style_preset="anime", negative_prompt="blur"))
    endpoint, form, req = fake.calls[0]
    assert endpoint == "core"
    assert req.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert req.headers["authorization"] == f"Bearer {KEY}" and req.headers["accept"] == "image/*"
    assert KEY not in req.path and not req.query
    assert form.files == {"none": b""}  # forced multipart for a text-only call
    assert form.fields == {"prompt": "a fox", "negative_prompt": "blur", "style_preset": "anime",
                           "aspect_ratio": "1:1", "output_format": "png", "seed": "0"}


def test_sd3_models_go_to_the_sd3_endpoint_with_model_cfg_and_a_derived_aspect(
    fake: FakeStability,
) -> None:
    result = provider(fake).generate(GenerationRequest(
        prompt="a fox", model="sd3.5-large-turbo", width=1344, height=768, n=2, seed=41,
        extra={"cfg_scale": 4.5}))
    assert [c[0] for c in fake.calls] == ["sd3", "sd3"]
    fields = fake.calls[0][1].fields
    assert fields["model"] == "sd3.5-large-turbo" and fields["mode"] == "text-to-image"
    assert fields["cfg_scale"] == "4.5" and fields["aspect_ratio"] == "16:9"
    assert [c[1].fields["seed"] for c in fake.calls] == ["41", "42"]
    assert [i.seed for i in result.images] == [41, 42] and result.usage == {"images": 2.0}
    assert result.request_id == "req-1,req-2"


def test_sd3_image_to_image_sends_image_and_strength_and_omits_the_aspect(
    fake: FakeStability,
) -> None:
    ref = png_bytes(32, 32)
    provider(fake).generate(GenerationRequest(prompt="a fox", model="sd3.5-medium",
                                              aspect_ratio="16:9", reference_images=(ref,)))
    form = fake.calls[0][1]
    assert form.files == {"image": ref}
    assert form.fields["mode"] == "image-to-image" and form.fields["strength"] == "0.6"
    assert "aspect_ratio" not in form.fields


def test_ultra_takes_a_reference_and_core_refuses_one(fake: FakeStability) -> None:
    ref = png_bytes(32, 32)
    provider(fake).generate(GenerationRequest(prompt="a fox", model="ultra",
                                              reference_images=(ref,), extra={"strength": 0.3}))
    assert fake.calls[0][0] == "ultra" and fake.calls[0][1].files == {"image": ref}
    assert fake.calls[0][1].fields["strength"] == "0.3"
    with pytest.raises(Rejected, match="Core takes no reference image"):
        provider(fake).generate(GenerationRequest(prompt="x", model="core",
                                                  reference_images=(ref,)))
    assert StabilityProvider.model_caps("core").max_reference_images == 0
    assert StabilityProvider.model_caps("sd3.5-large").style_presets == ()


@pytest.mark.parametrize(("kw", "fragment"), [
    ({"seed": 4_294_967_295}, "seed is between 0"),
    ({"aspect_ratio": "7:3"}, "aspect ratios"),
    ({"model": "sd3-medium", "style_preset": "anime"}, "takes no style preset"),
    ({"style_preset": "vaporwave"}, "Unknown Stability style preset"),
    ({"model": "sd3-medium", "extra": {"cfg_scale": 11}}, "cfg_scale must be"),
    ({"model": "sdxl-1.0"}, "has no model"),
])
def test_bad_requests_are_refused_before_any_call(
    fake: FakeStability, kw: dict[str, Any], fragment: str
) -> None:
    kw.setdefault("model", "core")
    with pytest.raises(Rejected, match=fragment):
        provider(fake).generate(GenerationRequest(prompt="a fox", **kw))
    assert fake.server.history == []


def test_json_responses_are_read_as_well_as_raw_bytes(fake: FakeStability) -> None:
    p = provider(fake)
    p.response_format = "json"
    result = p.generate(GenerationRequest(prompt="a fox", model="core", seed=9))
    assert fake.calls[0][2].headers["accept"] == "application/json"
    assert result.images[0].data.startswith(b"\x89PNG") and result.images[0].seed == 9


def test_the_connection_check_spends_nothing_and_names_a_bad_key(fake: FakeStability) -> None:
    assert "accepted the API key" in provider(fake).test_connection()
    assert fake.calls == []  # the check was refused before generating: no credits used
    with pytest.raises(NeedsKey, match="STABILITY_API_KEY"):
        provider(fake, key="sk-wrong").test_connection()


# --------------------------------------------------------------------------- through the engine


def test_a_job_stores_its_images_with_cost_seed_and_request_ids(engine: Engine) -> None:
    job_id = submit(engine, model="sd3.5-large", n=2, aspect_ratio="3:2")
    assert run_next(engine) == jobs.SUCCEEDED
    done = job(engine, job_id)
    assert done.cost_usd == Decimal("0.13")  # 2 images x 6.5 credits x $0.01
    assert done.request_id == "req-1,req-2" and done.seed == 1001
    rows = engine.db.dicts("SELECT * FROM images WHERE job_id = ? ORDER BY idx", [job_id])
    assert [r["seed"] for r in rows] == [1001, 1002]
    assert [r["cost_usd"] for r in rows] == [Decimal("0.065"), Decimal("0.065")]
    for r in rows:
        assert Image.open(io.BytesIO(engine.storage.get(r["original_key"]))).size == (96, 64)


def test_a_json_job_records_the_seed_from_the_body(engine: Engine, fake: FakeStability) -> None:
    fake.server.script(GENERATE, json_reply(base64.b64encode(png_bytes()).decode(), seed=555))
    job_id = submit(engine, model="ultra", params={"response_format": "json"})
    assert run_next(engine) == jobs.SUCCEEDED
    done = job(engine, job_id)
    assert done.seed == 555 and done.cost_usd == Decimal("0.08")
    assert done.request_id == "req-json"


def test_a_reference_image_job_sends_the_stored_png(engine: Engine, fake: FakeStability) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (80, 60), (255, 0, 0)).save(buf, "JPEG")
    submit(engine, model="sd3.5-large", reference=buf.getvalue(), params={"strength": 0.5})
    assert run_next(engine) == jobs.SUCCEEDED
    form = fake.calls[0][1]
    sent = Image.open(io.BytesIO(form.files["image"]))
    assert sent.format == "PNG" and sent.size == (80, 60) and form.fields["strength"] == "0.5"


REFUSALS = [
    (error(400, "bad_request", "prompt: must be at most 10000 characters"), "rejected",
     "at most 10000 characters"),
    (error(401, "unauthorized", "authorization: invalid"), "needs_key", "STABILITY_API_KEY"),
    (error(402, "payment_required", "out of credits"), "quota", "platform.stability.ai"),
    (error(400, "payment_required", "lacks credits"), "quota", "out of credits"),
    (error(403, "content_moderation", "Your request was flagged"), "safety", "flagged"),
    (error(413, "payload_too_large", "body over 10MiB"), "rejected", "smaller reference image"),
    (error(422, "invalid_language", "English is the only supported language"), "rejected",
     "English is the only"),
    (image_reply(finish="CONTENT_FILTERED"), "safety", "did not keep it"),
    (Reply(200, b"", {"Content-Type": "image/png", "finish-reason": "SUCCESS"}), "bad_response",
     "without an image"),
    (image_reply(png_bytes(200, 200)[:300]), "bad_response", "could not be read"),
]


@pytest.mark.parametrize(("reply", "error_type", "fragment"), REFUSALS,
                         ids=[f"{r[0].status}-{r[1]}-{i}" for i, r in enumerate(REFUSALS)])
def test_refusals_and_unusable_answers_fail_at_once_with_a_clear_message(
    engine: Engine, fake: FakeStability, reply: Reply, error_type: str, fragment: str
) -> None:
    fake.server.script(GENERATE, reply)
    job_id = submit(engine)
    assert run_next(engine) == jobs.FAILED
    failed = job(engine, job_id)
    assert failed.error_type == error_type and fragment in (failed.error_message or "")
    assert len(fake.server.history) == 1 and failed.attempts == 1
    assert engine.db.scalar("SELECT count(*) FROM images") == 0


def test_a_filtered_image_is_a_safety_failure_that_records_what_was_billed(
    engine: Engine, fake: FakeStability
) -> None:
    """CONTENT_FILTERED is a 200: Stability generated (and charged for) the image, then sent it
    blurred (providers.md §3). The job fails as a safety refusal and keeps the cost of every
    call made, here the first (kept-back) image and the filtered one: 2 x 6.5 credits."""
    fake.server.script(GENERATE, image_reply(request_id="req-a"),
                       image_reply(finish="CONTENT_FILTERED", request_id="req-b"))
    job_id = submit(engine, model="sd3.5-large", n=3)
    assert run_next(engine) == jobs.FAILED
    failed = job(engine, job_id)
    assert failed.error_type == "safety" and len(fake.server.history) == 2
    assert json.loads(failed.usage or "{}") == {"images": 2.0}
    assert failed.cost_usd == Decimal("0.13")  # 2 x 6.5 credits x $0.01, sd3.5-large
    assert "2 images" in (failed.error_message or "") and "charged" in failed.error_message
    assert engine.db.scalar("SELECT count(*) FROM images") == 0


def test_an_error_after_some_images_records_them_and_is_not_rerun(
    engine: Engine, fake: FakeStability
) -> None:
    """A 500 on image 2 of 2: image 1 was charged. Rerunning would pay for it again while the
    job kept one attempt's cost, so the job fails with image 1's cost (found in review)."""
    fake.server.script(GENERATE, image_reply(request_id="req-a"), error(500, "internal", "x"))
    job_id = submit(engine, model="sd3.5-large", n=2)
    assert run_next(engine) == jobs.FAILED
    failed = job(engine, job_id)
    assert failed.cost_usd == Decimal("0.065") and failed.error_type == "unavailable"
    assert "charged for the image made before this" in (failed.error_message or "")
    assert run_next(engine) is None and len(fake.server.history) == 2


def test_a_cancel_between_images_records_the_images_already_billed(
    engine: Engine, fake: FakeStability
) -> None:
    class CancelAfterFirst(MemoryContext):
        def report_progress(self, fraction: float, note: str | None = None) -> None:
            self.seen = fraction

        def cancel_requested(self) -> bool:
            return hasattr(self, "seen")

    with pytest.raises(Cancelled) as caught:
        provider(fake).generate(GenerationRequest(prompt="a fox", model="ultra", n=3),
                                CancelAfterFirst())
    assert caught.value.usage == {"images": 1.0}


def test_malformed_json_is_a_bad_response(engine: Engine, fake: FakeStability) -> None:
    fake.server.script(GENERATE, Reply(200, "{not json", {"Content-Type": "application/json"}))
    job_id = submit(engine, params={"response_format": "json"})
    assert run_next(engine) == jobs.FAILED
    assert job(engine, job_id).error_type == "bad_response"


TRANSIENT = [
    (error(429, "rate_limited", "too many"), 60.0, "rate_limited", "rate limiting"),
    (error(429, "rate_limited", "x", headers={"Retry-After": "7"}), 7.0, "rate_limited", "150"),
    (error(500, "internal_error", "oops"), 2.0, "unavailable", "HTTP 500"),
    (error(503, "unavailable", "busy"), 2.0, "unavailable", "HTTP 503"),
    (Reply(200, png_bytes(), delay=1.0), 2.0, "unavailable", "did not answer within 0.5 s"),
    (Reply(reset=True), 2.0, "unavailable", "could not be reached"),
    (Reply(200, png_bytes(), {"Content-Type": "image/png"}, truncate=40), 2.0, "unavailable",
     "cut off"),
]


@pytest.mark.parametrize(("reply", "wait", "error_type", "fragment"), TRANSIENT,
                         ids=["429", "429-retry-after", "500", "503", "timeout", "reset",
                              "truncated-body"])
def test_transient_failures_are_retried_after_the_right_wait(
    engine: Engine, fake: FakeStability, clock: FakeClock, reply: Reply, wait: float,
    error_type: str, fragment: str,
) -> None:
    fake.server.script(GENERATE, reply)
    job_id = submit(engine)
    assert run_next(engine) == jobs.QUEUED
    queued = job(engine, job_id)
    assert queued.error_type == error_type and fragment in (queued.error_message or "")
    assert (queued.next_run_at - clock.now()).total_seconds() == pytest.approx(wait)
    clock.advance(wait)
    assert run_next(engine) == jobs.SUCCEEDED
    assert len(fake.server.requests_to("POST", r"/v2beta/stable-image/generate/core")) == 2


def test_a_server_that_is_not_there_is_retried(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STABILITY_BASE_URL", closed_port_url())
    job_id = submit(engine)
    assert run_next(engine) == jobs.QUEUED
    assert "could not be reached" in (job(engine, job_id).error_message or "")


def test_the_key_never_reaches_rows_events_or_logs(
    engine: Engine, fake: FakeStability, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.server.script(GENERATE, error(401, "unauthorized", f"bad key {KEY}"))
    ids = [submit(engine)]
    assert run_next(engine) == jobs.FAILED
    ids.append(submit(engine, prompt="second"))
    assert run_next(engine) == jobs.SUCCEEDED
    dump = repr([engine.db.fetchall(f"SELECT * FROM {t}")
                 for t in ("jobs", "job_events", "images")])
    assert ids[0] in dump and KEY not in dump and KEY not in caplog.text
    assert "***" in (job(engine, ids[0]).error_message or "")  # echoed key was redacted


def test_a_cancel_between_images_stops_before_the_next_paid_call(fake: FakeStability) -> None:
    class CancelAfterFirst(MemoryContext):
        def __init__(self) -> None:
            super().__init__()
            self.progress: list[tuple[float, str | None]] = []

        def report_progress(self, fraction: float, note: str | None = None) -> None:
            self.progress.append((fraction, note))

        def cancel_requested(self) -> bool:
            return bool(self.progress)

    ctx = CancelAfterFirst()
    with pytest.raises(Cancelled, match="after 1 of 3 images"):
        provider(fake).generate(GenerationRequest(prompt="a fox", model="core", n=3), ctx)
    assert len(fake.calls) == 1 and ctx.progress == [(0.0, "image 1 of 3")]


# --------------------------------------------------------------------------- redaction by value

ODD_KEY = "stab-TOKEN-SECRET-456"  # no key-shape pattern matches it (a gateway's token)


@pytest.mark.parametrize("reply", [
    error(422, "bad_request", f"request was sent with Authorization: Bearer {ODD_KEY}"),
    error(401, "unauthorized", f"key {ODD_KEY} is not valid"),
    error(500, "internal", f"upstream saw {ODD_KEY}"),
    Reply(400, f"<html>Bearer {ODD_KEY}</html>", {"Content-Type": "text/html"}),
], ids=["422-json", "401-json", "500-json", "400-not-json"])
def test_an_echoed_key_of_any_shape_is_redacted_by_its_value(
    fake: FakeStability, reply: Reply
) -> None:
    fake.server.script(GENERATE, reply)
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the type varies by status
        provider(fake, key=ODD_KEY).generate(GenerationRequest(prompt="a fox", model="core"))
    text = str(caught.value)
    assert ODD_KEY not in text and "***" in text


@pytest.mark.parametrize(("body", "limit"), [
    ("json", 500), ("text", 300),
])
def test_a_key_cut_at_the_clip_boundary_does_not_leak_in_part(
    fake: FakeStability, body: str, limit: int
) -> None:
    padding = "x" * (limit - 8)  # the key starts a few characters before the cut
    if body == "json":
        fake.server.script(GENERATE, error(422, "bad_request", f"{padding} {ODD_KEY}"))
    else:
        fake.server.script(GENERATE, Reply(422, f"{padding} {ODD_KEY}"))
    with pytest.raises(Rejected) as caught:
        provider(fake, key=ODD_KEY).generate(GenerationRequest(prompt="a fox", model="core"))
    assert ODD_KEY[:6] not in str(caught.value)
