"""The fault matrix: every hosted provider x every failure its fake serves, and storage failures.

Each provider cell runs a real worker pool (two threads) against the provider's fake
server: user ``ann`` submits a job to the failing provider and user ``bob`` a sandbox
job. The cell then proves that

- the job ends in the expected state: failed at once for refusals and unusable answers,
  succeeded after one retry for transient failures (``once``), or failed with "gave up
  after N attempts" when the failure persists (``always``);
- a retry waits exactly the provider's hint (Retry-After, ``retryDelay``, a throttle
  message) or the backoff, on a clock the test moves, and happens only when it should;
- the provider was called once per attempt (for Replicate: a poll or download failure
  resumes the same prediction, and a create that may have started a run is never re-sent);
- the message stored for the user is the error tree's, names what to do, holds no key;
- ``bob``'s sandbox job succeeded while ``ann``'s provider was failing;
- no image row points at nothing and nothing is orphaned (:mod:`invariants`).

Storage cells (sandbox provider, inline runs): S3 down (the bucket on a live ``moto_server``
seen through a refused port, so leftovers can be listed once it is "back"; a killed server
is tests/jobs/test_jobs_s3.py), S3 down at a restart, S3 going down mid-job (a known gap, strict
xfail), disk full (ENOSPC, simulated: see :class:`FullDisk`) and permission denied (a real
kernel refusal where possible: ``chmod`` for a normal user, ``chattr +i`` for root; else a
simulation). The report says which method ran.
Every cell is written to the ``faults`` report section.
"""

from __future__ import annotations

import base64
import dataclasses
import errno
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from lib import jobs
from lib.core import config
from lib.engine import Engine
from lib.jobs.model import FAILED, QUEUED, SUCCEEDED, TERMINAL
from lib.jobs.retry import RetryPolicy
from lib.providers import registry
from lib.providers.base import ERROR_TYPES
from lib.providers.polling import PollingProvider
from lib.storage.local import LocalStorage
from tests import s3server
from tests.fakes import bfl as b
from tests.fakes import compatible as c
from tests.fakes import fal as f
from tests.fakes import gemini as g
from tests.fakes import openai as o
from tests.fakes import replicate as r
from tests.fakes import stability as s
from tests.fakes.a1111 import GENERATE as A1111_GENERATE
from tests.fakes.a1111 import FakeA1111
from tests.fakes.server import Reply
from tests.helpers import TickingClock, run_next, wait_until
from tests.reliability import invariants, report

NO_JITTER = RetryPolicy(base_s=2.0, cap_s=120.0, jitter=0.0)
HTTP_TIMEOUT = 0.5
SLOW = 0.9  # seconds a "timeout" reply waits: longer than HTTP_TIMEOUT
MAX_ATTEMPTS = 4
BACKOFF = [2.0, 4.0, 8.0]  # NO_JITTER's waits after attempts 1, 2, 3
COMPAT = "compat-fault"  # an OpenAI-compatible endpoint (Azure flavour) from an endpoints file


@dataclasses.dataclass
class Fleet:
    """One fake server per hosted provider, shared by the module, reset per cell."""

    gemini: g.FakeGemini
    openai: o.FakeOpenAI
    stability: s.FakeStability
    a1111: FakeA1111
    replicate: r.FakeReplicate
    bfl: b.FakeBFL
    fal: f.FakeFal
    compat: c.FakeCompatible
    endpoints_file: str

    def env(self) -> dict[str, str]:
        return {
            "GEMINI_API_KEY": g.KEY, "GEMINI_BASE_URL": self.gemini.url,
            "OPENAI_API_KEY": o.KEY, "OPENAI_BASE_URL": self.openai.url,
            "STABILITY_API_KEY": self.stability.key, "STABILITY_BASE_URL": self.stability.base_url,
            "A1111_URL": self.a1111.url,
            "REPLICATE_API_TOKEN": self.replicate.token,
            "REPLICATE_BASE_URL": self.replicate.base_url,
            "BFL_API_KEY": self.bfl.key, "BFL_BASE_URL": self.bfl.base_url,
            "FAL_KEY": self.fal.key, "FAL_BASE_URL": self.fal.base_url,
            c.KEY_ENV: self.compat.key, "PROMPTBOARD_ENDPOINTS_FILE": self.endpoints_file,
            "PROMPTBOARD_DOWNLOAD_ALLOW_INSECURE_HOSTS": ",".join((
                self.replicate.delivery_host, f"127.0.0.1:{self.bfl.delivery.port}",
                f"127.0.0.1:{self.fal.cdn.port}")),
        }

    def secrets(self) -> list[str]:
        return [g.KEY, o.KEY, self.stability.key, self.replicate.token, self.bfl.key,
                self.fal.key, self.compat.key]

    def reset(self) -> None:
        for fake in (self.gemini, self.openai, self.stability, self.a1111, self.replicate,
                     self.bfl, self.fal, self.compat):
            fake.reset()

    def calls(self, provider: str) -> int:
        """Generation calls the provider's fake received (for Replicate: creates)."""
        route = {
            "gemini": (self.gemini.server, r"/v1beta/models/[^/]+:generateContent"),
            "openai": (self.openai.server, r"/v1/images/(generations|edits)"),
            "stability": (self.stability.server, r"/v2beta/stable-image/generate/.+"),
            "a1111": (self.a1111.server, r"/sdapi/v1/(txt2img|img2img)"),
            "replicate": (self.replicate.server, r"/v1/models/.+/predictions"),
            "bfl": (self.bfl.server, r"/v1/flux-2-.+"),
            "fal": (self.fal.server, r"/fal-ai/.+"),
            COMPAT: (self.compat.server, r"/openai/deployments/.+/images/generations"),
        }[provider]
        return len(route[0].requests_to("POST", route[1]))


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    compat = c.FakeCompatible("azure")
    endpoints_file = tmp_path_factory.mktemp("endpoints") / "endpoints.toml"
    endpoints_file.write_text(compat.toml(COMPAT.removeprefix("compat-")), encoding="utf-8")
    found = Fleet(g.FakeGemini(), o.FakeOpenAI(), s.FakeStability(), FakeA1111(),
                  r.FakeReplicate(), b.FakeBFL(), f.FakeFal(), compat, str(endpoints_file))
    yield found
    for fake in (found.gemini, found.openai, found.stability, found.a1111, found.replicate,
                 found.bfl, found.fal, found.compat):
        fake.close()


# --------------------------------------------------------------------------- the cells

Arm = Callable[[Fleet, int], None]  # script a fault at a fake, this many times


def _queue(provider: str, reply: Reply) -> Arm:
    """The fault as the provider's next generation answer(s)."""
    def arm(fleet: Fleet, times: int) -> None:
        if provider in ("gemini", "openai"):
            getattr(fleet, provider).enqueue(*[reply] * times)
        elif provider == "stability":
            fleet.stability.server.script(s.GENERATE, *[reply] * times)
        elif provider == "a1111":
            fleet.a1111.server.script(A1111_GENERATE, *[reply] * times)
        elif provider == "bfl":
            fleet.bfl.server.script(b.SUBMIT, *[reply] * times)
        elif provider == "fal":
            fleet.fal.server.script(f.SUBMIT, *[reply] * times)
        elif provider == COMPAT:
            fleet.compat.server.script(fleet.compat.route, *[reply] * times)
        else:
            fleet.replicate.server.script(r.CREATE, *[reply] * times)
    return arm


def _replicate_poll(reply: Reply) -> Arm:
    return lambda fleet, times: fleet.replicate.server.script(r.GET, *[reply] * times)


def _replicate_download(reply: Reply) -> Arm:
    return lambda fleet, times: fleet.replicate.delivery.script(r.DELIVERY, *[reply] * times)


def _script(server: Callable[[Fleet], Any], route: str, reply: Reply) -> Arm:
    """The fault at another route of a fake (a poll, a result, a download)."""
    return lambda fleet, times: server(fleet).script(route, *[reply] * times)


def _bfl_moderated(fleet: Fleet, times: int) -> None:
    fleet.bfl.plan = ["Pending", "Content Moderated"]


def _replicate_nsfw(fleet: Fleet, times: int) -> None:
    fleet.replicate.plan = ["failed"]
    fleet.replicate.fail_error = r.NSFW


@dataclasses.dataclass(frozen=True)
class Cell:
    """One provider x fault: how to cause it and what must happen."""

    provider: str
    fault: str
    arm: Arm
    retried: bool  # transient: retried; otherwise it fails at once
    error_type: str
    says: str  # a fragment of the message the user reads
    hint: float | None = None  # the provider's wait hint; None: the backoff
    resumes: bool = False  # Replicate: a retry resumes the prediction, no second create
    spec: dict[str, Any] = dataclasses.field(default_factory=dict)


def _truncated_png() -> bytes:
    return s.png_bytes(200, 200)[:300]


def _timeout(body: Any = None) -> Reply:
    return Reply(200, {} if body is None else body, delay=SLOW)


CELLS: list[Cell] = [
    # Gemini
    Cell("gemini", "rate_limit", _queue("gemini", g.rate_limited("7s")), True, "rate_limited",
         "rate limiting", hint=7.0),
    Cell("gemini", "server_error", _queue("gemini", g.server_error(503)), True, "unavailable",
         "HTTP 503 UNAVAILABLE"),
    Cell("gemini", "timeout", _queue("gemini", _timeout()), True, "unavailable",
         "did not answer within"),
    Cell("gemini", "reset", _queue("gemini", Reply(reset=True)), True, "unavailable",
         "could not be reached"),
    Cell("gemini", "malformed", _queue("gemini", g.malformed()), False, "bad_response",
         "not valid JSON"),
    Cell("gemini", "truncated_image", _queue("gemini", g.truncated_image()), False,
         "bad_response", "could not be read"),
    Cell("gemini", "safety", _queue("gemini", g.prompt_blocked()), False, "safety", "Rephrase"),
    Cell("gemini", "quota", _queue("gemini", g.daily_quota()), False, "quota",
         "Try again tomorrow"),
    # OpenAI Images
    Cell("openai", "rate_limit", _queue("openai", o.rate_limited("3")), True, "rate_limited",
         "rate limiting", hint=3.0),
    Cell("openai", "server_error", _queue("openai", o.server_error(500)), True, "unavailable",
         "HTTP 500"),
    Cell("openai", "timeout", _queue("openai", _timeout()), True, "unavailable",
         "did not answer within"),
    Cell("openai", "reset", _queue("openai", Reply(reset=True)), True, "unavailable",
         "could not be reached"),
    Cell("openai", "malformed", _queue("openai", o.malformed()), False, "bad_response",
         "not valid JSON"),
    Cell("openai", "truncated_image", _queue("openai", o.truncated_image()), False,
         "bad_response", "could not be read"),
    Cell("openai", "safety", _queue("openai", o.moderation_blocked("input")), False, "safety",
         "input stage"),
    Cell("openai", "quota", _queue("openai", o.insufficient_quota()), False, "quota",
         "Add credit at platform.openai.com/account/billing"),
    # Stability AI
    Cell("stability", "rate_limit", _queue("stability", s.error(
        429, "rate_limited", "too many", headers={"Retry-After": "7"})), True, "rate_limited",
        "rate limiting", hint=7.0),
    Cell("stability", "server_error", _queue("stability", s.error(500, "internal_error", "oops")),
         True, "unavailable", "HTTP 500"),
    Cell("stability", "timeout", _queue("stability", _timeout(s.png_bytes())), True,
         "unavailable", "did not answer within"),
    Cell("stability", "reset", _queue("stability", Reply(reset=True)), True, "unavailable",
         "could not be reached"),
    Cell("stability", "malformed", _queue("stability", Reply(
        200, "{not json", {"Content-Type": "application/json"})), False, "bad_response",
        "not valid JSON", spec={"params": {"response_format": "json"}}),
    Cell("stability", "truncated_image", _queue("stability", s.image_reply(_truncated_png())),
         False, "bad_response", "could not be read"),
    Cell("stability", "safety", _queue("stability", s.error(
        403, "content_moderation", "Your request was flagged")), False, "safety", "flagged"),
    Cell("stability", "quota", _queue("stability", s.error(
        402, "payment_required", "out of credits")), False, "quota", "platform.stability.ai"),
    # AUTOMATIC1111 (a local server: no rate limit, safety system or quota to serve)
    Cell("a1111", "server_error", _queue("a1111", Reply(503, "Service Unavailable")), True,
         "unavailable", "not ready"),
    Cell("a1111", "timeout", _queue("a1111", _timeout({"images": []})), True, "unavailable",
         "did not answer within"),
    Cell("a1111", "reset", _queue("a1111", Reply(reset=True)), True, "unavailable",
         "Is it running, with --api?"),
    Cell("a1111", "malformed", _queue("a1111", Reply(200, "<html>not json")), False,
         "bad_response", "not valid JSON"),
    Cell("a1111", "truncated_image", _queue("a1111", Reply(200, {
        "images": [base64.b64encode(_truncated_png()).decode()], "parameters": {},
        "info": "{}"})), False, "bad_response", "could not be read"),
    # Replicate: a create that may have started a billed run is never re-sent
    Cell("replicate", "rate_limit", _queue("replicate", r.problem(
        429, "Request was throttled.", headers={"Retry-After": "12"})), True, "rate_limited",
        "throttled", hint=12.0),
    Cell("replicate", "server_error", _queue("replicate", r.problem(503, "Service unavailable")),
         True, "unavailable", "HTTP 503"),
    Cell("replicate", "timeout", _queue("replicate", Reply(201, {"id": "late"}, delay=SLOW)),
         False, "uncertain", "check replicate.com/predictions before retrying"),
    Cell("replicate", "reset", _replicate_poll(Reply(reset=True)), True, "unavailable",
         "could not be reached", resumes=True),
    Cell("replicate", "malformed", _replicate_poll(Reply(200, "{not json")), True, "unavailable",
         "Replicate", resumes=True),
    Cell("replicate", "truncated_image", _replicate_download(Reply(
        200, _truncated_png(), {"Content-Type": "image/png"})), False, "bad_response",
        "could not be read"),
    Cell("replicate", "safety", _replicate_nsfw, False, "safety", "safety checker"),
    Cell("replicate", "quota", _queue("replicate", r.problem(
        402, "Payment required: out of credit")), False, "quota", "add billing"),
    # Black Forest Labs: a submit starts a billed task; a poll failure resumes it
    Cell("bfl", "rate_limit", _queue("bfl", Reply(429, {"detail": "Too many active tasks"},
                                                  {"Retry-After": "7"})), True,
         "rate_limited", "too many active tasks", hint=7.0),
    Cell("bfl", "server_error", _queue("bfl", Reply(503, {"detail": "busy"})), True,
         "unavailable", "HTTP 503"),
    Cell("bfl", "timeout", _queue("bfl", Reply(200, {"id": "late"}, delay=SLOW)), False,
         "uncertain", "dashboard.bfl.ai before retrying"),
    Cell("bfl", "reset", _script(lambda fl: fl.bfl.server, b.POLL, Reply(reset=True)), True,
         "unavailable", "could not be reached", resumes=True),
    Cell("bfl", "malformed", _script(lambda fl: fl.bfl.server, b.POLL,
                                     Reply(200, "{not json")), True,
         "unavailable", "unreadable state", resumes=True),
    Cell("bfl", "truncated_image", _script(lambda fl: fl.bfl.delivery, b.DELIVERY, Reply(
        200, _truncated_png(), {"Content-Type": "image/png"})), False, "bad_response",
        "could not be read"),
    Cell("bfl", "safety", _bfl_moderated, False, "safety", "moderation stopped this"),
    Cell("bfl", "quota", _queue("bfl", Reply(402, {"detail": "Insufficient credits"})), False,
         "quota", "Add credits at dashboard.bfl.ai"),
    # fal.ai: the same rule through its queue
    Cell("fal", "rate_limit", _queue("fal", Reply(429, {"detail": "Rate limited"},
                                                  {"Retry-After": "7"})), True,
         "rate_limited", "rate limiting", hint=7.0),
    Cell("fal", "server_error", _queue("fal", Reply(503, {"detail": "busy"})), True,
         "unavailable", "HTTP 503"),
    Cell("fal", "timeout", _queue("fal", Reply(200, {"request_id": "late"}, delay=SLOW)),
         False, "uncertain", "fal.ai/dashboard/requests before retrying"),
    Cell("fal", "reset", _script(lambda fl: fl.fal.server, f.STATUS, Reply(reset=True)), True,
         "unavailable", "could not be reached", resumes=True),
    Cell("fal", "malformed", _script(lambda fl: fl.fal.server, f.STATUS,
                                     Reply(200, "{not json")), True,
         "unavailable", "unreadable state", resumes=True),
    Cell("fal", "truncated_image", _script(lambda fl: fl.fal.cdn, f.CDN, Reply(
        200, _truncated_png(), {"Content-Type": "image/png"})), False, "bad_response",
        "could not be read"),
    Cell("fal", "safety", _script(lambda fl: fl.fal.server, f.RESULT, Reply(422, {"detail": [
        {"type": "content_policy_violation", "msg": "The content was flagged."}]})), False,
        "safety", "content checker"),
    Cell("fal", "quota", _queue("fal", Reply(403, {
        "detail": "User is locked. Reason: Exhausted balance."})), False, "quota", "Top up"),
]
CELLS += [  # an OpenAI-compatible endpoint, Azure flavour (api-key, deployments path)
    Cell(COMPAT, "rate_limit", _queue(COMPAT, c.error(429, "Rate limit reached.",
                                                      "rate_limit_exceeded",
                                                      {"Retry-After": "7"})), True,
         "rate_limited", "rate limiting", hint=7.0),
    Cell(COMPAT, "server_error", _queue(COMPAT, c.error(500, "The server had an error.")), True,
         "unavailable", "HTTP 500"),
    Cell(COMPAT, "timeout", _queue(COMPAT, _timeout()), True, "unavailable",
         "did not answer within"),
    Cell(COMPAT, "reset", _queue(COMPAT, Reply(reset=True)), True, "unavailable",
         "could not be reached"),
    Cell(COMPAT, "malformed", _queue(COMPAT, Reply(200, b'{"data": [', {
        "Content-Type": "application/json"})), False, "bad_response", "not valid JSON"),
    Cell(COMPAT, "truncated_image", _queue(COMPAT, Reply(200, {"data": [{"b64_json": base64.
        b64encode(_truncated_png()).decode()}]})), False, "bad_response", "could not be read"),
    Cell(COMPAT, "safety", _queue(COMPAT, c.content_filter()), False, "safety",
         "content management policy"),
    Cell(COMPAT, "quota", _queue(COMPAT, c.error(429, "You exceeded your current quota.",
                                                 "insufficient_quota")), False, "quota",
         "out of credit"),
]
NOT_SERVED = {  # (provider, fault): why there is no cell
    ("a1111", "rate_limit"): "a local server has no rate limit",
    ("a1111", "safety"): "AUTOMATIC1111 has no safety system in its API",
    ("a1111", "quota"): "a local server has no quota",
}


def _params() -> list[Any]:
    out = []
    for cell in CELLS:
        for persist in (("once", "always") if cell.retried else ("once",)):
            out.append(pytest.param(cell, persist, id=f"{cell.provider}-{cell.fault}-{persist}"))
    return out


# --------------------------------------------------------------------------- running a cell


@pytest.fixture(scope="module", autouse=True)
def _matrix() -> Iterator[None]:
    """After the module: the cells as one provider x fault matrix in the ``fault_matrix`` section.

    A cell reads ``ok@2`` (succeeded on the 2nd try), ``F:safety@1`` (failed with that error
    type at the 1st try), ``n/a``; a retried fault shows ``once / always``.
    """
    yield
    cells: dict[str, dict[str, list[str]]] = {}
    for row in report.rows("faults"):
        if row["provider"] == "storage":
            continue  # one row each in the detailed table is clearer
        status = row.get("status")
        short = ("ok" if status == SUCCEEDED else "n/a" if status == "n/a"
                 else f"F:{row.get('error')}")
        if status != "n/a":
            short += f"@{row.get('attempts')}"
        cells.setdefault(str(row["provider"]), {}).setdefault(str(row["fault"]), []).append(short)
    for provider, faults in cells.items():
        report.row("fault_matrix", provider=provider,
                   **{fault: " / ".join(v) for fault, v in faults.items()})


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with migrations, prices and styles in place; each cell starts from a copy."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PROMPTBOARD_DATA_DIR", str(tmp_path_factory.mktemp("template")))
        settings = config.load()
        Engine(settings).close()
    assert not settings.db_path.with_suffix(".duckdb.wal").exists()
    return settings.db_path


@pytest.fixture
def engine(fleet: Fleet, migrated: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    fleet.reset()
    for name, value in fleet.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PROMPTBOARD_HTTP_TIMEOUT", str(HTTP_TIMEOUT))
    monkeypatch.setenv("PROMPTBOARD_MAX_ATTEMPTS", str(MAX_ATTEMPTS))
    shutil.copyfile(migrated, config.load().db_path)  # a fresh database costs ~0.5 s per cell
    assert registry.reload() == []  # the endpoints file names the compatible fake

    def factory(provider_id: str) -> Any:
        p = registry.create(provider_id)
        if isinstance(p, PollingProvider):
            p.poll_interval = 0.01
        return p

    eng = Engine(config.load(), clock=TickingClock(), provider_factory=factory,
                 retry_policy=NO_JITTER)
    yield eng
    eng.close()
    monkeypatch.setenv("PROMPTBOARD_ENDPOINTS_FILE", os.devnull)  # as tests/conftest.py
    registry.reload()  # the built-in providers only, as for every other test
    assert not eng.internal_errors, eng.internal_errors


def _settled(eng: Engine, job_id: str, tries_seen: int, timeout_s: float = 30.0) -> jobs.Job:
    """Wait until the job is terminal, or back in the queue after attempt ``tries_seen + 1``."""
    def settled() -> jobs.Job | None:
        job = jobs.get(eng, job_id)
        assert job is not None
        done = job.status in TERMINAL or (job.status == QUEUED and job.attempts > tries_seen)
        return job if done else None

    def stuck() -> str:
        job = jobs.get(eng, job_id)
        return f"job {job_id} to settle; stuck: {job and job.status}, {job and job.attempts} tries"

    return wait_until(settled, timeout=timeout_s, interval=0.02, what=stuck)


@pytest.mark.parametrize(("cell", "persist"), _params())
def test_fault_cell(engine: Engine, fleet: Fleet, cell: Cell, persist: str) -> None:
    clock = engine.clock
    assert isinstance(clock, TickingClock)
    cell.arm(fleet, MAX_ATTEMPTS if persist == "always" else 1)
    hosted = jobs.submit(engine, "ann", jobs.JobSpec(
        prompt="a lighthouse at dusk", provider=cell.provider, **cell.spec))
    other = jobs.submit(engine, "bob", jobs.JobSpec(prompt="a quiet harbour", width=96,
                                                    height=96))
    engine.start_workers(threads=2)

    waits: list[float] = []
    retry_messages: list[str] = []
    while True:
        job = _settled(engine, hosted, len(waits))
        if job.status in TERMINAL:
            break
        assert job.error_type == cell.error_type and cell.says in (job.error_message or "")
        retry_messages.append(job.error_message or "")
        # the other user is served while this provider fails
        assert _settled(engine, other, 0).status == SUCCEEDED
        wait = (job.next_run_at - clock.now()).total_seconds()
        waits.append(wait)
        clock.advance(wait)
        engine.wake_workers()
    assert _settled(engine, other, 0).status == SUCCEEDED

    tries = 1 if not cell.retried else (MAX_ATTEMPTS if persist == "always" else 2)
    expected_waits = [cell.hint] * (tries - 1) if cell.hint else BACKOFF[: tries - 1]
    assert waits == pytest.approx(expected_waits), "retried at the wrong moments"
    assert job.attempts == tries
    calls = fleet.calls(cell.provider)
    assert calls == (1 if cell.resumes else tries), f"{calls} calls for {tries} attempts"
    message = job.error_message or ""
    if cell.retried and persist == "once":
        assert job.status == SUCCEEDED and job.error_type is None
    else:
        assert job.status == FAILED and job.error_type == cell.error_type
        assert cell.says in message and ERROR_TYPES[cell.error_type]
        if cell.retried:
            assert f"gave up after {MAX_ATTEMPTS} attempts" in message
        assert "Traceback" not in message and len(message) < 600
    for secret in fleet.secrets():
        assert all(secret not in m for m in [message, *retry_messages])
    seen = invariants.check(engine, [hosted, other])
    report.row("faults", provider=cell.provider, fault=cell.fault, persists=persist,
               status=job.status, attempts=job.attempts, calls=calls,
               waits_s=",".join(f"{w:g}" for w in waits) or "-", error=job.error_type,
               other_user="served", objects=seen["objects"],
               message=(retry_messages[:1] or [message])[0])


def test_every_fault_a_fake_serves_has_a_cell() -> None:
    faults = ("rate_limit", "server_error", "timeout", "reset", "malformed", "truncated_image",
              "safety", "quota")
    providers = [p for p in registry.BUILT_IN if p != "sandbox"] + [COMPAT]
    covered = {(c.provider, c.fault) for c in CELLS}
    for provider in providers:
        for fault in faults:
            assert ((provider, fault) in covered) != ((provider, fault) in NOT_SERVED), (
                provider, fault)
    for (provider, fault), why in NOT_SERVED.items():
        report.row("faults", provider=provider, fault=fault, persists="-", status="n/a",
                   message=why)


# --------------------------------------------------------------------------- storage


class FullDisk(LocalStorage):
    """Local storage on a disk that fills up: image writes beyond ``room`` fail with ENOSPC.

    Simulated (no tmpfs to fill on this machine): the OSError is raised where the write
    would be and goes through LocalStorage's own translation, as a full disk's would.
    """

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.room: int | None = None  # None: plenty of space

    def put(self, key: str, data: bytes, content_type: str) -> None:
        if self.room is not None and key.startswith("img/"):
            if self.room <= 0:
                exc = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.root))
                raise self._error(exc, "save", key) from exc
            self.room -= 1
        super().put(key, data, content_type)


class DeniedDisk(LocalStorage):
    """Fallback when the kernel cannot be made to refuse (root without ``chattr``): EACCES."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.denied = False

    def put(self, key: str, data: bytes, content_type: str) -> None:
        if self.denied:
            exc = PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self.root))
            raise self._error(exc, "save", key) from exc
        super().put(key, data, content_type)


@contextmanager
def _refused(folder: Path, store: DeniedDisk) -> Iterator[str]:
    """Make ``folder`` refuse new files; yields how ("chmod", "chattr +i" or "simulated")."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        try:
            yield "chmod 0500 (real EACCES)"
        finally:
            folder.chmod(0o700)
        return
    chattr = shutil.which("chattr")
    if chattr and subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode == 0:
        try:
            yield "chattr +i as root (real EPERM)"
        finally:
            subprocess.run([chattr, "-i", str(folder)], check=True)
        return
    store.denied = True  # root ignores permission bits and the folder cannot be made immutable
    try:
        yield "simulated EACCES (root, no chattr)"
    finally:
        store.denied = False


def _sandbox(eng: Engine, user: str = "ann", n: int = 2) -> str:
    return jobs.submit(eng, user, jobs.JobSpec(prompt=f"storage fault {user}", width=96,
                                               height=96, n=n))


def _storage_row(fault: str, how: str, job: jobs.Job, recovered: str, objects: Any) -> None:
    report.row("faults", provider="storage", fault=fault, persists="-", status=job.status,
               attempts=job.attempts, calls="-", waits_s="-", error=job.error_type,
               other_user=recovered, objects=objects, message=job.error_message, how=how)


def test_disk_full_fails_the_job_clearly_and_leaves_nothing_behind() -> None:
    settings = config.load()
    store = FullDisk(settings.images_dir)
    eng = Engine(settings, storage=store)
    try:
        store.room = 1  # the original fits, its thumbnail does not: the original is removed
        failed = _sandbox(eng)
        assert run_next(eng) == FAILED
        job = jobs.get(eng, failed)
        assert job is not None and job.error_type == "storage"
        assert "could not be saved" in (job.error_message or "")
        assert "image store is full" in (job.error_message or "")
        assert store.list_keys("img/") == []
        store.room = None  # space freed: the next job works
        fine = _sandbox(eng, "bob")
        assert run_next(eng) == SUCCEEDED
        seen = invariants.check(eng, [failed, fine])
    finally:
        eng.close()
    _storage_row("disk_full", "simulated ENOSPC on the 2nd write", job, "next job ok",
                 seen["objects"])


def test_permission_denied_fails_the_job_clearly_and_leaves_nothing_behind() -> None:
    settings = config.load()
    store = DeniedDisk(settings.images_dir)
    eng = Engine(settings, storage=store)
    try:
        warm = _sandbox(eng, "bob", n=1)  # the img/ folder exists, as on a used install
        assert run_next(eng) == SUCCEEDED
        with _refused(settings.images_dir / "img", store) as how:
            failed = _sandbox(eng)
            assert run_next(eng) == FAILED
        job = jobs.get(eng, failed)
        assert job is not None and job.error_type == "storage"
        message = job.error_message or ""
        assert "cannot write to" in message and "permission denied" in message
        assert "PROMPTBOARD_DATA_DIR" in message
        fine = _sandbox(eng, "bob")  # access restored: the next job works
        assert run_next(eng) == SUCCEEDED
        seen = invariants.check(eng, [warm, failed, fine])
    finally:
        eng.close()
    _storage_row("permission_denied", how, job, "next job ok", seen["objects"])


moto_endpoint = s3server.moto_endpoint  # one live moto_server for the tests below


class _S3:
    """Two views of one bucket: through the live server, and through a refused port (down)."""

    def __init__(self, endpoint: str, bucket: str) -> None:
        from lib.storage.s3 import S3Storage

        client = s3server.client_for(endpoint, timeout_s=1.0, max_attempts=1)
        client.create_bucket(Bucket=bucket)
        self.up = S3Storage(bucket, "faults", client=client)
        self.down = S3Storage(bucket, "faults", client=s3server.client_for(
            f"http://127.0.0.1:{_closed_port()}", timeout_s=1.0, max_attempts=1))


class OutageAfter:
    """S3 that goes down after ``puts`` successful writes (and stays down for deletes)."""

    def __init__(self, s3: _S3, puts: int) -> None:
        self.s3, self.left = s3, puts

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3.up if self.left > 0 else self.s3.down, name)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        store = self.s3.up if self.left > 0 else self.s3.down
        self.left -= 1
        store.put(key, data, content_type)


def test_s3_down_fails_the_job_clearly_and_leaves_nothing_behind(moto_endpoint: str) -> None:
    """S3 unreachable from the job's first write (a killed moto_server, as in
    tests/jobs/test_jobs_s3.py)."""
    s3 = _S3(moto_endpoint, "down")
    eng = Engine(config.load(), storage=OutageAfter(s3, puts=0))  # type: ignore[arg-type]
    try:
        failed = _sandbox(eng)
        assert run_next(eng) == FAILED
        job = jobs.get(eng, failed)
        assert job is not None and job.error_type == "storage"
        message = job.error_message or ""
        assert "could not be saved" in message and "cannot be reached" in message
        assert "AWS_ENDPOINT_URL" in message and "testing" not in message  # no credentials
    finally:
        eng.close()
    eng = Engine(config.load(), storage=s3.up)  # S3 is back: nothing half-stored, next job ok
    try:
        fine = _sandbox(eng, "bob")
        assert run_next(eng) == SUCCEEDED
        seen = invariants.check(eng, [failed, fine])
    finally:
        eng.close()
    _storage_row("s3_down", "client on a refused port, bucket checked on moto_server", job,
                 "next job ok", seen["objects"])


def test_s3_down_mid_job_leaves_no_orphan_once_it_is_back(moto_endpoint: str) -> None:
    """What was stored before S3 went down cannot be deleted then; its prefix is owed
    (lib.jobs.cleanup) and deleted at the next start-up, once S3 is back."""
    from lib.jobs import cleanup

    s3 = _S3(moto_endpoint, "midjob")
    eng = Engine(config.load(), storage=OutageAfter(s3, puts=1))  # type: ignore[arg-type]
    try:
        failed = _sandbox(eng)
        assert run_next(eng) == FAILED
        job = jobs.get(eng, failed)
        assert job is not None and job.error_type == "storage"
        assert "cannot be reached" in (job.error_message or "")
        assert cleanup.owed(eng) == [f"img/{failed}/"]
    finally:
        eng.close()
    eng = Engine(config.load(), storage=s3.up)  # S3 is back; start-up may clean up
    try:
        eng.start_workers(threads=1, only=frozenset())
        invariants.check(eng, [failed])
        assert cleanup.owed(eng) == []
    finally:
        eng.close()


def test_s3_down_at_restart_still_starts_the_workers_and_orphans_nothing(
    moto_endpoint: str,
) -> None:
    """A job a killed worker left half-stored is requeued even while S3 is unreachable.

    Found by this suite: ``recover`` let the StorageError escape, so no worker (and in the
    dashboard, no page) started until S3 came back. The objects it could not remove then
    are removed when the job runs again.
    """
    from lib.jobs.claim import claim

    s3 = _S3(moto_endpoint, "restart")
    eng = Engine(config.load(), storage=s3.up)
    job_id = _sandbox(eng)
    assert claim(eng, "killed-worker") is not None
    eng.storage.put(f"img/{job_id}/half.png", b"half-stored", "image/png")  # then SIGKILL
    eng.close()

    eng = Engine(config.load(), storage=s3.down)
    try:
        eng.start_workers(threads=1, only=frozenset())  # recovers, claims nothing; no raise
        assert eng.pool is not None
        job = jobs.get(eng, job_id)
        assert job is not None and job.status == QUEUED
    finally:
        eng.close()

    eng = Engine(config.load(), storage=s3.up)  # S3 is back
    try:
        assert run_next(eng) == SUCCEEDED
        seen = invariants.check(eng, [job_id])
    finally:
        eng.close()
    assert seen["objects"] == 4  # two images, original and thumbnail each; half.png is gone
    report.row("faults", provider="storage", fault="s3_down_at_restart", persists="-",
               status="succeeded", attempts=2, calls="-", waits_s="-", error="-",
               other_user="workers started", objects=seen["objects"],
               message="requeued while S3 was down; leftovers removed on the rerun",
               how="a client on a closed port, then the live moto_server")


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
