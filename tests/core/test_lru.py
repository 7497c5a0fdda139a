"""lib.core.lru: bounded, least recently used first."""

from __future__ import annotations

from lib.core.lru import LRU


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: LRU[str, int] = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == (True, 1)  # a is now the most recent
    cache.put("c", 3)
    assert "b" not in cache and "a" in cache and "c" in cache and len(cache) == 2
    assert cache.get("b") == (False, None)
    cache.put("a", 10)  # replacing refreshes too
    cache.put("d", 4)
    assert cache.get("a") == (True, 10) and "c" not in cache
    cache.clear()
    assert len(cache) == 0
