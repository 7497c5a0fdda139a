"""Jobs grouped the way people watch them: one group per batch, one per lone job.

A batch's group holds every job of the batch (from the database), not only the ones a page
happens to hold: "7 of 12 done" stays true on the Queue, which lists active jobs only.
A list of groups is shown up to a limit and never cut silently: :func:`cap` returns how
many jobs the hidden groups hold, for an "N more" line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lib.core.context import Services
from lib.jobs.model import (
    ACTIVE,
    CANCELLED,
    FAILED,
    JOB_COLUMNS,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    TERMINAL,
    Job,
)


@dataclass(frozen=True)
class JobGroup:
    """A batch (all its jobs) or one lone job, oldest first, with counts per status."""

    jobs: tuple[Job, ...]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def first(self) -> Job:
        """The group's oldest job at hand: its prompt and settings stand for the group."""
        return self.jobs[0]

    @property
    def batch_id(self) -> str | None:
        """The batch's id; None for a lone job."""
        return self.first.batch_id

    @property
    def key(self) -> str:
        """A stable id for widget keys: the batch id, else the job id."""
        return self.batch_id or self.first.id

    @property
    def size(self) -> int:
        """Jobs in the batch (all of them, not only those at hand)."""
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        """Jobs that have finished, however they ended."""
        return sum(n for s, n in self.counts.items() if s in TERMINAL)

    @property
    def active(self) -> bool:
        """True while any job of the group is queued or running."""
        return any(self.counts.get(s, 0) for s in ACTIVE)

    @property
    def status(self) -> str:
        """One status for the group's icon: running or queued while any job is; failed when
        any failed; cancelled when all were; else succeeded."""
        for status in (RUNNING, QUEUED, FAILED):
            if self.counts.get(status):
                return status
        if self.counts.get(SUCCEEDED):
            return SUCCEEDED
        return CANCELLED

    def summary(self) -> str:
        """"7 of 12 done · 2 running · 3 waiting · 1 failed" (the parts that are not zero)."""
        parts = [f"{self.done} of {self.size} done"]
        for status, word in ((RUNNING, "running"), (QUEUED, "waiting"), (FAILED, "failed"),
                             (CANCELLED, "cancelled")):
            if self.counts.get(status):
                parts.append(f"{self.counts[status]} {word}")
        return " · ".join(parts)


def group(engine: Services, jobs: Sequence[Job], *, whole_batches: bool = True
          ) -> list[JobGroup]:
    """Groups in the order their first job appears; a batch's counts cover all its jobs.

    ``whole_batches`` also brings a batch's jobs the caller did not hold (a second tab that
    knew only the active ones still shows the finished ones' images); without it a group holds
    only the given jobs (a filtered History page). The batch is read in one query: one snapshot.
    """
    given: dict[str, list[Job]] = {}
    for job in jobs:
        given.setdefault(job.batch_id or f"job:{job.id}", []).append(job)
    batch_ids = [k for k in given if not k.startswith("job:")]
    everyone: dict[str, list[Job]] = {k: [] for k in batch_ids}
    if batch_ids:
        for row in engine.db.fetchall(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE batch_id IN "
                f"({','.join('?' * len(batch_ids))})", batch_ids):
            job = Job(*row)
            everyone[str(job.batch_id)].append(job)
    out: list[JobGroup] = []
    for key, members in given.items():
        whole = everyone.get(key) or members
        shown = whole if whole_batches else members
        out.append(JobGroup(tuple(sorted(shown, key=lambda j: (j.created_at, j.id))),
                            _count(whole)))
    return out


def _count(jobs: Sequence[Job]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job.status] = counts.get(job.status, 0) + 1
    return counts


def cap(groups: Sequence[JobGroup], limit: int) -> tuple[list[JobGroup], int, bool]:
    """The first ``limit`` groups, how many jobs the rest hold, and whether any is active."""
    hidden = groups[limit:]
    return (list(groups[:limit]), sum(len(g.jobs) for g in hidden),
            any(j.status in ACTIVE for g in hidden for j in g.jobs))


def images_of(engine: Services, job_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The images of these jobs, in order, by job id (one query for a whole list)."""
    if not job_ids:
        return {}
    rows = engine.db.dicts(
        "SELECT job_id, id, thumb_key, original_key, width, height, seed, cost_usd FROM images "
        f"WHERE job_id IN ({','.join('?' * len(job_ids))}) ORDER BY job_id, idx", list(job_ids))
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row["job_id"], []).append(row)
    return out
