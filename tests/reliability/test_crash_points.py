"""A worker process killed with SIGKILL at each named point of the pipeline loses nothing.

The deterministic half of the crash tests (``test_crash_restart.py`` kills at random
moments, against fake hosted providers). Each round runs ``python -m lib.cli work`` in a
subprocess and kills it at a named point of the pipeline (``PROMPTBOARD_CRASH_AT``) or at a
random moment, then restarts it. At the end every job is in exactly one terminal state, every
image row points at stored bytes and no stored object lacks a row.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from lib import jobs
from lib.core import config
from lib.engine import Engine
from tests.helpers import ROOT, run_cli
from tests.reliability import invariants

JOBS = 10


def _worker(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lib.cli", "work", "--until-idle", "--threads", "2"],
        cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.own_clock
def test_sigkill_at_any_point_leaves_every_job_finished_once_and_consistent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMPTBOARD_MAX_ATTEMPTS", "30")  # crashes count as attempts
    _run_rounds()


def _run_rounds() -> None:
    eng = Engine(config.load())
    ids = [jobs.submit(eng, f"user{i % 3}", jobs.JobSpec(
        prompt=f"crash test {i}", width=96, height=96, n=1 + i % 2)) for i in range(JOBS)]
    eng.close()

    env = {"PROMPTBOARD_SANDBOX_LATENCY": "0.3"}
    rng = random.Random(1234)
    kills = 0
    for point in ("after_claim", "after_generate", "after_store", "after_commit") * 2:
        proc = _worker({**env, "PROMPTBOARD_CRASH_AT": point})
        rc = proc.wait(timeout=60)
        assert rc in (-signal.SIGKILL, 0), proc.stderr.read() if proc.stderr else ""
        kills += rc == -signal.SIGKILL
    for _ in range(4):  # and at random moments, mid-generation included
        proc = _worker(env)
        time.sleep(1.2 + rng.uniform(0.0, 0.8))  # imports take ~1 s before work starts
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
    assert kills >= 8

    done = run_cli("work", "--until-idle", env=env, timeout=180)
    assert done.returncode == 0, done.stderr

    eng = Engine(config.load())
    try:
        seen = invariants.check(eng, ids)  # terminal once, no duplicates, no orphans, ledger
        assert seen["jobs_succeeded"] == JOBS, seen
        assert seen["max_attempts_used"] > 1  # the crashes really hit jobs
    finally:
        eng.close()
