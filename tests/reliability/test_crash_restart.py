"""SIGKILL the worker at random moments, restart it, and nothing is lost, doubled or orphaned.

The dashboard's worker (``python -m lib.cli work``, the same pool the dashboard starts)
runs in a subprocess against the offline sandbox and two fake hosted providers served
from this process on 127.0.0.1: OpenAI (one call per attempt) and Replicate (a create,
then polls; its prediction id is saved so a restart resumes it instead of paying again).
Each round waits until the worker is busy with a provider call, lets a random moment
pass and kills it with SIGKILL; the next round is the restart. After the last kill a
worker drains the queue, and :func:`tests.reliability.invariants.check` proves every job
ended once, no image row points at nothing, nothing is orphaned and the ledger adds up.
The fakes count requests per job: never more provider calls than counted attempts.

Short variant (always): 24 jobs, 8 kills. Soak (``PROMPTBOARD_SOAK=1``): the issue's
50 jobs and 20 kills.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from lib import jobs
from lib.core import config
from lib.engine import Engine
from tests.helpers import ROOT, run_cli
from tests.reliability import invariants, report
from tests.reliability._crash_helpers import Fakes, calls_per_job, spec


def _worker(log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "lib.cli", "work", "--until-idle", "--threads", "2"],
            cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=err,
        )


def _kill_rounds(fakes: Fakes, kills: int, rng: random.Random, log: Path) -> dict[str, int]:
    """Start a worker, wait until it calls a provider, kill it at a random moment; repeat."""
    done = rounds = 0
    while done < kills:
        rounds += 1
        before = fakes.requests()
        proc = _worker(log)
        deadline = time.monotonic() + 60
        while fakes.requests() == before and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 1.2))
        if proc.poll() is not None:
            break  # the queue ran dry before this kill: too little work for the plan
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        done += 1
    assert done == kills, f"only {done} of {kills} kills landed; see {log}:\n{log.read_text()}"
    return {"kills": done, "worker_starts": rounds + 1}


def _soak(fakes: Fakes, tmp_path: Path, n_jobs: int, kills: int, seed: int) -> None:
    started = time.monotonic()
    eng = Engine(config.load())
    specs = [spec(i) for i in range(n_jobs)]
    ids = [jobs.submit(eng, f"user{i % 4}", spec) for i, spec in enumerate(specs)]
    prompt_to_id = {spec.prompt: job_id for spec, job_id in zip(specs, ids, strict=True)}
    eng.close()

    log = tmp_path / "worker-stderr.log"
    figures = _kill_rounds(fakes, kills, random.Random(seed), log)
    drained = run_cli("work", "--until-idle", "--threads", "2", timeout=300)
    assert drained.returncode == 0, drained.stderr

    eng = Engine(config.load())
    try:
        seen = invariants.check(eng, ids)
        assert seen["jobs_succeeded"] == n_jobs, seen  # 60 tries: every job gets through
        openai, creates = calls_per_job(fakes, prompt_to_id)
        by_id = {j.id: j for j in jobs.load(eng, ids)}
        for job_id, job in by_id.items():
            calls = openai[job_id] + creates[job_id]
            assert calls <= job.attempts, f"{job_id}: {calls} provider calls, {job.attempts} tries"
            if job.provider != "sandbox":
                assert calls >= 1, f"{job_id} succeeded without calling {job.provider}"
        for job_id in creates:  # the prediction a job kept is one it created
            assert by_id[job_id].request_id in fakes.replicate.predictions
        requeued = eng.db.fetchall(
            "SELECT job_id FROM job_events WHERE detail = 'requeued after a restart'")
    finally:
        eng.close()
    attempts = Counter(j.attempts for j in by_id.values())
    report.figures(
        f"crash_restart_{n_jobs}x{kills}", **figures, **seen,
        jobs_requeued_by_restarts=len(requeued),
        jobs_interrupted=len({r[0] for r in requeued}),
        attempts_histogram={str(k): attempts[k] for k in sorted(attempts)},
        openai_calls=sum(openai.values()), openai_calls_beyond_one=sum(
            c - 1 for c in openai.values()),
        replicate_creates=sum(creates.values()), replicate_creates_beyond_one=sum(
            c - 1 for c in creates.values()),
        wall_s=round(time.monotonic() - started, 1),
    )
    assert requeued, "no kill interrupted a running job: the test proved nothing"


def test_sigkill_at_random_moments_loses_and_doubles_nothing(
    fakes: Fakes, tmp_path: Path
) -> None:
    _soak(fakes, tmp_path, n_jobs=24, kills=8, seed=7)


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_soak_fifty_jobs_twenty_kills(fakes: Fakes, tmp_path: Path) -> None:
    _soak(fakes, tmp_path, n_jobs=50, kills=20, seed=2026)
