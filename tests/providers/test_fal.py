"""fal.ai against a fake of its queue: submit, status, result, cancel, resume, errors, cost
per megapixel, fal's own billable units, and the key kept to the queue's origin."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from lib import jobs
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.money import reported
from lib.providers import registry
from lib.providers.base import Cancelled, GenerationRequest, Rejected
from lib.providers.fal import FalProvider, megapixels
from tests.fakes.fal import KEY, RESULT, STATUS, SUBMIT, FakeFal
from tests.fakes.server import Reply
from tests.helpers import run_next, wait_until
from tests.providers.engines import provider_engine


@pytest.fixture(scope="module")
def shared() -> Iterator[FakeFal]:
    fake = FakeFal()
    yield fake
    fake.close()


@pytest.fixture
def fake(shared: FakeFal) -> FakeFal:
    shared.reset()
    return shared


@pytest.fixture
def engine(fake: FakeFal, monkeypatch: pytest.MonkeyPatch,
           caplog: pytest.LogCaptureFixture) -> Iterator[Engine]:
    def factory(provider_id: str) -> Any:
        p = registry.create(provider_id)
        if isinstance(p, FalProvider):
            p.poll_interval = 0.0
        return p

    yield from provider_engine(monkeypatch, {**fake.env(), "PROMPTBOARD_HTTP_TIMEOUT": "2"},
                               FakeClock(datetime(2026, 12, 7, 9, 0)), secret=KEY,
                               log=lambda: caplog.text, provider_factory=factory)


def submit(engine: Engine, **kw: Any) -> str:
    kw.setdefault("prompt", "a lighthouse at dusk")
    kw.setdefault("width", 1024)
    kw.setdefault("height", 768)
    return jobs.submit(engine, "ann", jobs.JobSpec(provider="fal", **kw))


def job(engine: Engine, job_id: str) -> jobs.Job:
    found = jobs.get(engine, job_id)
    assert found is not None
    return found


def test_a_job_queues_polls_fetches_and_downloads(engine: Engine, fake: FakeFal) -> None:
    job_id = submit(engine, n=2, seed=9, model="fal-ai/flux/dev")
    assert run_next(engine) == jobs.SUCCEEDED
    sent = fake.submits()[0]
    assert sent.path == "/fal-ai/flux/dev" and sent.headers["authorization"] == f"Key {KEY}"
    assert sent.json() == {"prompt": "a lighthouse at dusk", "num_images": 2, "seed": 9,
                           "output_format": "png", "enable_safety_checker": True,
                           "image_size": {"width": 1024, "height": 768}}
    assert len(fake.server.requests_to("GET", r".*/status")) == 3
    assert fake.cdn_auth == [None, None]  # the key never goes to the CDN
    done = job(engine, job_id)
    # 1024x768 is 0.75 MP, billed as a whole one: 2 images x 1 MP x $0.025
    assert json.loads(done.usage or "{}") == {"megapixels": 2.0}
    assert done.cost_usd == Decimal("0.05") == done.provider_cost_usd
    assert done.seed == 9 and done.request_id == "req-0001"
    assert engine.db.scalar("SELECT count(*) FROM images WHERE job_id = ?", [job_id]) == 2


def test_megapixels_round_up_per_image() -> None:
    assert [megapixels(*s) for s in ((512, 512), (1024, 1024), (1025, 1024), (2048, 2048))] \
        == [1, 1, 2, 4]


def test_fal_s_billable_units_that_differ_are_shown(engine: Engine, fake: FakeFal) -> None:
    fake.billable = "3"  # fal says three units where we count one megapixel
    job_id = submit(engine)
    assert run_next(engine) == jobs.SUCCEEDED
    done = job(engine, job_id)
    assert (done.cost_usd, done.provider_cost_usd) == (Decimal("0.003"), Decimal("0.009"))
    assert [m.job_id for m in reported.mismatches(engine.db)] == [job_id]


def test_a_failed_status_poll_is_retried_and_resumes_the_same_request(
    engine: Engine, fake: FakeFal
) -> None:
    fake.server.script(STATUS, Reply(503, {"detail": "busy"}))
    job_id = submit(engine)
    assert run_next(engine) == jobs.QUEUED
    engine.clock.advance(60)  # type: ignore[attr-defined]
    assert run_next(engine) == jobs.SUCCEEDED
    assert len(fake.submits()) == 1 and job(engine, job_id).attempts == 2


@pytest.mark.parametrize(("route", "reply", "error_type", "says"), [
    (RESULT, Reply(422, {"detail": [{"loc": ["body", "prompt"], "type":
                                     "content_policy_violation", "msg": "The content was "
                                     "flagged by a content checker."}]}), "safety", "flagged"),
    (SUBMIT, Reply(401, {"detail": "Invalid key"}), "needs_key", "FAL_KEY"),
    (SUBMIT, Reply(403, {"detail": "User is locked. Reason: Exhausted balance."}), "quota",
     "Top up"),
    (SUBMIT, Reply(404, {"detail": "Application not found"}), "rejected", "no endpoint"),
    (SUBMIT, Reply(422, {"detail": [{"type": "value_error", "msg": "num_images too high"}]}),
     "rejected", "num_images too high"),
], ids=["content-policy", "401", "exhausted-balance", "404", "422"])
def test_refusals_fail_at_once(engine: Engine, fake: FakeFal, route: str, reply: Reply,
                               error_type: str, says: str) -> None:
    fake.server.script(route, reply)
    job_id = submit(engine)
    assert run_next(engine) == jobs.FAILED
    failed = job(engine, job_id)
    assert failed.error_type == error_type and says in (failed.error_message or "")
    assert failed.cost_usd is None and len(fake.submits()) == 1


def test_flagged_images_are_not_kept_and_all_flagged_is_a_safety_refusal(
    engine: Engine, fake: FakeFal
) -> None:
    fake.nsfw = [True, False]
    kept = submit(engine, n=2)
    assert run_next(engine) == jobs.SUCCEEDED
    assert engine.db.scalar("SELECT count(*) FROM images WHERE job_id = ?", [kept]) == 1
    fake.nsfw = [True]
    refused = submit(engine, prompt="something else")
    assert run_next(engine) == jobs.FAILED
    assert job(engine, refused).error_type == "safety"


def test_urls_off_the_queue_s_origin_are_not_followed(engine: Engine, fake: FakeFal) -> None:
    fake.server.script(SUBMIT, Reply(200, {
        "request_id": "req-x", "status_url": f"{fake.cdn.url}/x/status",
        "response_url": f"{fake.cdn.url}/x", "cancel_url": f"{fake.cdn.url}/x/cancel"}))
    job_id = submit(engine)
    assert run_next(engine) == jobs.FAILED
    assert "status URL off its own API" in (job(engine, job_id).error_message or "")
    assert fake.cdn.history == []


def test_a_cancel_while_queued_asks_fal_to_drop_the_request(fake: FakeFal) -> None:
    fake.plan = ["IN_QUEUE"] * 1000

    class Ctx:
        state: dict[str, Any] = {}
        attempt = 1
        stop = threading.Event()

        def save_state(self, state: dict[str, Any]) -> None:
            self.state = state

        def report_progress(self, fraction: float, note: str | None = None) -> None:
            self.stop.set()

        def cancel_requested(self) -> bool:
            return self.stop.is_set()

    provider = FalProvider(base_url=fake.base_url, api_key=KEY, poll_interval=0.0)
    with pytest.raises(Cancelled, match="asked to stop the request"):
        provider.generate(GenerationRequest("a fox", "fal-ai/flux/schnell", width=512,
                                            height=512), Ctx())
    wait_until(lambda: fake.requests["req-0001"].cancelled, what="the cancel call")


def test_bad_endpoint_ids_and_sizes_are_refused_before_any_call(fake: FakeFal) -> None:
    provider = FalProvider(base_url=fake.base_url, api_key=KEY)
    for kw in ({"model": "../etc/passwd"}, {"model": "flux"}, {"width": 32, "height": 32}):
        req = GenerationRequest(**{"prompt": "a fox", "model": "fal-ai/flux/schnell", **kw})
        with pytest.raises(Rejected):
            provider.generate(req)
    assert fake.server.history == []


# --------------------------------------------------------------------------- found in review


def test_every_image_flagged_is_a_safety_refusal_that_records_the_megapixels(
    engine: Engine, fake: FakeFal
) -> None:
    fake.nsfw = [True, True]
    job_id = submit(engine, n=2, model="fal-ai/flux/dev")
    assert run_next(engine) == jobs.FAILED
    failed = job(engine, job_id)
    assert failed.error_type == "safety" and failed.cost_usd == Decimal("0.05")


def test_an_output_without_its_size_counts_the_size_asked_for(
    engine: Engine, fake: FakeFal
) -> None:
    fake.server.script(RESULT, Reply(200, {"images": [{"url": f"{fake.cdn.url}/files/r/out-0.png"}],
                                           "has_nsfw_concepts": [False]}))
    job_id = submit(engine, width=2048, height=1024, model="fal-ai/flux/dev")
    assert run_next(engine) == jobs.SUCCEEDED
    assert job(engine, job_id).cost_usd == Decimal("0.05")  # 2 MP x $0.025, not $0


def test_a_404_on_the_result_is_not_called_an_unknown_endpoint(
    engine: Engine, fake: FakeFal
) -> None:
    fake.server.script(RESULT, Reply(404, {"detail": "Request not found"}))
    job_id = submit(engine)
    assert run_next(engine) == jobs.FAILED
    said = job(engine, job_id).error_message or ""
    assert "Request not found" in said and "no endpoint" not in said
