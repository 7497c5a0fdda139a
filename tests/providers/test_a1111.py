"""AUTOMATIC1111 / Forge against a fake server on 127.0.0.1, through the real job engine."""

from __future__ import annotations

import base64
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from lib import jobs
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.providers import registry
from lib.providers.a1111 import A1111Provider
from lib.providers.base import GenerationRequest, Rejected
from tests.fakes.a1111 import GENERATE, REAL_SEED, FakeA1111, error, png_bytes
from tests.fakes.server import Reply
from tests.helpers import MemoryContext, TickingClock, run_next, wait_until
from tests.providers.engines import provider_engine

USER, PASSWORD = "ann", "hunter2-SECRET-pw"


@pytest.fixture(scope="module")
def shared_fake() -> Iterator[FakeA1111]:
    server = FakeA1111()  # one server per module: closing one takes 0.5 s
    yield server
    server.close()


@pytest.fixture
def fake(shared_fake: FakeA1111) -> FakeA1111:
    shared_fake.reset()
    return shared_fake


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


def make_provider(provider_id: str) -> A1111Provider:
    p = registry.create(provider_id)
    assert isinstance(p, A1111Provider)
    p.progress_interval = 0.02
    return p


@pytest.fixture
def engine(fake: FakeA1111, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    yield from provider_engine(
        monkeypatch, {"A1111_URL": fake.url, "PROMPTBOARD_HTTP_TIMEOUT": "0.5"}, clock,
        provider_factory=make_provider)


def submit(engine: Engine, **kw: Any) -> str:
    kw.setdefault("prompt", "a red fox")
    return jobs.submit(engine, "ann", jobs.JobSpec(provider="a1111", **kw))


def job(engine: Engine, job_id: str) -> jobs.Job:
    found = jobs.get(engine, job_id)
    assert found is not None
    return found


class Recorder(MemoryContext):
    """A context that records progress."""

    def __init__(self) -> None:
        super().__init__()
        self.progress: list[tuple[float, str | None]] = []

    def report_progress(self, fraction: float, note: str | None = None) -> None:
        self.progress.append((fraction, note))


def run_in_thread(engine: Engine) -> tuple[threading.Thread, list[str | None]]:
    out: list[str | None] = []
    t = threading.Thread(target=lambda: out.append(run_next(engine)), daemon=True)
    t.start()
    return t, out


# --------------------------------------------------------------------------- configuration


def test_it_is_offered_only_when_a1111_url_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not registry.is_configured(A1111Provider)
    monkeypatch.setenv("A1111_URL", "http://127.0.0.1:7860")
    assert registry.is_configured(A1111Provider)


def test_the_connection_check_lists_the_checkpoints(fake: FakeA1111) -> None:
    p = A1111Provider(base_url=fake.url, timeout=5)
    assert p.list_models() == fake.checkpoints
    assert p.test_connection().startswith("Connected; 2 models: sd_xl_base_1.0")


# --------------------------------------------------------------------------- request side


def test_txt2img_sends_the_documented_fields_with_defaults(fake: FakeA1111) -> None:
    A1111Provider(base_url=fake.url, timeout=5).generate(GenerationRequest(
        prompt="a red fox", model="default", negative_prompt="blurry", n=3))
    assert fake.bodies == [{
        "prompt": "a red fox", "negative_prompt": "blurry", "width": 512, "height": 512,
        "steps": 20, "cfg_scale": 7.0, "seed": -1, "sampler_name": "Euler a", "batch_size": 3,
        "n_iter": 1, "send_images": True, "save_images": False}]
    assert fake.server.requests_to("POST", "/sdapi/v1/txt2img")


def test_a_checkpoint_and_extras_override_the_defaults(fake: FakeA1111) -> None:
    A1111Provider(base_url=fake.url, timeout=5).generate(GenerationRequest(
        prompt="x", model=fake.checkpoints[1], width=768, height=512, seed=5,
        extra={"steps": 8, "cfg_scale": 4.5, "sampler": "DPM++ 2M"}))
    body = fake.bodies[0]
    assert body["override_settings"] == {"sd_model_checkpoint": fake.checkpoints[1]}
    assert (body["width"], body["height"], body["seed"]) == (768, 512, 5)
    assert (body["steps"], body["cfg_scale"], body["sampler_name"]) == (8, 4.5, "DPM++ 2M")


def test_a_reference_image_goes_to_img2img_as_init_images(fake: FakeA1111) -> None:
    ref = png_bytes(16, 16)
    A1111Provider(base_url=fake.url, timeout=5).generate(GenerationRequest(
        prompt="x", model="default", reference_images=(ref,)))
    assert fake.server.requests_to("POST", "/sdapi/v1/img2img")
    body = fake.bodies[0]
    assert base64.b64decode(body["init_images"][0]) == ref
    assert body["denoising_strength"] == 0.75


def test_basic_auth_comes_from_a1111_auth(fake: FakeA1111, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    fake.reset(auth=(USER, PASSWORD))
    monkeypatch.setenv("A1111_AUTH", f"{USER}:{PASSWORD}")
    p = A1111Provider(base_url=fake.url, timeout=5)
    p.generate(GenerationRequest(prompt="x", model="default"))
    sent = fake.server.history[0]
    assert sent.headers["authorization"].startswith("Basic ") and not sent.query
    assert PASSWORD not in repr(p) and PASSWORD not in repr(vars(p).get("session"))


@pytest.mark.parametrize("echo", [f"{USER}:{PASSWORD}", PASSWORD])
def test_a_server_echoing_the_login_has_it_redacted_from_the_error(
    fake: FakeA1111, monkeypatch: pytest.MonkeyPatch, echo: str,
) -> None:
    fake.reset(auth=(USER, PASSWORD))
    monkeypatch.setenv("A1111_AUTH", f"{USER}:{PASSWORD}")
    p = A1111Provider(base_url=fake.url, timeout=5)
    fake.server.script(GENERATE, error(500, f"no checkpoint for login {echo}"))
    with pytest.raises(Rejected) as err:
        p.generate(GenerationRequest(prompt="x", model="default"))
    assert PASSWORD not in str(err.value) and "no checkpoint for login ***" in str(err.value)


def test_redaction_uses_the_login_the_provider_was_built_with(
    fake: FakeA1111, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("A1111_AUTH", f"{USER}:{PASSWORD}")
    p = A1111Provider(base_url=fake.url, timeout=5)  # A1111_AUTH is read once, here
    monkeypatch.setenv("A1111_AUTH", "someone:else-entirely")  # changed under a live provider
    fake.reset(auth=(USER, PASSWORD))
    fake.server.script(GENERATE, error(500, f"bad {PASSWORD}"))
    with pytest.raises(Rejected) as err:
        p.generate(GenerationRequest(prompt="x", model="default"))
    assert str(err.value).startswith("AUTOMATIC1111 could not make this image: bad ***.")
    assert PASSWORD not in repr(vars(p))  # the parsed login is held, never shown


def test_a_grid_image_is_skipped_and_seeds_come_from_info(fake: FakeA1111) -> None:
    fake.reset(grid=True)
    result = A1111Provider(base_url=fake.url, timeout=5).generate(GenerationRequest(
        prompt="x", model="default", n=2))
    assert [i.seed for i in result.images] == [REAL_SEED, REAL_SEED + 1]
    assert len(result.images) == 2 and result.seed == REAL_SEED


def test_progress_is_polled_while_the_call_blocks(fake: FakeA1111) -> None:
    fake.reset(step_delay=0.02)
    ctx = Recorder()
    A1111Provider(base_url=fake.url, timeout=5, progress_interval=0.02).generate(
        GenerationRequest(prompt="x", model="default", extra={"steps": 20}), ctx)
    notes = [n for _, n in ctx.progress]
    assert len(ctx.progress) >= 3 and all(0 <= f < 1 for f, _ in ctx.progress)
    assert any(f > 0 for f, _ in ctx.progress)
    assert all(n and n.startswith("step ") and n.endswith("/20") for n in notes)
    assert [f for f, _ in ctx.progress] == sorted(f for f, _ in ctx.progress)
    assert all(r.query == {"skip_current_image": ["true"]}
               for r in fake.server.requests_to("GET", "/sdapi/v1/progress"))


# --------------------------------------------------------------------------- through the engine


def test_a_job_records_the_real_seed_gpu_time_and_zero_cost(
    engine: Engine, fake: FakeA1111
) -> None:
    job_id = submit(engine, n=2, params={"steps": 4})
    assert run_next(engine) == jobs.SUCCEEDED
    done = job(engine, job_id)
    assert done.seed == REAL_SEED and done.cost_usd == 0
    assert done.request_id == "a1111-20261102090000"
    assert "gpu_seconds" in (done.usage or "")
    seeds = engine.db.fetchall("SELECT seed FROM images WHERE job_id = ? ORDER BY idx", [job_id])
    assert [s[0] for s in seeds] == [REAL_SEED, REAL_SEED + 1]


def test_progress_reaches_the_job_row_while_it_runs(
    engine: Engine, fake: FakeA1111, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTBOARD_HTTP_TIMEOUT", "5")
    fake.reset(step_delay=0.02)
    job_id = submit(engine, params={"steps": 30})
    thread, out = run_in_thread(engine)
    seen: set[tuple[float, str]] = set()
    while thread.is_alive():
        row = engine.db.fetchall("SELECT status, progress, progress_note FROM jobs WHERE id = ?",
                                 [job_id])[0]
        if row[0] == "running" and row[2] and row[2].startswith("step"):
            seen.add((row[1], row[2]))
        time.sleep(0.005)
    thread.join()
    assert out == [jobs.SUCCEEDED]
    assert len(seen) >= 2 and all(0 <= f < 1 and n.endswith("/30") for f, n in seen)
    assert any(f > 0 for f, _ in seen)


def test_cancelling_a_running_job_interrupts_the_server(
    engine: Engine, fake: FakeA1111, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTBOARD_HTTP_TIMEOUT", "120")
    fake.reset(step_delay=0.1)
    job_id = submit(engine, params={"steps": 500})  # 50 s if nobody interrupts
    thread, out = run_in_thread(engine)
    wait_until(lambda: any(p["state"]["job_count"] for p in fake.progress_seen),
               what="the fake server to report a running job")
    assert jobs.cancel(engine, job_id, "ann") == "cancelling"
    thread.join(timeout=30)  # long before the 50 s generation would end: interrupted
    assert out == [jobs.CANCELLED]
    assert fake.interrupts == 1
    assert job(engine, job_id).error_type == "cancelled"
    assert engine.db.scalar("SELECT count(*) FROM images") == 0


REFUSALS = [
    (error(404, "Sampler not found"), {"sampler": "Euler z"}, "rejected", "no sampler 'Euler z'"),
    (error(422, [{"loc": ["body", "steps"], "msg": "value is not a valid integer"}]), {},
     "rejected", "steps: value is not a valid integer"),
    (error(500, "OutOfMemoryError: CUDA out of memory."), {}, "rejected", "CUDA out of memory"),
    (Reply(404, {"detail": "Not Found"}), {}, "needs_key", "--api"),
    (Reply(200, "<html>not json"), {}, "bad_response", "not valid JSON"),
    (Reply(200, {"images": [], "parameters": {}, "info": "{}"}), {}, "bad_response",
     "without an image"),
    (Reply(200, {"images": [base64.b64encode(png_bytes(300, 300)[:200]).decode()],
                 "parameters": {}, "info": "{}"}), {}, "bad_response", "could not be read"),
    (Reply(200, {"images": ["***"], "parameters": {}, "info": "{}"}), {}, "bad_response",
     "not valid base64"),
]


@pytest.mark.parametrize(("reply", "params", "error_type", "fragment"), REFUSALS,
                         ids=["sampler", "422", "500-oom", "no-api", "malformed", "no-image",
                              "truncated-png", "bad-base64"])
def test_refusals_and_unusable_answers_fail_without_retry(
    engine: Engine, fake: FakeA1111, reply: Reply, params: dict[str, Any], error_type: str,
    fragment: str,
) -> None:
    fake.server.script(GENERATE, reply)
    job_id = submit(engine, params=params)
    assert run_next(engine) == jobs.FAILED
    failed = job(engine, job_id)
    assert failed.error_type == error_type and fragment in (failed.error_message or "")
    assert len(fake.server.requests_to("POST", "/sdapi/v1/txt2img")) == 1


@pytest.mark.parametrize(("reply", "fragment"), [
    (Reply(503, "Service Unavailable"), "not ready"),
    (Reply(200, {"images": []}, delay=1.0), "did not answer within 0.5 s"),
    (Reply(reset=True), "Is it running, with --api?"),
], ids=["503", "timeout", "reset"])
def test_transient_failures_are_retried(
    engine: Engine, fake: FakeA1111, clock: FakeClock, reply: Reply, fragment: str
) -> None:
    fake.server.script(GENERATE, reply)
    job_id = submit(engine)
    assert run_next(engine) == jobs.QUEUED
    queued = job(engine, job_id)
    assert queued.error_type == "unavailable" and fragment in (queued.error_message or "")
    assert (queued.next_run_at - clock.now()).total_seconds() == pytest.approx(2.0)
    clock.advance(2)
    assert run_next(engine) == jobs.SUCCEEDED


def test_a_server_that_is_not_running_says_how_to_start_it(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("A1111_URL", f"http://127.0.0.1:{port}")
    job_id = submit(engine)
    assert run_next(engine) == jobs.QUEUED
    message = job(engine, job_id).error_message or ""
    assert "could not be reached" in message and "--api" in message


@pytest.mark.parametrize(("auth", "fragment"), [
    (f"{USER}:wrong-password", "refused the login"),
    ("no-colon-here", "must look like user:password"),
])
def test_a_bad_login_fails_with_a_hint_and_never_shows_the_password(
    engine: Engine, fake: FakeA1111, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, auth: str, fragment: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.reset(auth=(USER, PASSWORD))
    monkeypatch.setenv("A1111_AUTH", auth)
    job_id = submit(engine)
    assert run_next(engine) == jobs.FAILED
    failed = job(engine, job_id)
    assert failed.error_type == "needs_key" and fragment in (failed.error_message or "")
    assert "A1111_AUTH" in (failed.error_message or "")


def test_the_password_never_reaches_rows_events_or_logs(
    engine: Engine, fake: FakeA1111, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.reset(auth=(USER, PASSWORD), step_delay=0.01)
    monkeypatch.setenv("A1111_AUTH", f"{USER}:{PASSWORD}")
    ok = submit(engine, params={"steps": 5})
    assert run_next(engine) == jobs.SUCCEEDED
    fake.server.script(GENERATE, error(500, "boom"))
    bad = submit(engine)
    assert run_next(engine) == jobs.FAILED
    dump = repr([engine.db.fetchall(f"SELECT * FROM {t}")
                 for t in ("jobs", "job_events", "images")])
    assert ok in dump and bad in dump
    assert PASSWORD not in dump and PASSWORD not in caplog.text
