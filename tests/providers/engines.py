"""What the provider tests share: an engine pointed at a fake server, checked on the way out."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import pytest

from lib.core import config
from lib.core.clock import Clock
from lib.engine import Engine
from lib.jobs.retry import RetryPolicy
from lib.providers.base import Provider

NO_JITTER = RetryPolicy(base_s=2.0, cap_s=120.0, jitter=0.0)


def provider_engine(
    monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str], clock: Clock, *,
    secret: str | None = None, log: Callable[[], str] = str,
    provider_factory: Callable[[str], Provider] | None = None,
) -> Iterator[Engine]:
    """An engine with ``env`` set (the provider's key and its fake's URL, say) and a retry
    policy without jitter. On the way out: ``secret`` is in no job row, job event or log line
    (``log()`` returns the captured log), and no worker died of an internal error."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    eng = Engine(config.load(), clock=clock, retry_policy=NO_JITTER,
                 provider_factory=provider_factory)
    try:
        yield eng
        if secret is not None:
            stored = repr(eng.db.fetchall("SELECT * FROM jobs"))
            stored += repr(eng.db.fetchall("SELECT * FROM job_events"))
            assert secret not in stored and secret not in log(), "the key was kept"
    finally:
        eng.close()
    assert not eng.internal_errors, eng.internal_errors
