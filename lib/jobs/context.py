"""The context a provider sees while it runs one job: progress, saved state, cancellation.

:class:`DbJobContext` backs the provider's ``JobContext`` with the job's row: progress and
saved provider state are written through the job store (at most every half second for
progress), and the cancel flag is read from the row (as often). A retry or a restart
hands the saved state back to the provider, so it can resume instead of paying again.
"""

from __future__ import annotations

import json
from typing import Any

from lib.core.context import Services
from lib.jobs import store
from lib.jobs.model import Job


class DbJobContext:
    """Progress and cancellation for one running job, backed by its row."""

    min_interval_s = 0.5

    def __init__(self, svc: Services, job: Job) -> None:
        self.svc = svc
        self.job_id = job.id
        self.attempt = job.attempts
        self._last_write = -1e9
        self._last_check = -1e9
        self._cancelled = False
        self.state: dict[str, Any] = json.loads(job.provider_state) if job.provider_state else {}

    def save_state(self, state: dict[str, Any]) -> None:
        """Persist provider state on the job row now, so a retry or restart can resume."""
        self.state = dict(state)
        store.save_state(self.svc.db, self.job_id, self.state, self.svc.clock.now(),
                         self.attempt)

    def report_progress(self, fraction: float, note: str | None = None) -> None:
        """Write progress to the row, at most every half second (and always at 1.0)."""
        t = self.svc.clock.monotonic()
        if fraction < 1.0 and t - self._last_write < self.min_interval_s:
            return
        self._last_write = t
        store.report_progress(self.svc.db, self.job_id, fraction, note, self.svc.clock.now(),
                              self.attempt)

    def cancel_requested(self) -> bool:
        """Read the row's cancel flag, at most every half second."""
        if self._cancelled:
            return True
        t = self.svc.clock.monotonic()
        if t - self._last_check < self.min_interval_s:
            return False
        self._last_check = t
        self._cancelled = bool(
            self.svc.db.scalar("SELECT cancel_requested FROM jobs WHERE id = ?", [self.job_id])
        )
        return self._cancelled

    def force_check(self) -> bool:
        """Read the cancel flag now."""
        self._last_check = -1e9
        return self.cancel_requested()
