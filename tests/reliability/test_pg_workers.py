"""Worker processes on one PostgreSQL database: killed, frozen past their lease, and still
nothing is lost, doubled or orphaned; a job queued or cancelled by another process is seen
at once.

Two ``python -m lib.cli work`` processes (A and B, two threads each, a 3 s lease) run a
mixed queue against the offline sandbox and the fake OpenAI and Replicate servers, which
count every call per job. B is frozen with SIGSTOP as soon as it holds a job and stays frozen
for two leases, so A must take B's jobs back while B is alive but silent; meanwhile A is
killed with SIGKILL at random moments and restarted (its jobs are taken back by the next A).
B then wakes up, finishes the provider calls it was in, and must find its writes refused.
Both are stopped with SIGTERM at the end, which lets their leases go.
:func:`tests.reliability.invariants.check` then proves every job ended once, no image row
points at nothing, nothing is orphaned and the ledger adds up; the fakes prove no job made
more provider calls than its counted attempts. Short variant (always): 30 jobs, A killed 3
times; soak (``PROMPTBOARD_SOAK=1``): 120 jobs, A killed 10 times.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from lib import jobs
from lib.core import config
from lib.engine import Engine
from tests.helpers import ROOT, wait_until
from tests.reliability import invariants, report
from tests.reliability._crash_helpers import Fakes, calls_per_job, spec

LEASE_S = 3


@pytest.fixture
def pg(postgres_url: str, fakes: Fakes, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The test's engine, made after ``fakes`` set the environment (its jobs get the fakes'
    attempt limit: a kill mid-run counts as an attempt)."""
    monkeypatch.setenv("PROMPTBOARD_DATABASE_URL", postgres_url)
    monkeypatch.setenv("PROMPTBOARD_LEASE_S", str(LEASE_S))
    eng = Engine(config.load())  # migrates; this process runs no workers
    yield eng
    eng.close()


def _worker(log: Path, threads: int = 2) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "lib.cli", "work", "--threads", str(threads)],
            cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=err)


def _held(eng: Engine, pid: int) -> set[str]:
    """Running jobs claimed by the threads of the worker process ``pid``."""
    return {r[0] for r in eng.db.fetchall(
        "SELECT j.id FROM jobs j JOIN workers w ON j.worker_id LIKE w.id || '-%' "
        "WHERE w.pid = ? AND j.status = 'running'", [pid])}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def test_two_workers_killed_and_frozen_lose_and_double_nothing(
    pg: Engine, fakes: Fakes, tmp_path: Path
) -> None:
    _soak(pg, fakes, tmp_path, n_jobs=30, kills=3, seed=15)


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_soak_two_workers_120_jobs_ten_kills(pg: Engine, fakes: Fakes, tmp_path: Path) -> None:
    _soak(pg, fakes, tmp_path, n_jobs=120, kills=10, seed=2026)


def _soak(pg: Engine, fakes: Fakes, tmp_path: Path, n_jobs: int, kills: int, seed: int) -> None:
    started = time.monotonic()
    rng = random.Random(seed)
    specs = [spec(i) for i in range(n_jobs)]
    ids = [jobs.submit(pg, f"user{i % 4}", s) for i, s in enumerate(specs)]
    prompt_to_id = {s.prompt: job_id for s, job_id in zip(specs, ids, strict=True)}
    log = tmp_path / "workers.log"
    a, b = _worker(log), _worker(log)
    try:
        frozen = wait_until(lambda: _held(pg, b.pid), what="worker B to hold a job")
        b.send_signal(signal.SIGSTOP)
        frozen_at = time.monotonic()
        done = 0
        while done < kills:
            wait_until(lambda pid=a.pid: _held(pg, pid), timeout=60,
                       what="worker A to hold a job")
            time.sleep(rng.uniform(0.0, 1.2))
            a.send_signal(signal.SIGKILL)
            assert a.wait(timeout=30) == -signal.SIGKILL
            done += 1
            a = _worker(log)
        wait_until(lambda: not (_held(pg, b.pid) & frozen), timeout=60,
                   what="a live worker to take B's jobs back")
        time.sleep(max(0.0, 2 * LEASE_S - (time.monotonic() - frozen_at)))
        b.send_signal(signal.SIGCONT)
        wait_until(lambda: not pg.db.scalar(
            "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')"),
            timeout=240, what=lambda: f"the queue to drain; see {log}:\n{log.read_text()}")
    finally:
        b.send_signal(signal.SIGCONT)
    pids = (a.pid, b.pid)
    _stop(a)
    _stop(b)

    seen = invariants.check(pg, ids)
    assert seen["jobs_succeeded"] == len(ids), seen  # every job gets through
    openai, creates = calls_per_job(fakes, prompt_to_id)
    by_id = {j.id: j for j in jobs.load(pg, ids)}
    for job_id, job in by_id.items():
        calls = openai[job_id] + creates[job_id]
        assert calls <= job.attempts, f"{job_id}: {calls} provider calls, {job.attempts} tries"
    taken = {r[0] for r in pg.db.fetchall(
        "SELECT job_id FROM job_events WHERE detail = 'requeued after its worker stopped "
        "answering'")}
    assert frozen <= taken, "a frozen worker's job was not taken back by the live one"
    refused = log.read_text().count("on another attempt than")
    alive = {r[0] for r in pg.db.fetchall("SELECT pid FROM workers")}
    assert not alive & set(pids), "a worker stopped by SIGTERM is still listed"
    attempts = Counter(j.attempts for j in by_id.values())
    report.figures(
        f"pg_workers_{n_jobs}_jobs", kills=kills, sigstop_s=2 * LEASE_S, **seen,
        jobs_taken_back=len(taken), frozen_jobs=len(frozen), stale_writes_refused=refused,
        attempts_histogram={str(k): attempts[k] for k in sorted(attempts)},
        openai_calls=sum(openai.values()), replicate_creates=sum(creates.values()),
        wall_s=round(time.monotonic() - started, 1))


def test_a_job_queued_or_cancelled_elsewhere_is_seen_within_a_second(
    pg: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTBOARD_SANDBOX_LATENCY", "20")
    log = tmp_path / "worker.log"
    worker = _worker(log, threads=1)
    try:
        wait_until(lambda: pg.db.scalar("SELECT count(*) FROM workers"), what="the worker")
        time.sleep(1.0)  # idle, waiting
        job_id = jobs.submit(pg, "ann", jobs.JobSpec(prompt="elsewhere", width=64, height=64))
        job = wait_until(lambda: (j := jobs.get(pg, job_id)) and j.started_at and j,
                         what="the worker process to claim the job")
        claimed_after = (job.started_at - job.created_at).total_seconds()
        assert claimed_after < 1.0, claimed_after
        assert jobs.cancel(pg, job_id, "ann") == "cancelling"
        asked = time.monotonic()
        wait_until(lambda: jobs.get(pg, job_id).status == jobs.CANCELLED,  # type: ignore[union-attr]
                   what="the worker process to see the cancel")
        cancelled_after = time.monotonic() - asked
        assert cancelled_after < 1.5, cancelled_after  # the flag is read every half second
    finally:
        _stop(worker)
    report.figures("pg_cross_process_wake", claimed_after_s=round(claimed_after, 3),
                   cancelled_after_s=round(cancelled_after, 3))
