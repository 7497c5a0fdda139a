"""The job state machine, submit/claim/cancel, retries, recovery and the pipeline."""

from __future__ import annotations

import io
import itertools
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from lib import jobs
from lib.core import config
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.imaging import images as imaging
from lib.jobs import cleanup, leases
from lib.jobs.claim import claim, recover
from lib.jobs.pipeline import process
from lib.jobs.retry import RetryPolicy
from lib.jobs.worker import WorkerPool
from lib.providers.base import GenerationRequest, GenerationResult, JobContext
from lib.providers.sandbox import SandboxProvider
from lib.storage import LocalStorage, StorageError
from tests.helpers import run_next, wait_until

NO_JITTER = RetryPolicy(base_s=2.0, cap_s=120.0, jitter=0.0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(clock: FakeClock) -> Iterator[Engine]:
    eng = Engine(config.load(), clock=clock, retry_policy=NO_JITTER)
    yield eng
    eng.close()
    assert not eng.internal_errors, eng.internal_errors


def spec(prompt: str = "a lighthouse at dusk", **kw: Any) -> jobs.JobSpec:
    kw.setdefault("width", 128)
    kw.setdefault("height", 128)
    return jobs.JobSpec(prompt=prompt, **kw)


def status(engine: Engine, job_id: str) -> str:
    job = jobs.get(engine, job_id)
    assert job is not None
    return job.status


# --------------------------------------------------------------------------- transitions

PAIRS = list(itertools.product(jobs.STATUSES, jobs.STATUSES))


@pytest.mark.parametrize(("frm", "to"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_transition_is_allowed_only_along_the_state_machine(
    engine: Engine, frm: str, to: str
) -> None:
    job_id = jobs.submit(engine, "ann", spec())
    with engine.db.write() as cur:  # put the row in the starting state directly
        cur.execute("UPDATE jobs SET status = ? WHERE id = ?", [frm, job_id])
    legal = to in jobs.TRANSITIONS[frm]
    if legal:
        with engine.db.write() as cur:
            assert jobs.transition(cur, job_id, [frm], to, engine.clock.now()) == frm
        assert status(engine, job_id) == to
        assert jobs.events(engine, job_id)[-1][1:3] == (frm, to)
    else:
        with pytest.raises(jobs.IllegalTransition), engine.db.write() as cur:
            jobs.transition(cur, job_id, [frm], to, engine.clock.now())
        assert status(engine, job_id) == frm


def test_guard_refuses_a_move_from_a_state_the_row_is_not_in(engine: Engine) -> None:
    job_id = jobs.submit(engine, "ann", spec())
    with pytest.raises(jobs.IllegalTransition), engine.db.write() as cur:
        jobs.transition(cur, job_id, [jobs.RUNNING], jobs.SUCCEEDED, engine.clock.now())
    assert status(engine, job_id) == jobs.QUEUED


# --------------------------------------------------------------------------- submit


def test_submit_returns_a_queued_job_with_an_event(engine: Engine) -> None:
    job_id = jobs.submit(engine, "ann", spec(style="cartoon"))
    job = jobs.get(engine, job_id)
    assert job is not None and job.status == jobs.QUEUED and job.attempts == 0
    assert job.params_dict["styled_prompt"].startswith("a lighthouse at dusk, cartoon style")
    assert job.estimated_cost_usd == 0
    assert jobs.events(engine, job_id) == [(job.created_at, None, jobs.QUEUED, "submitted")]
    # A plain submit is one INSERT: its row is the record, no job_events row is written.
    assert engine.db.scalar("SELECT count(*) FROM job_events WHERE job_id = ?", [job_id]) == 0
    assert run_next(engine) == jobs.SUCCEEDED
    assert [(e[1], e[2]) for e in jobs.events(engine, job_id)] == [
        (None, "queued"), ("queued", "running"), ("running", "succeeded")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prompt": ""}, "empty"),
        ({"prompt": "   \n\t"}, "empty"),
        ({"prompt": "x" * 4001}, "at most 4,000"),
        ({"n": 0}, "1 to 8"),
        ({"n": 9}, "1 to 8"),
        ({"provider": "nope"}, "Unknown provider"),
        ({"model": "gpt-9"}, "no model"),
        ({"width": 10, "height": 10}, "between 64 and 8192"),
        ({"reference": b"not an image"}, "reference image was refused"),
    ],
)
def test_submit_refuses_bad_requests_with_a_clear_message(
    engine: Engine, kwargs: dict[str, Any], message: str
) -> None:
    rest = dict(kwargs)  # a copy: the same parameters serve the DuckDB and PostgreSQL runs
    prompt = rest.pop("prompt", "a cat")
    with pytest.raises(jobs.SubmitError, match=message):
        jobs.submit(engine, "ann", spec(prompt, **rest))
    assert engine.db.scalar("SELECT count(*) FROM jobs") == 0
    assert engine.storage.list_keys("refs/") == []


def test_the_same_client_token_submits_once(engine: Engine) -> None:
    first = jobs.submit(engine, "ann", spec(client_token="click-1"))
    second = jobs.submit(engine, "ann", spec(client_token="click-1"))
    other = jobs.submit(engine, "ann", spec(client_token="click-2"))
    assert first == second != other
    assert engine.db.scalar("SELECT count(*) FROM jobs") == 2


# --------------------------------------------------------------------------- pipeline


def test_a_job_runs_end_to_end_and_every_row_points_at_stored_bytes(engine: Engine) -> None:
    job_id = jobs.submit(engine, "ann", spec(n=2, seed=7))
    assert run_next(engine) == jobs.SUCCEEDED
    job = jobs.get(engine, job_id)
    assert job is not None and job.attempts == 1 and job.cost_usd == 0
    assert job.duration_ms is not None and job.finished_at is not None
    images = engine.db.dicts("SELECT * FROM images WHERE job_id = ? ORDER BY idx", [job_id])
    assert [i["seed"] for i in images] == [7, 8]
    assert engine.db.scalar("SELECT images FROM jobs WHERE id = ?", [job_id]) == 2  # analytics
    for img in images:
        original = engine.storage.get(img["original_key"])
        assert imaging.read_png_metadata(original)["promptboard:prompt"] == job.prompt
        assert Image.open(io.BytesIO(original)).size == (128, 128)
        thumb = Image.open(io.BytesIO(engine.storage.get(img["thumb_key"])))
        assert thumb.format == "WEBP"
        assert img["watermarked_key"] is None and img["cost_usd"] == 0
    assert [e[2] for e in jobs.events(engine, job_id)] == ["queued", "running", "succeeded"]


def test_an_original_carries_automatic1111s_parameters_for_other_tools(engine: Engine) -> None:
    job_id = jobs.submit(engine, "ann", spec(seed=42, negative_prompt="blurry, text"))
    assert run_next(engine) == jobs.SUCCEEDED
    key = engine.db.scalar("SELECT original_key FROM images WHERE job_id = ?", [job_id])
    text = Image.open(io.BytesIO(engine.storage.get(key))).info["parameters"]  # as IIB reads it
    prompt, negative, settings = text.split("\n")
    job = jobs.get(engine, job_id)
    assert job is not None and prompt == job.prompt and negative == "Negative prompt: blurry, text"
    assert settings.startswith("Seed: 42, Size: 128x128, Model: ")
    assert "Provider: sandbox" in settings


def test_a_watermarked_job_stores_a_watermarked_copy(engine: Engine) -> None:
    wm = imaging.WatermarkSpec(text="ACME", position="center", opacity=0.9, scale=0.5)
    job_id = jobs.submit(engine, "ann", spec(watermark=wm))
    assert run_next(engine) == jobs.SUCCEEDED
    img = engine.db.dicts("SELECT * FROM images WHERE job_id = ?", [job_id])[0]
    original = Image.open(io.BytesIO(engine.storage.get(img["original_key"]))).convert("RGB")
    marked = Image.open(io.BytesIO(engine.storage.get(img["watermarked_key"]))).convert("RGB")
    assert original.size == marked.size and original.tobytes() != marked.tobytes()


def test_a_reference_image_is_validated_stored_and_sent(engine: Engine) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (255, 0, 0)).save(buf, "JPEG")
    job_id = jobs.submit(engine, "ann", spec(reference=buf.getvalue()))
    job = jobs.get(engine, job_id)
    assert job is not None and job.reference_key == f"refs/{job_id}.png"
    assert run_next(engine) == jobs.SUCCEEDED
    img = engine.db.dicts("SELECT * FROM images WHERE job_id = ?", [job_id])[0]
    red = Image.open(io.BytesIO(engine.storage.get(img["original_key"]))).convert("RGB")
    r, g, b = (sum(c) / len(c) for c in zip(*red.get_flattened_data(), strict=True))
    assert r > g + 40 and r > b + 40  # the output follows the pure-red reference


def test_a_safety_refusal_fails_at_once_without_retry(engine: Engine) -> None:
    job_id = jobs.submit(engine, "ann", spec("[[fail:safety]] a cat"))
    assert run_next(engine) == jobs.FAILED
    job = jobs.get(engine, job_id)
    assert job is not None and job.attempts == 1 and job.error_type == "safety"
    assert "safety" in (job.error_message or "").lower()
    assert engine.db.scalar("SELECT count(*) FROM images") == 0


@pytest.mark.parametrize("kind", ["truncated_image", "no_image", "bad_response"])
def test_unusable_provider_output_fails_the_job_and_stores_nothing(
    engine: Engine, kind: str
) -> None:
    job_id = jobs.submit(engine, "ann", spec(f"[[fail:{kind}]] a cat"))
    assert run_next(engine) == jobs.FAILED
    job = jobs.get(engine, job_id)
    assert job is not None and job.error_type == "bad_response" and job.error_message
    assert engine.storage.list_keys("img/") == []


def test_retry_waits_for_the_providers_hint_on_a_fake_clock(
    engine: Engine, clock: FakeClock
) -> None:
    job_id = jobs.submit(engine, "ann", spec(
        "a cat", params={"fail": "rate_limited", "fail_attempts": 2, "retry_after": 30}))
    assert run_next(engine) == jobs.QUEUED
    job = jobs.get(engine, job_id)
    assert job is not None and job.attempts == 1 and job.error_type == "rate_limited"
    assert (job.next_run_at - clock.now()).total_seconds() == pytest.approx(30)
    clock.advance(29)
    assert claim(engine, "w") is None  # not before the hint
    clock.advance(1)
    assert run_next(engine) == jobs.QUEUED
    clock.advance(30)
    assert run_next(engine) == jobs.SUCCEEDED
    job = jobs.get(engine, job_id)
    assert job is not None and job.attempts == 3 and job.error_message is None


def test_retry_without_a_hint_backs_off_exponentially(engine: Engine, clock: FakeClock) -> None:
    job_id = jobs.submit(engine, "ann", spec("[[fail:unavailable]] a cat"))
    waits = []
    for _ in range(3):
        before = clock.now()
        assert run_next(engine) == jobs.QUEUED
        job = jobs.get(engine, job_id)
        assert job is not None
        waits.append((job.next_run_at - before).total_seconds())
        clock.advance(waits[-1])
    assert waits == [2.0, 4.0, 8.0]
    assert run_next(engine) == jobs.FAILED  # the 4th attempt is the last
    job = jobs.get(engine, job_id)
    assert job is not None and "gave up after 4 attempts" in (job.error_message or "")


def test_a_hint_longer_than_the_limit_fails_instead_of_waiting(engine: Engine) -> None:
    job_id = jobs.submit(engine, "ann", spec(
        "a cat", params={"fail": "rate_limited", "retry_after": 86400}))
    assert run_next(engine) == jobs.FAILED
    job = jobs.get(engine, job_id)
    assert job is not None and "asked to wait 86400 s" in (job.error_message or "")


def test_a_storage_failure_fails_the_job_and_leaves_no_row_or_object(
    clock: FakeClock, tmp_path: Any
) -> None:
    class FullAfterFirst(LocalStorage):
        puts = 0

        def put(self, key: str, data: bytes, content_type: str) -> None:
            FullAfterFirst.puts += 1
            if FullAfterFirst.puts > 1:
                raise StorageError("The image store is full. Free some space; nothing was saved.")
            super().put(key, data, content_type)

    store = FullAfterFirst(tmp_path / "imgs")
    eng = Engine(config.load(), clock=clock, storage=store)
    try:
        job_id = jobs.submit(eng, "ann", spec())
        assert run_next(eng) == jobs.FAILED
        job = jobs.get(eng, job_id)
        assert job is not None and job.error_type == "storage"
        assert "could not be saved" in (job.error_message or "")
        assert "full" in (job.error_message or "")
        assert eng.db.scalar("SELECT count(*) FROM images") == 0
        assert store.list_keys("img/") == []
    finally:
        eng.close()


def test_an_unexpected_error_fails_the_job_with_its_id_and_the_worker_survives(
    clock: FakeClock,
) -> None:
    class Broken(SandboxProvider):
        def generate(self, req: GenerationRequest, ctx: JobContext) -> GenerationResult:
            raise ZeroDivisionError("boom")

    eng = Engine(config.load(), clock=clock, provider_factory=lambda _pid: Broken(latency=0))
    try:
        job_id = jobs.submit(eng, "ann", spec())
        job = claim(eng, "w")
        assert job is not None
        assert WorkerPool(eng, 1, errors=eng.internal_errors).run_one(job) == jobs.FAILED
        row = jobs.get(eng, job_id)
        assert row is not None and row.error_type == "internal"
        assert job_id in (row.error_message or "")
        assert "boom" not in (row.error_message or "")  # no internals shown to the user
        assert len(eng.internal_errors) == 1
    finally:
        eng.close()


# --------------------------------------------------------------------------- claiming


def test_claiming_is_round_robin_across_users(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    monkeypatch.setenv("PROMPTBOARD_PROVIDER_CONCURRENCY", "10")
    eng = Engine(config.load(), clock=clock)
    try:
        for user, n in (("ann", 3), ("bob", 1), ("cy", 2)):
            for i in range(n):
                jobs.submit(eng, user, spec(f"{user} {i}"))
                clock.advance(1)
        claimed = []
        while (job := claim(eng, "w")) is not None:
            claimed.append(job.user_id)
        assert claimed == ["ann", "bob", "cy", "ann", "cy", "ann"]
    finally:
        eng.close()


def test_round_robin_holds_when_jobs_finish_one_at_a_time(
    engine: Engine, clock: FakeClock
) -> None:
    for user, n in (("ann", 3), ("bob", 2)):
        for i in range(n):
            jobs.submit(engine, user, spec(f"{user} {i}"))
            clock.advance(1)
    served = []
    while (job := claim(engine, "w")) is not None:
        served.append(job.user_id)
        assert process(engine, job) == jobs.SUCCEEDED
    assert served == ["ann", "bob", "ann", "bob", "ann"]


def test_a_provider_never_runs_more_than_its_cap(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    monkeypatch.setenv("PROMPTBOARD_PROVIDER_CONCURRENCY", "2")
    eng = Engine(config.load(), clock=clock)
    try:
        for i in range(4):
            jobs.submit(eng, f"u{i}", spec())
        assert claim(eng, "a") is not None and claim(eng, "b") is not None
        assert claim(eng, "c") is None
    finally:
        eng.close()


class _GatedStorage(LocalStorage):
    """Local storage whose image writes wait until the test opens the gate."""

    def __init__(self, root: Any) -> None:
        super().__init__(root)
        self.gate = threading.Event()
        self.waiting = threading.Event()

    def put(self, key: str, data: bytes, content_type: str) -> None:
        if key.startswith("img/"):
            self.waiting.set()
            assert self.gate.wait(30), "the test never opened the storage gate"
        super().put(key, data, content_type)


def test_the_cap_counts_provider_calls_so_slow_storage_does_not_block_the_next_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMPTBOARD_PROVIDER_CONCURRENCY", "1")
    settings = config.load()
    store = _GatedStorage(settings.data_dir / "images")
    eng = Engine(settings, storage=store)
    try:
        first, second = (jobs.submit(eng, u, spec()) for u in ("ann", "bob"))
        eng.start_workers(threads=2)
        assert store.waiting.wait(30)  # the first job's images are being stored...
        # ...while the second job's provider call may start
        wait_until(lambda: status(eng, second) != jobs.QUEUED, what="the second job to start")
        assert status(eng, second) == jobs.RUNNING and status(eng, first) == jobs.RUNNING
        store.gate.set()
        wait_until(lambda: not jobs.any_active(eng, [first, second]), what="both jobs to end")
        assert [status(eng, j) for j in (first, second)] == [jobs.SUCCEEDED] * 2
    finally:
        store.gate.set()
        eng.close()
    assert not eng.internal_errors


class _DeleteFails(LocalStorage):
    """Local storage whose deletes fail while ``down`` (an S3 outage, say)."""

    down = True

    def delete_prefix(self, prefix: str) -> int:
        if self.down:
            raise StorageError("Storage cannot be reached.")
        return super().delete_prefix(prefix)


def test_a_rerun_after_a_postponed_clean_up_keeps_its_new_images(engine: Engine) -> None:
    """Regression: the clean-up owed for an interrupted job later deleted the images its
    successful rerun had stored under the same prefix."""
    store = _DeleteFails(engine.settings.data_dir / "images")
    engine.storage = store
    job_id = jobs.submit(engine, "ann", spec())
    assert claim(engine, "dead-worker") is not None
    store.put(f"img/{job_id}/half.png", b"half-stored", "image/png")  # then the process dies
    leases.release(engine, "dead")  # its lease ends (on PostgreSQL only that lets recover take it)
    recover(engine)  # storage is down: the clean-up is owed
    assert cleanup.owed(engine) == [f"img/{job_id}/"]
    store.down = False
    assert run_next(engine) == jobs.SUCCEEDED
    cleanup.settle(engine)
    keys = store.list_keys(f"img/{job_id}/")
    assert len(keys) == 2 and not any(k.endswith("half.png") for k in keys)  # original, thumb
    assert cleanup.owed(engine) == []


# --------------------------------------------------------------------------- cancel


def test_cancelling_a_queued_job_is_immediate(engine: Engine) -> None:
    job_id = jobs.submit(engine, "ann", spec())
    assert jobs.cancel(engine, job_id, "ann") == jobs.CANCELLED
    assert status(engine, job_id) == jobs.CANCELLED
    assert claim(engine, "w") is None


def test_nobody_cancels_another_users_job_but_an_admin(engine: Engine) -> None:
    job_id = jobs.submit(engine, "ann", spec())
    with pytest.raises(jobs.IllegalTransition):
        jobs.cancel(engine, job_id, "bob")
    assert jobs.cancel(engine, job_id, "root", admin=True) == jobs.CANCELLED


def test_cancelling_a_running_job_stops_it_cooperatively(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTBOARD_SANDBOX_LATENCY", "120")  # a drawing that would take 2 min
    eng = Engine(config.load())
    try:
        eng.start_workers(threads=1)
        job_id = jobs.submit(eng, "ann", spec())
        wait_until(lambda: status(eng, job_id) == jobs.RUNNING, what="the job to start")
        assert jobs.cancel(eng, job_id, "ann") == "cancelling"
        # ended long before the drawing would have: the provider saw the flag mid-call
        wait_until(lambda: status(eng, job_id) != jobs.RUNNING, what="the cancel to land")
        assert status(eng, job_id) == jobs.CANCELLED
        assert eng.db.scalar("SELECT count(*) FROM images") == 0
    finally:
        eng.close()


# --------------------------------------------------------------------------- recovery


def test_a_job_left_running_is_requeued_cleaned_and_finished(
    clock: FakeClock, backend: str
) -> None:
    eng = Engine(config.load(), clock=clock)
    job_id = jobs.submit(eng, "ann", spec())
    assert claim(eng, "dead-worker") is not None  # then the process "dies"
    eng.storage.put(f"img/{job_id}/half.png", b"partial", "image/png")
    eng.close()

    eng = Engine(config.load(), clock=clock)
    try:
        if backend == "postgres":  # other processes may run jobs: only an expired lease counts
            assert recover(eng) == 0
            clock.advance(eng.settings.lease_s + 1)
        assert recover(eng) == 1
        job = jobs.get(eng, job_id)
        assert job is not None and job.status == jobs.QUEUED and job.attempts == 1
        if backend == "postgres":  # owed, deleted by the rerun before it stores anything
            assert cleanup.owed(eng) == [f"img/{job_id}/"]
            assert "requeued after its worker stopped answering" in jobs.events(eng, job_id)[-1][3]
        else:  # one process holds the file: nothing else can be writing there, delete now
            assert eng.storage.list_keys(f"img/{job_id}/") == []
            assert "requeued after a restart" in jobs.events(eng, job_id)[-1][3]
        assert run_next(eng) == jobs.SUCCEEDED
        assert jobs.get(eng, job_id).attempts == 2  # type: ignore[union-attr]
        assert not any(k.endswith("half.png") for k in eng.storage.list_keys(f"img/{job_id}/"))
        assert cleanup.owed(eng) == []
    finally:
        eng.close()


def test_a_job_interrupted_too_often_fails_instead_of_looping(clock: FakeClock) -> None:
    eng = Engine(config.load(), clock=clock)
    try:
        job_id = jobs.submit(eng, "ann", spec())
        with eng.db.write() as cur:
            cur.execute("UPDATE jobs SET status='running', attempts=max_attempts WHERE id=?",
                        [job_id])
        recover(eng)
        job = jobs.get(eng, job_id)
        assert job is not None and job.status == jobs.FAILED and job.error_type == "interrupted"
    finally:
        eng.close()


# --------------------------------------------------------------------------- pool


def test_the_pool_runs_many_jobs_from_several_users() -> None:
    eng = Engine(config.load())
    try:
        eng.start_workers(threads=3)
        ids = [jobs.submit(eng, f"u{i % 3}", spec(f"p{i}")) for i in range(12)]
        wait_until(lambda: not jobs.any_active(eng, ids), what="all 12 jobs to end")
        assert {j.status for j in jobs.load(eng, ids)} == {jobs.SUCCEEDED}
        assert eng.db.scalar("SELECT count(*) FROM images") == 12
        assert not eng.internal_errors
    finally:
        eng.close()



def test_a_database_write_failure_at_submit_is_a_clear_error(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb

    real_write = engine.db.write

    def broken_write():  # type: ignore[no-untyped-def]
        raise duckdb.IOException("IO Error: No space left on device")

    monkeypatch.setattr(engine.db, "write", broken_write)
    with pytest.raises(jobs.SubmitError, match="could not record the job.*disk"):
        jobs.submit(engine, "ann", spec())
    monkeypatch.setattr(engine.db, "write", real_write)
    assert engine.db.scalar("SELECT count(*) FROM jobs") == 0


def test_a_client_token_only_dedupes_within_a_few_seconds(
    engine: Engine, clock: FakeClock
) -> None:
    first = jobs.submit(engine, "ann", spec(client_token="same-settings"))
    clock.advance(1)
    assert jobs.submit(engine, "ann", spec(client_token="same-settings")) == first
    clock.advance(jobs.DEDUPE_WINDOW_S + 1)
    again = jobs.submit(engine, "ann", spec(client_token="same-settings"))
    assert again != first  # asking again later, on purpose, is a new job
    assert jobs.submit(engine, "bob", spec(client_token="same-settings")) not in (first, again)


def test_closing_the_engine_mid_job_leaves_it_running_for_recovery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMPTBOARD_SANDBOX_LATENCY", "2")
    eng = Engine(config.load())
    eng.start_workers(threads=1)
    job_id = jobs.submit(eng, "ann", spec())
    wait_until(lambda: status(eng, job_id) == jobs.RUNNING, what="the job to start")
    assert eng.pool is not None
    threads = list(eng.pool._threads)
    eng.close(wait_s=0.1)  # the server stops while the job is still drawing
    for t in threads:
        t.join(5)  # the worker finishes its provider call, finds the DB gone, and exits
    assert not any(t.is_alive() for t in threads)
    assert not eng.internal_errors
    again = Engine(config.load())
    try:
        job = jobs.get(again, job_id)
        assert job is not None and job.status == jobs.RUNNING  # left for recovery
        again.start_workers(threads=1)  # recover() requeues it
        wait_until(lambda: status(again, job_id) in jobs.TERMINAL, what="the recovered job")
        assert status(again, job_id) == jobs.SUCCEEDED  # never cancelled by a shutdown
    finally:
        again.close()
