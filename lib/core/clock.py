"""Time, injectable: the real clock, and a fake one that tests move by hand.

All timestamps in the database are naive UTC.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    """Naive UTC now, the form every timestamp is stored in."""
    return datetime.now(UTC).replace(tzinfo=None)


class Clock:
    """The real clock."""

    def now(self) -> datetime:
        """Naive UTC wall-clock time."""
        return utcnow()

    def monotonic(self) -> float:
        """Seconds for measuring durations."""
        return time.monotonic()


class FakeClock(Clock):
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 2, 9, 0, 0)
        self._mono = 1000.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The fake wall-clock time."""
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """The fake monotonic time."""
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        """Move both clocks forward."""
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds
