"""The token bucket, on a clock the test moves."""

from __future__ import annotations

from lib.api.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_minute_s_burst_then_the_steady_rate() -> None:
    clock = Clock()
    limit = RateLimiter(60, clock)
    assert [limit.take("a") for _ in range(60)] == [0] * 60
    assert limit.take("a") == 1  # one a second refills
    assert limit.take("b") == 0  # per key
    clock.now += 1.0
    assert limit.take("a") == 0 and limit.take("a") == 1
    clock.now += 3600
    assert [limit.take("a") for _ in range(60)] == [0] * 60  # never more than the capacity


def test_retry_after_is_whole_seconds_and_never_zero() -> None:
    clock = Clock()
    limit = RateLimiter(2, clock)  # one every 30 s
    assert limit.take("k") == limit.take("k") == 0
    assert limit.take("k") == 30
    clock.now += 29.5
    assert limit.take("k") == 1
