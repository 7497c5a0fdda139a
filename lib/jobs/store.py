"""The job store: the one module that writes the ``jobs`` and ``job_events`` tables.

Like procrastinate's ``JobManager``, every write of a job goes through a verb here, and
every change of a job's status, claiming and restart recovery included, goes through
:func:`transition`: one guarded ``UPDATE ... WHERE id=? AND status IN (...)`` checked
against the state machine in :mod:`lib.jobs.model`, which appends its ``job_events`` row
in the same transaction. No row updated means the move was illegal and
:class:`~lib.jobs.model.IllegalTransition` is raised.

The verbs, by who calls them:

* the queue (``submit``, ``cancel``): :func:`insert`, :func:`cancel_one`;
* claiming and recovery (``jobs.claim``, ``jobs.leases``): :func:`claim`,
  :func:`recover_running`, and the leases: :func:`renew_leases`, :func:`expire_leases`;
* a running job (``jobs.context``): :func:`save_state`, :func:`report_progress`;
* the pipeline: :func:`succeed` (the image rows and ``succeeded`` in one transaction),
  :func:`finish` (failed or cancelled) and :func:`apply_retry`, which carries out a
  :class:`~lib.jobs.retry.RetryPolicy` decision (:func:`requeue` or :func:`finish`);
* bookkeeping that is not a move: :func:`reprice` and :func:`set_deleted_cost` (price
  recomputes), :func:`note_images_deleted` and :func:`recount_images` (gallery deletes),
  :func:`bulk_insert` and :func:`delete_demo` (the demo history).

Verbs that take a cursor run inside the caller's ``db.write()`` transaction; verbs that
take the database open their own.

A running job's verbs take its ``attempt`` (the ``attempts`` its claim set) as a fencing
token: a worker whose lease ran out and whose job was claimed again meanwhile (it froze,
or lost the network) finds its moves refused (IllegalTransition) and its progress ignored,
so only the current attempt can finish the job.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import astuple, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from lib.db.database import Cursor, Database
from lib.jobs.model import (
    CANCELLED,
    FAILED,
    JOB_COLUMNS,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    TRANSITIONS,
    IllegalTransition,
    Job,
)
from lib.jobs.retry import Decision, Retry
from lib.providers.errors import ProviderError

# --------------------------------------------------------------------------- the guard


def event(
    cur: Cursor, job_id: str, at: datetime, frm: str | None, to: str, detail: str = ""
) -> None:
    """Append one job_events row (a transition's, or a submit worth noting)."""
    cur.execute(
        'INSERT INTO job_events (job_id, "at", from_status, to_status, detail) '
        "VALUES (?,?,?,?,?)",
        [job_id, at, frm, to, detail[:2000]],
    )


def transition(
    cur: Cursor,
    job_id: str,
    frm: Iterable[str],
    to: str,
    at: datetime,
    detail: str = "",
    *,
    attempt: int | None = None,
    **sets: Any,
) -> str:
    """One guarded move; returns the status it came from or raises IllegalTransition.
    With ``attempt``, only while the job is still on that attempt (see the module's notes)."""
    frm = list(frm)
    allowed = [s for s in frm if to in TRANSITIONS[s]]
    if not allowed:
        raise IllegalTransition(f"no transition from {sorted(frm)} to {to}")
    assignments = ["status = ?", "updated_at = ?"] + [f"{k} = ?" for k in sets]
    values: list[Any] = [to, at, *sets.values()]
    # DuckDB's RETURNING gives the new row; read the old status first under the write lock.
    old = cur.execute("SELECT status FROM jobs WHERE id = ?", [job_id]).fetchone()
    placeholders = ",".join("?" * len(allowed))
    fence = "" if attempt is None else " AND attempts = ?"
    hit = cur.execute(
        f"UPDATE jobs SET {', '.join(assignments)} "
        f"WHERE id = ? AND status IN ({placeholders}){fence} RETURNING id",
        [*values, job_id, *allowed, *([] if attempt is None else [attempt])],
    ).fetchall()
    if not hit:
        state = old[0] if old else "missing"
        if attempt is not None and state in frm:
            state += f" on another attempt than {attempt} (its lease ran out)"
        raise IllegalTransition(f"job {job_id} is {state}; cannot move it to {to}")
    event(cur, job_id, at, old[0] if old else None, to, detail)
    return str(old[0]) if old else ""


# --------------------------------------------------------------------------- the queue


def insert(cur: Cursor, job: Job, detail: str | None = None) -> None:
    """Queue a new job; ``detail`` adds a submit event (a plain submit's record is its row)."""
    values = list(astuple(job))
    cur.execute(f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES ({','.join('?' * len(values))})",
                values)
    if detail is not None:
        event(cur, job.id, job.created_at, None, job.status, detail)


def cancel_one(cur: Cursor, job_id: str, status: str, user: str, now: datetime) -> str:
    """The one cancel move, under the caller's write lock: a queued job is cancelled, a
    running one gets the cooperative flag its worker checks; others are left as they are.
    Returns the job's state, ``"cancelling"`` for a running one asked to stop."""
    if status == QUEUED:
        transition(
            cur, job_id, [QUEUED], CANCELLED, now, f"cancelled by {user}",
            finished_at=now, error_type="cancelled", error_message="Cancelled before it ran.",
        )
        return CANCELLED
    if status == RUNNING:
        request_cancel(cur, job_id, user, now)
        return "cancelling"
    return status


def request_cancel(cur: Cursor, job_id: str, user: str, now: datetime) -> None:
    """Ask a running job to stop: it stays running until its worker sees the flag and moves
    it to cancelled. Not a move itself, so not a transition: the flag is set only while the
    row is running, and the request is recorded as a running → running event."""
    hit = cur.execute(
        "UPDATE jobs SET cancel_requested = true, updated_at = ? "
        "WHERE id = ? AND status = ? RETURNING id",
        [now, job_id, RUNNING],
    ).fetchall()
    if not hit:
        raise IllegalTransition(f"job {job_id} is not running; there is nothing to ask to stop")
    event(cur, job_id, now, RUNNING, RUNNING, f"cancel requested by {user}")


# --------------------------------------------------------------------------- claim, recover


def claim(cur: Cursor, job_id: str, worker_id: str, now: datetime, lease_until: datetime,
          lock: str = "") -> Job | None:
    """Move one queued job to running for ``worker_id``, leased until ``lease_until``; None
    if it is no longer queued. ``lock`` ends the row's read (PostgreSQL: FOR UPDATE SKIP
    LOCKED, so a row another transaction holds is passed over, not waited for)."""
    row = cur.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ? AND status = ?{lock}",
                      [job_id, QUEUED]).fetchone()
    if row is None:  # another thread took (or someone cancelled) it since it was picked
        return None
    job = Job(*row)
    sets: dict[str, Any] = {
        "attempts": job.attempts + 1, "worker_id": worker_id, "started_at": now,
        "progress": 0.0, "progress_note": "starting", "cancel_requested": False,
    }
    transition(cur, job_id, [QUEUED], RUNNING, now, f"claimed by {worker_id}",
               lease_until=lease_until, **sets)
    return replace(job, status=RUNNING, updated_at=now, **sets)


def recover_running(cur: Cursor, job_id: str, attempts: int, max_attempts: int,
                    now: datetime, lease_ran_out: bool = False) -> str:
    """Requeue a job a dead process left running (or fail it when out of tries), forgetting
    the image rows it may have half-written; its stored objects are the caller's to delete.
    ``lease_ran_out``: its worker stopped renewing the lease (found by a live worker, not at
    a restart), and only attempt ``attempts`` is moved. Returns the new state."""
    cur.execute("DELETE FROM images WHERE job_id = ?", [job_id])
    why = "its worker stopped answering" if lease_ran_out else "a restart"
    fence = attempts if lease_ran_out else None
    if attempts >= max_attempts:
        transition(
            cur, job_id, [RUNNING], FAILED, now, f"interrupted by {why}, out of tries",
            attempt=fence, finished_at=now, error_type="interrupted", images=0,
            error_message=(
                f"{'Its worker stopped' if lease_ran_out else 'The server stopped'} while "
                f"this job ran, {attempts} times; Promptboard gave up. Retry it."
            ),
        )
        return FAILED
    transition(
        cur, job_id, [RUNNING], QUEUED, now, f"requeued after {why}", attempt=fence,
        next_run_at=now, progress=None, progress_note=f"requeued after {why}",
        worker_id=None, images=0, lease_until=None,
    )
    return QUEUED


def renew_leases(cur: Cursor, owner: str, until: datetime) -> int:
    """Extend the leases of the running jobs claimed by worker threads named ``owner-*`` (one
    worker process) to ``until``; returns how many. ``until`` in the past lets them go."""
    return len(cur.execute(
        "UPDATE jobs SET lease_until = ? WHERE status = ? AND worker_id LIKE ? RETURNING id",
        [until, RUNNING, f"{owner}-%"]).fetchall())


def expire_leases(cur: Cursor, now: datetime) -> list[tuple[str, int, int]]:
    """(id, attempts, max_attempts) of running jobs whose lease ran out by ``now`` (or that
    a worker from before leases claimed)."""
    return [(str(r[0]), int(r[1]), int(r[2])) for r in cur.execute(
        "SELECT id, attempts, max_attempts FROM jobs WHERE status = ? "
        "AND (lease_until IS NULL OR lease_until < ?) ORDER BY id", [RUNNING, now]).fetchall()]


# --------------------------------------------------------------------------- a running job


def save_state(db: Database, job_id: str, state: dict[str, Any], now: datetime,
               attempt: int) -> None:
    """Persist provider state on the job row, so a retry or restart can resume."""
    with db.write() as cur:
        cur.execute("UPDATE jobs SET provider_state = ?, updated_at = ? "
                    "WHERE id = ? AND attempts = ?", [json.dumps(state), now, job_id, attempt])


def report_progress(db: Database, job_id: str, fraction: float, note: str | None,
                    now: datetime, attempt: int) -> None:
    """Write a running job's progress (0 to 1) and note; nothing once it is not running."""
    with db.write() as cur:
        cur.execute(
            "UPDATE jobs SET progress = ?, progress_note = ?, updated_at = ? "
            "WHERE id = ? AND status = ? AND attempts = ?",
            [max(0.0, min(1.0, fraction)), note, now, job_id, RUNNING, attempt],
        )


def finish(
    db: Database, job_id: str, to: str, at: datetime, detail: str, error_type: str | None,
    message: str | None, cost: Decimal | None = None, usage: dict[str, float] | None = None,
    request_id: str | None = None, price_ids: tuple[int, ...] = (), *, attempt: int,
) -> None:
    """End a running job's ``attempt`` as failed or cancelled, with what the call cost."""
    with db.write() as cur:
        transition(
            cur, job_id, [RUNNING], to, at, detail, attempt=attempt, finished_at=at,
            error_type=error_type,
            error_message=message, cost_usd=cost,
            usage=json.dumps(usage) if usage is not None else None, request_id=request_id,
            price_ids=json.dumps(list(price_ids)) if price_ids else None,
        )


def succeed(db: Database, job_id: str, images: Sequence[Sequence[object]], at: datetime,
            *, attempt: int, **sets: Any) -> None:
    """Insert a job's image rows and move it to succeeded, in one transaction.

    Call it only once every object the rows name is stored (the durability order).
    ``images`` are rows of the images columns below, in order.
    """
    with db.write() as cur:
        for r in images:
            cur.execute(
                "INSERT INTO images (id, job_id, idx, user_id, provider, model, prompt, "
                "negative_prompt, style, quality, width, height, seed, original_key, "
                "watermarked_key, thumb_key, bytes, cost_usd, duration_ms, request_id, "
                "created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", list(r),
            )
        transition(cur, job_id, [RUNNING], SUCCEEDED, at, f"{len(images)} image(s) stored",
                   attempt=attempt, finished_at=at, images=len(images), lease_until=None,
                   **sets)


def requeue(db: Database, job_id: str, err: ProviderError, delay_s: float,
            at: datetime, attempt: int) -> None:
    """Send a running job back to the queue, runnable again ``delay_s`` seconds from now."""
    with db.write() as cur:
        transition(
            cur, job_id, [RUNNING], QUEUED, at, f"{err.error_type}: retry in {delay_s:.1f}s",
            attempt=attempt, lease_until=None,
            next_run_at=at + timedelta(seconds=delay_s), error_type=err.error_type,
            error_message=f"{err.message} Retrying automatically.", progress=None,
            progress_note=f"waiting {delay_s:.0f} s to retry", worker_id=None,
        )


def apply_retry(db: Database, job_id: str, err: ProviderError, decision: Decision,
                at: datetime, attempt: int) -> str:
    """Carry out a retry decision for a failed ``attempt``; returns the job's new state."""
    if isinstance(decision, Retry):
        requeue(db, job_id, err, decision.delay_s, at, attempt)
        return QUEUED
    finish(db, job_id, FAILED, at, f"{err.error_type}: not retried", err.error_type,
           decision.message, attempt=attempt)
    return FAILED


# --------------------------------------------------------------------------- bookkeeping


def reprice(cur: Cursor, job_id: str, cost: Decimal | None, price_ids: Sequence[int]) -> None:
    """Record a job's recomputed cost and the price rows behind it."""
    cur.execute("UPDATE jobs SET cost_usd = ?, price_ids = ? WHERE id = ?",
                [cost, json.dumps(list(price_ids)), job_id])


def set_deleted_cost(cur: Cursor, job_id: str, cost: Decimal | None) -> None:
    """Record what a job's deleted images cost (None: unknown)."""
    cur.execute("UPDATE jobs SET deleted_cost_usd = ? WHERE id = ?", [cost, job_id])


def note_images_deleted(cur: Cursor, image_ids: Sequence[str]) -> None:
    """Before these image rows are deleted: count them, and what they cost, on their jobs
    (the cost history stays on the job; see ``reporting.ledger``)."""
    cur.execute(
        "UPDATE jobs SET images_deleted = coalesce(images_deleted, 0) + d.n, "
        "deleted_cost_usd = CASE WHEN d.cost IS NULL THEN deleted_cost_usd "
        "ELSE coalesce(deleted_cost_usd, 0) + d.cost END FROM (SELECT job_id, count(*) AS n, "
        "sum(cost_usd) AS cost FROM images WHERE id IN (SELECT unnest(?::VARCHAR[])) "
        "GROUP BY 1) d WHERE jobs.id = d.job_id", [list(image_ids)])


def recount_images(cur: Cursor, job_ids: Sequence[str]) -> None:
    """Set ``jobs.images`` (what analytics read) from the image rows these jobs still have."""
    cur.execute(
        "UPDATE jobs SET images = (SELECT count(*) FROM images i WHERE i.job_id = jobs.id) "
        "WHERE id IN (SELECT unnest(?::VARCHAR[]))", [list(job_ids)])


def bulk_insert(cur: Cursor, table: Literal["jobs", "job_events"], columns: str,
                select: str, params: dict[str, Any] | None = None) -> int:
    """Insert the rows a ``SELECT`` yields (the demo history, made in bulk); returns how many.

    Of ``params`` (named ``$parameters``), only those the query names are passed.

    These rows are history written whole, not moves of live jobs, so no transition checks
    them; the demo marks every job ``demo`` so that :func:`delete_demo` finds them again.
    """
    sql = f"INSERT INTO {table} ({columns}) {select}"
    used = {k: v for k, v in (params or {}).items() if f"${k}" in sql}  # DuckDB refuses others
    done = cur.execute(sql, used) if used else cur.execute(sql)
    return int(done.rowcount)  # not a count row: PostgreSQL's INSERT returns none


def delete_demo(cur: Cursor) -> None:
    """Delete the demo jobs and their events (their images rows go first, by the caller)."""
    cur.execute("DELETE FROM job_events WHERE job_id IN (SELECT id FROM jobs WHERE demo)")
    cur.execute("DELETE FROM jobs WHERE demo")
