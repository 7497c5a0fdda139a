"""Black Forest Labs (FLUX.2) against a fake of its API: submit, poll, download, resume, errors,
cost per megapixel, and the key kept to BFL's own hosts."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from PIL import Image

from lib import jobs
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.money import reported
from lib.providers import registry
from lib.providers.base import GenerationRequest, Rejected
from lib.providers.bfl import BFLProvider, usage_for
from tests.fakes.bfl import KEY, POLL, SUBMIT, FakeBFL, Task
from tests.fakes.server import Reply
from tests.helpers import run_next
from tests.providers.engines import provider_engine


@pytest.fixture(scope="module")
def shared() -> Iterator[FakeBFL]:
    fake = FakeBFL()
    yield fake
    fake.close()


@pytest.fixture
def fake(shared: FakeBFL) -> FakeBFL:
    shared.reset()
    return shared


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 12, 7, 9, 0))


@pytest.fixture
def engine(fake: FakeBFL, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
           caplog: pytest.LogCaptureFixture) -> Iterator[Engine]:
    def factory(provider_id: str) -> Any:
        p = registry.create(provider_id)
        if isinstance(p, BFLProvider):
            p.poll_interval = 0.0
        return p

    yield from provider_engine(monkeypatch, {**fake.env(), "PROMPTBOARD_HTTP_TIMEOUT": "2"},
                               clock, secret=KEY, log=lambda: caplog.text,
                               provider_factory=factory)


def submit(engine: Engine, **kw: Any) -> str:
    kw.setdefault("prompt", "a lighthouse at dusk")
    kw.setdefault("width", 1024)
    kw.setdefault("height", 1024)
    return jobs.submit(engine, "ann", jobs.JobSpec(provider="bfl", **kw))


def job(engine: Engine, job_id: str) -> jobs.Job:
    found = jobs.get(engine, job_id)
    assert found is not None
    return found


def test_a_job_submits_polls_downloads_and_is_priced_per_megapixel(
    engine: Engine, fake: FakeBFL
) -> None:
    job_id = submit(engine, width=1536, height=1024, seed=7)
    assert run_next(engine) == jobs.SUCCEEDED
    sent = fake.submits()[0]
    assert sent.path == "/v1/flux-2-pro" and sent.headers["x-key"] == KEY
    assert sent.json() == {"prompt": "a lighthouse at dusk", "width": 1536, "height": 1024,
                           "output_format": "png", "seed": 7}
    polls = fake.server.requests_to("GET", "/v1/get_result")
    assert len(polls) == 2 and all(p.headers["x-key"] == KEY for p in polls)
    assert fake.delivery_keys == [None]  # the key never goes to the delivery host
    done = job(engine, job_id)
    # 1536x1024 = 1.5 MP: the first at 3 credits, the half further at 1.5 credits per MP
    assert json.loads(done.usage or "{}") == {"images": 1.0, "extra_megapixels": 0.5}
    assert done.cost_usd == Decimal("0.03") + Decimal("0.0075")
    assert done.request_id == "task-0001"


def test_several_images_are_one_task_each_with_consecutive_seeds(
    engine: Engine, fake: FakeBFL
) -> None:
    job_id = submit(engine, n=3, seed=100, model="flux-2-klein-4b")
    assert run_next(engine) == jobs.SUCCEEDED
    assert [s.json()["seed"] for s in fake.submits()] == [100, 101, 102]
    assert [s.path for s in fake.submits()] == ["/v1/flux-2-klein-4b"] * 3
    done = job(engine, job_id)
    assert done.cost_usd == 3 * Decimal("0.014")  # 1024x1024 is exactly one megapixel
    assert engine.db.scalar("SELECT count(*) FROM images WHERE job_id = ?", [job_id]) == 3


def test_a_poll_that_fails_is_retried_and_resumes_the_same_task(
    engine: Engine, fake: FakeBFL
) -> None:
    fake.server.script(POLL, Reply(503, {"detail": "busy"}))
    job_id = submit(engine)
    assert run_next(engine) == jobs.QUEUED
    assert job(engine, job_id).error_type == "unavailable"
    engine.clock.advance(60)  # type: ignore[attr-defined]
    assert run_next(engine) == jobs.SUCCEEDED
    assert len(fake.submits()) == 1  # resumed: never paid twice


@pytest.mark.parametrize(("plan", "details", "error_type", "says"), [
    (["Pending", "Content Moderated"], {"moderation": ["Derivative"]}, "safety",
     "moderation stopped this (Content Moderated)"),
    (["Request Moderated"], None, "safety", "Nothing was charged"),
    (["Error"], "GPU worker lost", "bad_response", "failed task task-0001: GPU worker lost"),
    (["Pending", "Exploded"], None, "bad_response", "unknown status 'Exploded'"),
], ids=["content-moderated", "request-moderated", "error", "unknown"])
def test_a_task_that_ends_badly_fails_at_once_and_costs_nothing(
    engine: Engine, fake: FakeBFL, plan: list[str], details: Any, error_type: str, says: str
) -> None:
    fake.plan, fake.details = plan, details
    job_id = submit(engine)
    assert run_next(engine) == jobs.FAILED
    failed = job(engine, job_id)
    assert failed.error_type == error_type and says in (failed.error_message or "")
    assert failed.cost_usd is None and failed.usage is None
    assert run_next(engine) is None and len(fake.submits()) == 1


@pytest.mark.parametrize(("reply", "status", "error_type", "says"), [
    (Reply(402, {"detail": "Insufficient credits"}), jobs.FAILED, "quota", "out of credits"),
    (Reply(403, {"detail": "Invalid key"}), jobs.FAILED, "needs_key", "BFL_API_KEY"),
    (Reply(422, {"detail": [{"msg": "width must be a multiple of 32"}]}), jobs.FAILED,
     "rejected", "width must be a multiple of 32"),
    (Reply(429, {"detail": "Too many active tasks"}, {"Retry-After": "5"}), jobs.QUEUED,
     "rate_limited", "too many active tasks"),
    (Reply(500, {"detail": "oops"}), jobs.QUEUED, "unavailable", "HTTP 500"),
], ids=["402", "403", "422", "429", "500"])
def test_a_refused_submit(engine: Engine, fake: FakeBFL, reply: Reply, status: str,
                          error_type: str, says: str) -> None:
    fake.server.script(SUBMIT, reply)
    job_id = submit(engine)
    assert run_next(engine) == status
    ended = job(engine, job_id)
    assert ended.error_type == error_type and says in (ended.error_message or "")


def test_a_polling_url_on_another_host_is_not_followed(engine: Engine, fake: FakeBFL) -> None:
    fake.polling_host = fake.delivery.url  # another origin, and not https on bfl.ai
    job_id = submit(engine)
    assert run_next(engine) == jobs.FAILED
    assert "polling URL on another host" in (job(engine, job_id).error_message or "")
    assert fake.delivery.history == []  # the key never went there


def test_a_reference_image_is_sent_and_its_megapixels_are_charged(
    engine: Engine, fake: FakeBFL
) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (1024, 512), (200, 10, 10)).save(buf, "PNG")
    job_id = submit(engine, reference=buf.getvalue())
    assert run_next(engine) == jobs.SUCCEEDED
    sent = Image.open(io.BytesIO(base64.b64decode(fake.submits()[0].json()["input_image"])))
    assert sent.size == (1024, 512)
    # the output's one megapixel, and half a megapixel of input at 1.5 credits per MP
    assert job(engine, job_id).cost_usd == Decimal("0.03") + Decimal("0.0075")


def test_sizes_outside_bfl_s_rules_are_refused_before_any_call(fake: FakeBFL) -> None:
    provider = BFLProvider(base_url=fake.base_url, api_key=KEY)
    for w, h in ((1000, 1000), (2080, 1024), (224, 1024)):
        with pytest.raises(Rejected, match="steps of 32"):
            provider.generate(GenerationRequest("a fox", "flux-2-pro", width=w, height=h))
    assert fake.server.history == []


def test_the_estimate_uses_the_same_megapixels() -> None:
    req = GenerationRequest("a fox", "flux-2-max", width=2048, height=2048, n=2)
    assert usage_for(req, 2) == {"images": 2.0, "extra_megapixels": 6.0}  # (4 - 1) MP each


def test_the_connection_check_reads_the_credits(fake: FakeBFL) -> None:
    assert "1234.5 credits left" in BFLProvider(base_url=fake.base_url,
                                                api_key=KEY).test_connection()


def test_bfl_s_own_cost_is_recorded_beside_the_computed_one(
    engine: Engine, fake: FakeBFL
) -> None:
    job_id = submit(engine, width=1536, height=1024)
    assert run_next(engine) == jobs.SUCCEEDED
    done = job(engine, job_id)
    # the submit reply said 3.75 credits; a credit is $0.01; the computed cost agrees
    assert done.provider_cost_usd == Decimal("0.0375") == done.cost_usd
    assert reported.mismatches(engine.db) == [] and reported.compared(engine.db) == 1


def test_a_provider_figure_that_differs_is_shown_not_chosen(
    engine: Engine, fake: FakeBFL
) -> None:
    fake.server.script(SUBMIT, Reply(200, {
        "id": "task-x", "polling_url": f"{fake.base_url}/v1/get_result?id=task-0001",
        "cost": 5.0}))
    fake.tasks["task-0001"] = Task("task-0001", "flux-2-pro", {"prompt": "p"}, ["Ready"])
    job_id = submit(engine)
    assert run_next(engine) == jobs.SUCCEEDED
    done = job(engine, job_id)
    assert (done.cost_usd, done.provider_cost_usd) == (Decimal("0.03"), Decimal("0.05"))
    [found] = reported.mismatches(engine.db)
    assert (found.job_id, found.difference) == (job_id, Decimal("0.02"))


def test_a_resumed_task_keeps_the_cost_its_submit_reported(
    engine: Engine, fake: FakeBFL
) -> None:
    fake.server.script(POLL, Reply(503, {"detail": "busy"}))
    job_id = submit(engine)
    assert run_next(engine) == jobs.QUEUED
    engine.clock.advance(60)  # type: ignore[attr-defined]
    assert run_next(engine) == jobs.SUCCEEDED
    assert job(engine, job_id).provider_cost_usd == Decimal("0.03")


# --------------------------------------------------------------------------- found in review


def test_a_refusal_of_a_later_submit_records_the_images_already_charged(
    engine: Engine, fake: FakeBFL
) -> None:
    fake.server.script(SUBMIT, Reply(200, {"id": "task-0001", "polling_url":
                                           f"{fake.base_url}/v1/get_result?id=task-0001"}),
                       Reply(402, {"detail": "Insufficient credits"}))
    fake.tasks["task-0001"] = Task("task-0001", "flux-2-pro", {"prompt": "p"}, ["Ready"])
    job_id = submit(engine, n=2)
    assert run_next(engine) == jobs.FAILED
    failed = job(engine, job_id)
    assert failed.error_type == "quota" and failed.cost_usd == Decimal("0.03")
    assert "1 of 2 images were made before this" in (failed.error_message or "")


def test_a_poll_failing_on_a_later_image_resumes_without_paying_twice(
    engine: Engine, fake: FakeBFL
) -> None:
    fake.plan = ["Ready"]
    fake.server.script(POLL, Reply(200, {"id": "task-0001", "status": "Ready", "result": {
        "sample": f"{fake.delivery.url}/results/task-0001/sample.png"}}),
        Reply(503, {"detail": "busy"}))
    job_id = submit(engine, n=2)
    assert run_next(engine) == jobs.QUEUED  # resumable: retried, not failed
    engine.clock.advance(60)  # type: ignore[attr-defined]
    assert run_next(engine) == jobs.SUCCEEDED
    done = job(engine, job_id)
    assert len(fake.submits()) == 2 and done.cost_usd == Decimal("0.06")


def test_a_redirect_never_carries_the_key_to_another_host(engine: Engine, fake: FakeBFL) -> None:
    fake.server.script(SUBMIT, Reply(302, b"", {
        "Location": f"{fake.delivery.url}/results/stolen/sample.png"}))
    job_id = submit(engine)
    assert run_next(engine) == jobs.FAILED
    assert job(engine, job_id).error_type == "bad_response"
    assert fake.delivery.history == []


@pytest.mark.parametrize("polling", ["https://delivery-eu1.bfl.ai/results/x.png",
                                     "https://x.bfl.ai:abc/v1/get_result", "https://[::1/x"])
def test_polling_urls_off_bfl_s_api_hosts_fail_cleanly(
    engine: Engine, fake: FakeBFL, polling: str
) -> None:
    fake.server.script(SUBMIT, Reply(200, {"id": "task-x", "polling_url": polling}))
    job_id = submit(engine)
    assert run_next(engine) == jobs.FAILED
    assert "polling URL on another host" in (job(engine, job_id).error_message or "")
