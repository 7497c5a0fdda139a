"""Reading jobs: by id, a job's events, and who has work queued or running."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from lib.core.context import Services
from lib.jobs.model import ACTIVE, JOB_COLUMNS, QUEUED, SUBMITTED, Job


def load(engine: Services, job_ids: Sequence[str]) -> list[Job]:
    """Jobs by id, in the order given (missing ids are skipped)."""
    if not job_ids:
        return []
    marks = ",".join("?" * len(job_ids))
    rows = engine.db.fetchall(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id IN ({marks})", job_ids)
    by_id = {r[0]: Job(*r) for r in rows}
    return [by_id[i] for i in job_ids if i in by_id]


def get(engine: Services, job_id: str) -> Job | None:
    """One job or None."""
    found = load(engine, [job_id])
    return found[0] if found else None


def events(engine: Services, job_id: str) -> list[tuple[datetime, str | None, str, str]]:
    """A job's transitions, oldest first, starting with its submit (``None`` → queued)."""
    rows: list[tuple[datetime, str | None, str, str]] = [
        (r[0], r[1], r[2], r[3])
        for r in engine.db.fetchall(
            "SELECT \"at\", from_status, to_status, detail FROM job_events "
            "WHERE job_id = ? ORDER BY id",
            [job_id],
        )
    ]
    if not rows or rows[0][1] is not None:  # a plain submit: the row is its record
        created = engine.db.scalar("SELECT created_at FROM jobs WHERE id = ?", [job_id])
        if created is not None:
            rows.insert(0, (created, None, QUEUED, SUBMITTED))
    return rows


def any_active(engine: Services, job_ids: Sequence[str]) -> bool:
    """True while any of these jobs is queued or running."""
    return any(j.status in ACTIVE for j in load(engine, job_ids))


def active_for_user(engine: Services, user: str) -> list[str]:
    """Ids of the user's queued and running jobs, oldest first."""
    rows = engine.db.fetchall(
        "SELECT id FROM jobs WHERE user_id = ? AND status IN ('queued','running') "
        "ORDER BY created_at",
        [user],
    )
    return [r[0] for r in rows]
