"""Replicate against a fake API on 127.0.0.1, through the real job engine.

The heart of it: a create that may have started a billed run is never sent twice.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lib import jobs
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.jobs.claim import recover
from lib.providers import registry
from lib.providers.base import GenerationRequest, NeedsKey, ProviderError, Rejected
from lib.providers.replicate import ReplicateProvider, build_input
from tests.fakes.replicate import (
    CREATE,
    DELIVERY,
    E005,
    GET,
    NSFW,
    FakeReplicate,
    png_bytes,
    problem,
)
from tests.fakes.server import Reply
from tests.helpers import MemoryContext, TickingClock, run_next, wait_until
from tests.providers.engines import provider_engine

TOKEN = "r8_" + "SECRETtoken0123456789abcdefXYZ"  # fake; split for secret scanners
SCHNELL = "black-forest-labs/flux-schnell"
VERSION = "owner/model:5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"


class Crash(Exception):
    """Stands in for the process dying."""


@pytest.fixture(scope="module")
def shared_fake() -> Iterator[FakeReplicate]:
    server = FakeReplicate(token=TOKEN)  # one pair per module: closing a server takes 0.5 s
    yield server
    server.close()


@pytest.fixture
def fake(shared_fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch) -> FakeReplicate:
    shared_fake.reset()
    # the fake delivery host is plain http on loopback: allowed only through the test setting
    monkeypatch.setenv("PROMPTBOARD_DOWNLOAD_ALLOW_INSECURE_HOSTS", shared_fake.delivery_host)
    return shared_fake


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


@pytest.fixture
def hooks() -> dict[str, Callable[[float], None]]:
    return {"sleep": time.sleep}


@pytest.fixture
def engine(fake: FakeReplicate, clock: FakeClock, hooks: dict[str, Callable[[float], None]],
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    env = {"REPLICATE_API_TOKEN": TOKEN, "REPLICATE_BASE_URL": fake.base_url,
           "PROMPTBOARD_HTTP_TIMEOUT": "0.5"}

    def factory(provider_id: str) -> ReplicateProvider:
        p = registry.create(provider_id)
        assert isinstance(p, ReplicateProvider)
        p.poll_interval = 0.01
        p._sleep = lambda s: hooks["sleep"](s)
        return p

    yield from provider_engine(monkeypatch, env, clock, provider_factory=factory)


def provider(fake: FakeReplicate, token: str = TOKEN) -> ReplicateProvider:
    return ReplicateProvider(base_url=fake.base_url, api_key=token, timeout=5,
                             poll_interval=0.01)


def submit(engine: Engine, **kw: Any) -> str:
    kw.setdefault("prompt", "a red fox")
    return jobs.submit(engine, "ann", jobs.JobSpec(provider="replicate", **kw))


def job(engine: Engine, job_id: str) -> jobs.Job:
    found = jobs.get(engine, job_id)
    assert found is not None
    return found


def creates(fake: FakeReplicate) -> int:
    return len(fake.server.requests_to("POST", r"/v1/(models/.+/)?predictions"))


# --------------------------------------------------------------------------- request side


def test_an_official_model_is_created_by_name_with_prefer_wait_and_a_bearer_token(
    fake: FakeReplicate,
) -> None:
    provider(fake).generate(GenerationRequest(prompt="a fox", model=SCHNELL, n=2, width=1344,
                                              height=768))
    sent = fake.creates[0]
    assert sent.path == "/v1/models/black-forest-labs/flux-schnell/predictions"
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["prefer"] == "wait=4"  # inside the 5 s client timeout
    assert sent.json() == {"input": {"prompt": "a fox", "aspect_ratio": "16:9",
                                     "num_outputs": 2, "output_format": "png"}}
    every = fake.server.history + fake.delivery.history
    assert all(TOKEN not in r.path and not r.query for r in every)
    assert fake.delivery_auth == [None, None]  # the token never goes to the delivery host


def test_a_version_model_is_created_by_version(fake: FakeReplicate) -> None:
    result = provider(fake).generate(GenerationRequest(prompt="a fox", model=VERSION, seed=3))
    sent = fake.creates[0]
    assert sent.path == "/v1/predictions"
    assert sent.json() == {"version": VERSION.split(":")[1], "input": {"prompt": "a fox",
                                                                       "seed": 3}}
    assert result.usage == {"predict_seconds": 2.5} and result.seed == 3


def test_flux_input_mapping_pins_the_seed_and_merges_raw_inputs() -> None:
    req = GenerationRequest(prompt="p", model=SCHNELL, aspect_ratio="9:16", seed=7, n=4,
                            extra={"input": {"num_inference_steps": 2, "output_format": "webp"}})
    assert build_input(SCHNELL, req) == {
        "prompt": "p", "aspect_ratio": "9:16", "num_outputs": 4, "output_format": "webp",
        "seed": 7, "go_fast": False, "num_inference_steps": 2}
    with pytest.raises(Rejected, match="aspect ratios"):
        build_input(SCHNELL, GenerationRequest(prompt="p", model=SCHNELL, aspect_ratio="7:5"))


def test_progress_goes_from_starting_to_the_logged_percentage(fake: FakeReplicate) -> None:
    notes: list[tuple[float, str | None]] = []

    class Ctx(MemoryContext):
        def report_progress(self, fraction: float, note: str | None = None) -> None:
            notes.append((fraction, note))

    ctx = Ctx()
    result = provider(fake).generate(GenerationRequest(prompt="x", model=SCHNELL), ctx)
    assert notes[0] == (0.05, "starting (the model may be booting)")
    assert notes[1] == (pytest.approx(0.525), "processing 50%")
    assert ctx.state["prediction_id"] == result.request_id == "pred0001"


def test_saved_state_resumes_only_the_same_request(fake: FakeReplicate) -> None:
    ctx = MemoryContext()  # one context reused for two different requests (e.g. the CLI)
    first = provider(fake).generate(GenerationRequest(prompt="a fox", model=SCHNELL), ctx)
    second = provider(fake).generate(GenerationRequest(prompt="an owl", model=SCHNELL), ctx)
    assert (first.request_id, second.request_id) == ("pred0001", "pred0002")
    again = provider(fake).generate(GenerationRequest(prompt="an owl", model=SCHNELL), ctx)
    assert again.request_id == "pred0002" and len(fake.creates) == 2  # resumed, not re-run


def test_the_connection_check_names_the_account(fake: FakeReplicate) -> None:
    assert provider(fake).test_connection() == "Connected as promptboard-bot"
    with pytest.raises(NeedsKey, match="REPLICATE_API_TOKEN"):
        provider(fake, token="r8_wrong").test_connection()


def test_a_bad_model_id_is_refused_before_any_call(fake: FakeReplicate) -> None:
    with pytest.raises(Rejected, match="owner/name"):
        provider(fake).generate(GenerationRequest(prompt="x", model="flux schnell"))
    assert fake.server.history == []


# --------------------------------------------------------------------------- through the engine


def test_a_job_stores_every_output_with_cost_seed_and_prediction_id(
    engine: Engine, fake: FakeReplicate
) -> None:
    job_id = submit(engine, n=3, aspect_ratio="3:2")
    assert run_next(engine) == jobs.SUCCEEDED
    done = job(engine, job_id)
    assert done.cost_usd == Decimal("0.009")  # 3 images x $0.003
    assert done.request_id == "pred0001" and done.seed == 4242  # seed read from the logs
    assert engine.db.scalar("SELECT count(*) FROM images WHERE job_id = ?", [job_id]) == 3
    assert len(fake.delivery.history) == 3 and creates(fake) == 1


def test_a_version_model_bills_gpu_seconds_so_its_cost_is_unknown(engine: Engine) -> None:
    job_id = submit(engine, model=VERSION)
    assert run_next(engine) == jobs.SUCCEEDED
    done = job(engine, job_id)
    assert done.cost_usd is None and '"predict_seconds": 2.5' in (done.usage or "")


def test_a_create_that_times_out_is_uncertain_and_never_resent(
    engine: Engine, fake: FakeReplicate
) -> None:
    fake.server.script(CREATE, Reply(201, {"id": "late"}, delay=1.0))
    job_id = submit(engine)
    assert run_next(engine) == jobs.FAILED
    failed = job(engine, job_id)
    assert failed.error_type == "uncertain"
    assert "check replicate.com/predictions before retrying" in (failed.error_message or "")
    assert run_next(engine) is None and creates(fake) == 1


@pytest.mark.parametrize("reply", [Reply(reset=True), Reply(201, "{oops")],
                         ids=["reset-after-send", "unreadable-201"])
def test_other_doubtful_creates_are_uncertain_too(
    engine: Engine, fake: FakeReplicate, reply: Reply
) -> None:
    fake.server.script(CREATE, reply)
    job_id = submit(engine)
    assert run_next(engine) == jobs.FAILED
    assert job(engine, job_id).error_type == "uncertain" and creates(fake) == 1


def test_a_refused_connection_started_nothing_so_it_is_retried(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("REPLICATE_BASE_URL", f"http://127.0.0.1:{port}/v1")
    job_id = submit(engine)
    assert run_next(engine) == jobs.QUEUED
    assert "nothing was started" in (job(engine, job_id).error_message or "")


@pytest.mark.parametrize(("route", "reply"), [
    (GET, Reply(503, "upstream down")),
    (GET, Reply(reset=True)),
    (GET, Reply(200, "{not json")),
    (DELIVERY, Reply(500, "oops")),
], ids=["poll-503", "poll-reset", "poll-malformed", "download-500"])
def test_a_poll_or_download_failure_is_retried_by_resuming_the_same_prediction(
    engine: Engine, fake: FakeReplicate, clock: FakeClock, route: str, reply: Reply
) -> None:
    (fake.delivery if route == DELIVERY else fake.server).script(route, reply)
    job_id = submit(engine)
    assert run_next(engine) == jobs.QUEUED
    queued = job(engine, job_id)
    assert queued.error_type == "unavailable" and '"pred0001"' in (queued.provider_state or "")
    clock.advance(2)
    assert run_next(engine) == jobs.SUCCEEDED
    assert creates(fake) == 1 and job(engine, job_id).request_id == "pred0001"


def test_a_restart_after_a_crash_resumes_the_prediction(
    engine: Engine, fake: FakeReplicate, hooks: dict[str, Callable[[float], None]]
) -> None:
    def crash(seconds: float) -> None:
        raise Crash("the process died")

    hooks["sleep"] = crash
    job_id = submit(engine)
    with pytest.raises(Crash):
        run_next(engine)
    assert job(engine, job_id).status == jobs.RUNNING
    hooks["sleep"] = time.sleep
    assert recover(engine) == 1
    assert run_next(engine) == jobs.SUCCEEDED
    assert creates(fake) == 1 and job(engine, job_id).attempts == 2


def test_cancelling_while_processing_cancels_the_prediction(
    engine: Engine, fake: FakeReplicate
) -> None:
    fake.plan = ["processing"] * 100_000
    job_id = submit(engine)
    out: list[str | None] = []
    thread = threading.Thread(target=lambda: out.append(run_next(engine)), daemon=True)
    thread.start()
    wait_until(lambda: len(fake.server.requests_to("GET", r"/v1/predictions/.+")) >= 2,
               what="two polls of the prediction")
    assert jobs.cancel(engine, job_id, "ann") == "cancelling"
    thread.join(timeout=5)
    assert out == [jobs.CANCELLED]
    assert fake.server.requests_to("POST", r"/v1/predictions/pred0001/cancel")
    assert fake.predictions["pred0001"].cancelled_by_call
    assert "Replicate stopped the prediction" in (job(engine, job_id).error_message or "")


@pytest.mark.parametrize(("plan", "error", "status", "error_type", "fragment"), [
    (["processing", "failed"], "CUDA out of memory", jobs.FAILED, "bad_response",
     "The model failed on Replicate: CUDA out of memory"),
    (["failed"], NSFW, jobs.FAILED, "safety", "safety checker"),
    (["starting", "failed"], E005, jobs.FAILED, "safety", "flagged as sensitive"),
    (["canceled"], None, jobs.CANCELLED, "cancelled", "cancelled on Replicate"),
], ids=["failed", "nsfw", "flagged-e005", "canceled-elsewhere"])
def test_a_prediction_that_ends_badly_is_not_retried(
    engine: Engine, fake: FakeReplicate, plan: list[str], error: str | None, status: str,
    error_type: str, fragment: str,
) -> None:
    fake.plan = plan
    fake.fail_error = error or ""
    job_id = submit(engine)
    assert run_next(engine) == status
    ended = job(engine, job_id)
    assert ended.error_type == error_type and fragment in (ended.error_message or "")
    assert creates(fake) == 1 and run_next(engine) is None


@pytest.mark.parametrize(("reply", "wait"), [
    (problem(429, "Request was throttled. Your rate limit resets in ~30s."), 30.0),
    (problem(429, "Request was throttled.", headers={"Retry-After": "12"}), 12.0),
    (problem(500, "Internal server error"), 2.0),
    (problem(503, "Service unavailable"), 2.0),
], ids=["429-detail", "429-retry-after", "500", "503"])
def test_a_refused_create_is_safe_to_retry_after_the_hint(
    engine: Engine, fake: FakeReplicate, clock: FakeClock, reply: Reply, wait: float
) -> None:
    fake.server.script(CREATE, reply)
    job_id = submit(engine)
    assert run_next(engine) == jobs.QUEUED
    queued = job(engine, job_id)
    assert (queued.next_run_at - clock.now()).total_seconds() == pytest.approx(wait)
    clock.advance(wait)
    assert run_next(engine) == jobs.SUCCEEDED and creates(fake) == 2


@pytest.mark.parametrize(("reply", "error_type", "fragment"), [
    (problem(401, "Invalid token"), "needs_key", "REPLICATE_API_TOKEN"),
    (problem(402, "Payment required: out of credit"), "quota", "add billing"),
    (problem(404, "The requested resource could not be found."), "rejected", "has no model"),
    (problem(422, "input.num_outputs: must be less than or equal to 4"), "rejected",
     "num_outputs: must be less"),
], ids=["401", "402", "404", "422"])
def test_refusals_fail_at_once(
    engine: Engine, fake: FakeReplicate, reply: Reply, error_type: str, fragment: str
) -> None:
    fake.server.script(CREATE, reply)
    job_id = submit(engine)
    assert run_next(engine) == jobs.FAILED
    failed = job(engine, job_id)
    assert failed.error_type == error_type and fragment in (failed.error_message or "")
    assert creates(fake) == 1


@pytest.mark.parametrize(("reply", "fragment"), [
    (Reply(200, png_bytes(300, 300)[:200], {"Content-Type": "image/png"}), "could not be read"),
    (Reply(200, b"", {"Content-Type": "image/png"}), "empty output"),
    (Reply(404, "gone"), "deleted this output"),
], ids=["truncated", "empty", "expired"])
def test_unusable_outputs_fail_the_job(
    engine: Engine, fake: FakeReplicate, reply: Reply, fragment: str
) -> None:
    fake.delivery.script(DELIVERY, reply)
    job_id = submit(engine)
    assert run_next(engine) == jobs.FAILED
    failed = job(engine, job_id)
    assert failed.error_type == "bad_response" and fragment in (failed.error_message or "")


def test_the_token_never_reaches_rows_events_or_logs(
    engine: Engine, fake: FakeReplicate, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ok = submit(engine)
    assert run_next(engine) == jobs.SUCCEEDED
    fake.server.script(CREATE, problem(422, f"bad input; token was {TOKEN}"))
    bad = submit(engine)
    assert run_next(engine) == jobs.FAILED
    dump = repr([engine.db.fetchall(f"SELECT * FROM {t}")
                 for t in ("jobs", "job_events", "images")])
    assert ok in dump and bad in dump and "pred0001" in dump
    assert TOKEN not in dump and TOKEN not in caplog.text


# --------------------------------------------------------------------------- redaction by value

ODD = "rpl-TOKEN-SECRET-456"  # a gateway-style token that no key-shape pattern matches


@pytest.mark.parametrize(("status", "error_type"), [
    (422, Rejected), (402, ProviderError), (429, ProviderError), (404, Rejected),
])
def test_an_echoed_token_of_any_shape_is_redacted_by_its_value(
    fake: FakeReplicate, status: int, error_type: type[ProviderError]
) -> None:
    fake.server.script(CREATE, problem(
        status, f"Invalid input; request was sent with Authorization: Bearer {ODD}"))
    with pytest.raises(error_type) as caught:
        provider(fake, token=ODD).generate(GenerationRequest(prompt="x", model=SCHNELL))
    assert ODD not in str(caught.value) and "***" in str(caught.value)


def test_a_token_cut_at_the_clip_boundary_does_not_leak_in_part(fake: FakeReplicate) -> None:
    fake.server.script(CREATE, problem(422, "x" * 292 + " " + ODD))  # the cut is at 300
    with pytest.raises(Rejected) as caught:
        provider(fake, token=ODD).generate(GenerationRequest(prompt="x", model=SCHNELL))
    assert ODD[:6] not in str(caught.value)


def test_a_failed_prediction_that_echoes_the_token_is_redacted(fake: FakeReplicate) -> None:
    fake.plan = ["failed"]
    fake.fail_error = f"model crashed; env had REPLICATE_API_TOKEN={ODD}"
    p = ReplicateProvider(base_url=fake.base_url, api_key=ODD, timeout=5, poll_interval=0.01)
    fake.token = ODD
    try:
        with pytest.raises(ProviderError) as caught:
            p.generate(GenerationRequest(prompt="x", model=SCHNELL))
    finally:
        fake.token = TOKEN
    assert ODD not in str(caught.value) and "***" in str(caught.value)


# --------------------------------------------------------------------------- model ids in paths


@pytest.mark.parametrize("model", [
    "../..", "owner/..", "../x", "./x", "owner/.", "owner/.hidden", "a/b/c", "owner/name/../x",
    "owner/name:../x", "%2e%2e/x", "owner/na me", "owner/name?x=1", "owner/name#f",
    "owner\\name", "/owner/name", "owner//name", "owner/name:",
])
def test_a_model_id_that_could_leave_the_models_path_is_refused_at_submit(
    engine: Engine, fake: FakeReplicate, model: str
) -> None:
    with pytest.raises(jobs.SubmitError, match="not a Replicate model id"):
        submit(engine, model=model)
    with pytest.raises(Rejected, match="no '.' or '..' parts"):
        provider(fake).generate(GenerationRequest(prompt="x", model=model))
    assert fake.server.history == []


ALLOWED_PATH = re.compile(r"/v1/(models/[^/.][^/]*/[^/.][^/]*/predictions"
                          r"|predictions(/pred\d+(/cancel)?)?)")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(model=st.text(alphabet="ab./:%?#\\-_ 9", max_size=12))
@example(model="../..")  # the finding's id: POSTed to {origin}/predictions before
@example(model="a/..")
@example(model="./b:..")
def test_whatever_the_model_id_the_api_only_sees_model_and_prediction_paths(
    fake: FakeReplicate, model: str
) -> None:
    fake.reset()
    fake.plan = ["failed"]  # one create and one poll are enough to see the paths
    try:
        provider(fake).generate(GenerationRequest(prompt="x", model=model))
    except ProviderError:
        pass
    assert all(ALLOWED_PATH.fullmatch(r.path) for r in fake.server.history), [
        r.path for r in fake.server.history]
