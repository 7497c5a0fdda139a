"""Cancelling jobs: one by its owner (or an admin), or every active job of a scope.

A queued job is cancelled at once; a running one is asked to stop (its cooperative flag),
and its worker ends it at the next check. Both moves are ``jobs.store.cancel_one``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lib.auth import accounts as auth
from lib.core.context import Services
from lib.jobs import store
from lib.jobs.model import CANCELLED, IllegalTransition


def cancel(engine: Services, job_id: str, user: str, *, admin: bool = False) -> str:
    """Cancel a job: queued ones at once, running ones cooperatively. Returns the new state."""
    now = engine.clock.now()
    with engine.db.write() as cur:
        auth.require_active(cur, user, "admin" if admin else None)
        row = cur.execute("SELECT user_id, status FROM jobs WHERE id = ?", [job_id]).fetchone()
        if row is None or (row[0] != user and not admin):
            raise IllegalTransition("No such job of yours.")
        return store.cancel_one(cur, job_id, str(row[1]), user, now)


@dataclass(frozen=True)
class CancelResult:
    """What a bulk cancel did: jobs cancelled at once, running jobs asked to stop, and how
    many of the named jobs were left alone (finished already, or not the canceller's)."""

    cancelled: list[str] = field(default_factory=list)
    cancelling: list[str] = field(default_factory=list)
    skipped: int = 0

    @property
    def count(self) -> int:
        """Jobs cancelled or asked to stop."""
        return len(self.cancelled) + len(self.cancelling)


def cancel_many(engine: Services, user: str, *, admin: bool = False,
                job_ids: Sequence[str] | None = None, batch_id: str | None = None,
                everything: bool = False) -> CancelResult:
    """Cancel the active jobs of one scope (named jobs, a batch, or all) in one write.

    A member only ever touches their own jobs, whatever the scope names; an admin (the
    caller vouches for the role) touches everyone's. Each job takes :func:`cancel`'s path.
    """
    if sum((job_ids is not None, batch_id is not None, everything)) != 1:
        raise ValueError("name exactly one of job_ids, batch_id or everything")
    where, params = ["status IN ('queued', 'running')"], []
    if job_ids is not None:
        if not job_ids:
            return CancelResult()
        where.append(f"id IN ({','.join('?' * len(job_ids))})")
        params += list(job_ids)
    elif batch_id is not None:
        where.append("batch_id = ?")
        params.append(batch_id)
    if not admin:
        where.append("user_id = ?")
        params.append(user)
    now = engine.clock.now()
    cancelled: list[str] = []
    cancelling: list[str] = []
    with engine.db.write() as cur:
        rows = cur.execute(f"SELECT id, status FROM jobs WHERE {' AND '.join(where)} "
                           "ORDER BY created_at, id", params).fetchall()
        for job_id, status in rows:
            moved = store.cancel_one(cur, job_id, status, user, now)
            (cancelled if moved == CANCELLED else cancelling).append(job_id)
    skipped = len(set(job_ids)) - len(rows) if job_ids is not None else 0
    return CancelResult(cancelled, cancelling, skipped)
