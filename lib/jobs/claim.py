"""Which job runs next, and the jobs a dead process left running.

Claiming is fair: each user's oldest queued job comes before anyone's second (the least
recently served user first, by the ``claim_turns`` table), and a provider never runs more
than its concurrency cap. Running jobs whose provider has already answered (their images
are being stored) do not hold a provider slot. :func:`pick_next` is that choice as a pure
function; the Activity screen uses it to show the order the queue will run in.

:func:`recover` runs when workers start. On the embedded DuckDB file (one process holds it)
a job still ``running`` then was interrupted by a dead process, so what it stored is deleted
and it is queued again (or failed when out of tries). On PostgreSQL other processes' workers
may be running jobs right now, so only jobs whose lease ran out are taken back
(``jobs.leases``, which every live worker process also does on each heartbeat). The moves
themselves are the job store's.

Across processes (PostgreSQL) the claim is the same: candidates and the choice are read
under the database's write lock, so the per-provider cap and the turns count every
process's running jobs (a job another process is storing counts as holding its slot: only
this process knows its own are done calling), and the claimed row is read ``FOR UPDATE
SKIP LOCKED``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from lib.core.context import Services
from lib.db import dialect
from lib.jobs import cleanup, leases, store
from lib.jobs.model import QUEUED, RUNNING, Job
from lib.storage import keys
from lib.storage.base import StorageError

log = logging.getLogger(__name__)


def pick_next(
    candidates: list[tuple[str, str, str]],
    running: dict[str, int],
    turns: dict[str, int],
    cap: int,
) -> str | None:
    """The job to run next: least recently served user first, then that user's oldest job.

    ``candidates`` are (id, user, provider) of runnable queued jobs, oldest first;
    ``running`` counts provider calls in flight per provider, ``turns`` each user's last
    turn, and ``cap`` is the most calls one provider may have in flight.
    """
    first_per_user: dict[str, tuple[int, str]] = {}
    for pos, (job_id, user, provider) in enumerate(candidates):
        if user in first_per_user or running.get(provider, 0) >= cap:
            continue
        first_per_user[user] = (pos, job_id)
    if not first_per_user:
        return None
    user = min(first_per_user, key=lambda u: (turns.get(u, -1), first_per_user[u][0]))
    return first_per_user[user][1]


def claim(svc: Services, worker_id: str, only: frozenset[str] | None = None,
          storing: frozenset[str] = frozenset()) -> Job | None:
    """Take the next runnable job fairly, or None.

    Candidates are read outside the write lock (cheap for everyone else); the choice and
    the guarded ``queued -> running`` move happen under it, so the per-provider cap and
    the fairness turns are exact even with many worker threads. The cap counts provider
    calls: running jobs in ``storing`` (their provider has answered) do not hold a slot.
    """
    if only is not None and not only:
        return None
    now = svc.clock.now()
    filters = ""
    params: list[Any] = [QUEUED, now]
    if only is not None:
        filters = f" AND id IN ({','.join('?' * len(only))})"
        params.extend(sorted(only))
    candidates = svc.db.fetchall(
        f"SELECT id, user_id, provider FROM jobs WHERE status = ? AND next_run_at <= ?"
        f"{filters} ORDER BY created_at, id LIMIT 2000",
        params,
    )
    if not candidates:
        return None
    with svc.db.write() as cur:
        running: dict[str, int] = {}
        for job_id, provider in cur.execute(
            "SELECT id, provider FROM jobs WHERE status = ?", [RUNNING]
        ).fetchall():
            if job_id not in storing:
                running[provider] = running.get(provider, 0) + 1
        turns = dict(cur.execute("SELECT user_id, turn FROM claim_turns").fetchall())
        job_id = pick_next(candidates, running, turns, svc.settings.provider_concurrency)
        if job_id is None:
            return None
        job = store.claim(cur, job_id, worker_id, now,
                          now + timedelta(seconds=svc.settings.lease_s),
                          dialect.skip_locked(svc.db.kind))
        if job is None:  # another thread took it between our read and the lock
            return None
        cur.execute(
            "INSERT INTO claim_turns (user_id, turn) VALUES (?, nextval('claim_turn_seq')) "
            "ON CONFLICT (user_id) DO UPDATE SET turn = excluded.turn",
            [job.user_id],
        )
    return job


def recover(svc: Services) -> int:
    """Requeue jobs a dead process left running and delete what they half-stored (on
    PostgreSQL: the jobs whose lease ran out)."""
    if svc.db.kind != dialect.DUCKDB:
        taken = leases.reap(svc)
        cleanup.settle(svc)
        return taken
    now = svc.clock.now()
    rows = svc.db.fetchall(
        "SELECT id, attempts, max_attempts FROM jobs WHERE status = ?", [RUNNING]
    )
    for job_id, attempts, max_attempts in rows:
        prefix = keys.job_prefix(job_id)
        try:
            svc.storage.delete_prefix(prefix)
        except StorageError as exc:  # e.g. S3 unreachable: start anyway, clean up later
            cleanup.owe(svc, prefix, f"job {job_id} interrupted: {exc}")
        with svc.db.write() as cur:
            store.recover_running(cur, job_id, attempts, max_attempts, now)
    if rows:
        log.warning("recovered %d job(s) left running by a previous process", len(rows))
    cleanup.settle(svc)
    return len(rows)
