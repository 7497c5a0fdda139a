"""Requests per minute per caller: a token bucket in memory (PROMPTBOARD_API_RATE).

Each key (a token, the automation token, a browser user, or a client address for failed
sign-ins) has a bucket of ``rate`` requests that refills at ``rate`` per minute, so a
caller may burst a minute's worth and then goes at the steady rate. Over it, the API answers
429 with ``Retry-After`` in whole seconds (RFC 9110 §10.2.3), never 0. The buckets live in
the process, as the API does (one process owns the database); a restart refills them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

MAX_KEYS = 10_000  # beyond it the fullest buckets are forgotten (they would be full anyway)


class RateLimiter:
    """``take(key)`` → 0 if allowed, else the seconds to wait."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(max(1, per_minute))
        self.refill = self.capacity / 60.0  # tokens per second
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> int:
        """Spend one request of ``key``'s bucket; the whole seconds to wait if it is empty."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.refill)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                if len(self._buckets) > MAX_KEYS:
                    self._forget_full(now)
                return 0
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.refill))

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled completely (indistinguishable from new ones)."""
        for key, (tokens, at) in list(self._buckets.items()):
            if tokens + (now - at) * self.refill >= self.capacity:
                del self._buckets[key]
