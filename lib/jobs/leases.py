"""Worker leases: a running job belongs to its worker only while the worker is alive.

A claim leases the job for ``PROMPTBOARD_LEASE_S`` seconds (``jobs.claim``). Every worker
process (the dashboard's pool, each ``python -m lib.cli work``) runs a heartbeat that, every
third of the lease:

- renews the leases of the jobs its threads run (:func:`beat`), and records itself in the
  ``workers`` table (host, pid, threads, last seen) for operators (:func:`workers`);
- takes back the jobs whose lease ran out (:func:`reap`): their worker was killed, froze or
  lost the database. Each is queued again with its attempt counted (or failed when out of
  tries), in a transaction that first checks, under the write lock, that the lease is still
  out and the job still on the same attempt.

What such a job stored is owed for deletion (``jobs.cleanup``) in that same transaction;
the next attempt deletes it before it stores anything of its own (``pipeline``), and a
failed job's prefix is deleted at once. A worker that wakes up after losing its job finds
every move of its attempt refused (the attempt is the fencing token, ``jobs.store``) and
deletes what it stored. Like procrastinate's and Oban's, the lease is wall-clock time:
machines running workers must keep their clocks in sync (NTP).
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

from lib.core.context import Services
from lib.jobs import cleanup, store
from lib.jobs.model import FAILED
from lib.storage import keys
from lib.storage.base import StorageError

log = logging.getLogger(__name__)
FORGET_AFTER = 10  # a worker row not seen for this many leases is removed


def beat(svc: Services, owner: str, threads: int) -> int:
    """Renew the leases of worker process ``owner``'s jobs and its ``workers`` row; returns
    how many jobs it holds."""
    now = svc.clock.now()
    lease = timedelta(seconds=svc.settings.lease_s)
    with svc.db.write() as cur:
        held = store.renew_leases(cur, owner, now + lease)
        cur.execute(
            "INSERT INTO workers (id, host, pid, threads, started_at, seen_at) "
            "VALUES (?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
            [owner, socket.gethostname()[:200], os.getpid(), threads, now, now])
        cur.execute("DELETE FROM workers WHERE seen_at < ?", [now - FORGET_AFTER * lease])
    return held


def release(svc: Services, owner: str) -> None:
    """A worker process stopping: its jobs' leases end now (any live worker takes them back
    at its next beat instead of a lease later), and its ``workers`` row goes."""
    now = svc.clock.now()
    with svc.db.write() as cur:
        store.renew_leases(cur, owner, now - timedelta(seconds=1))
        cur.execute("DELETE FROM workers WHERE id = ?", [owner])


def reap(svc: Services) -> int:
    """Take back every running job whose lease ran out; returns how many."""
    now = svc.clock.now()
    with svc.db.cursor() as cur:
        expired = store.expire_leases(cur, now)
    taken = 0
    for job_id, attempt, max_attempts in expired:
        prefix = keys.job_prefix(job_id)
        with svc.db.write() as cur:
            still = [e for e in store.expire_leases(cur, now) if e[0] == job_id]
            if not still or still[0][1] != attempt:  # renewed, finished or reclaimed meanwhile
                continue
            state = store.recover_running(cur, job_id, attempt, max_attempts, now,
                                          lease_ran_out=True)
            cleanup.owe_in(cur, prefix, f"job {job_id}: attempt {attempt}'s lease ran out", now)
        taken += 1
        log.warning("job %s: its worker's lease ran out on attempt %d; %s", job_id, attempt,
                    "failed, out of tries" if state == FAILED else "queued again")
        if state == FAILED:  # no attempt will follow to delete what it stored
            try:
                cleanup.settle_one(svc, prefix)
            except StorageError:
                pass  # owed: settled later
    return taken


def workers(svc: Services) -> list[tuple[str, str, int, int, object]]:
    """(id, host, pid, threads, seen_at) of the worker processes seen lately, newest first."""
    return [(str(r[0]), str(r[1]), int(r[2]), int(r[3]), r[4]) for r in svc.db.fetchall(
        "SELECT id, host, pid, threads, seen_at FROM workers ORDER BY seen_at DESC, id")]
