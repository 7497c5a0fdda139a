"""Whether a failed attempt is tried again, and when: a decision, not an action.

:meth:`RetryPolicy.decide` looks at a provider error and the attempts made so far and
returns :class:`Retry` (wait this long, then queue the job again) or :class:`Fail` (with
the message the user reads). The job store applies the decision (``store.requeue`` or
``store.finish``); nothing here touches the database. As in procrastinate's
``RetryStrategy``, the provider's own hint (Retry-After) wins over the backoff, unless it
is so long that it is a quota rather than a blip.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from lib.providers.errors import ProviderError


@dataclass(frozen=True)
class Retry:
    """Queue the job again after ``delay_s`` seconds."""

    delay_s: float


@dataclass(frozen=True)
class Fail:
    """Give up: the job fails with ``message``."""

    message: str


Decision = Retry | Fail


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff that honours the provider's hint, within limits."""

    base_s: float = 2.0
    cap_s: float = 120.0
    max_hint_s: float = 900.0  # a hint longer than this is a quota, not a blip
    jitter: float = 0.1

    def delay(self, attempt: int, hint: float | None, rng: random.Random) -> float | None:
        """Seconds to wait before the next attempt, or None to give up now."""
        if hint is not None:
            return None if hint > self.max_hint_s else max(0.0, hint)
        backoff = min(self.cap_s, self.base_s * 2.0 ** max(0, attempt - 1))
        return float(backoff * (1 + rng.uniform(-self.jitter, self.jitter)))

    def decide(self, err: ProviderError, attempts: int, max_attempts: int,
               rng: random.Random | None = None) -> Decision:
        """Retry after a delay, or fail with a message that says why it was not retried.

        ``attempts`` counts the attempt that just failed; a job is never tried more than
        ``max_attempts`` times.
        """
        delay = self.delay(attempts, err.retry_after, rng or _rng) if err.retryable else None
        if delay is not None and attempts < max_attempts:
            return Retry(delay)
        if err.retryable and attempts >= max_attempts:
            return Fail(f"{err.message} (gave up after {attempts} attempts)")
        if err.retryable and delay is None:
            return Fail(f"{err.message} (the provider asked to wait {err.retry_after:.0f} s; "
                        "try later)")
        return Fail(err.message)


_rng = random.Random()
