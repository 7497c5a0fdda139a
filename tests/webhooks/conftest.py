"""The webhook tests' parts: an engine on a FakeClock (its dispatcher not started: tests run
rounds by hand with ``dispatcher.run_once()`` and move the clock), a jitter-free policy with a
short timeout, a signature-checking receiver on 127.0.0.1, and a way to register endpoints.

Local receivers need ``PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE=1``: set for every test here (the
SSRF tests take it away)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from lib import webhooks
from lib.core import config
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.webhooks import Dispatcher, Policy
from tests.builders import ADMIN_USER
from tests.fakes.webhooks import Receiver

POLICY = Policy(jitter=0.0, timeout_s=1.0, tick_s=0.05)

Register = Callable[..., webhooks.Endpoint]


@pytest.fixture(autouse=True)
def _local_receivers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE", "1")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()  # 2 Nov 2026, 09:00 UTC


@pytest.fixture
def engine(clock: FakeClock) -> Iterator[Engine]:
    eng = Engine(config.load(), clock=clock, webhook_policy=POLICY)
    yield eng
    eng.close()
    assert not eng.internal_errors, eng.internal_errors


@pytest.fixture
def dispatcher(engine: Engine) -> Dispatcher:
    """A dispatcher whose rounds the test runs (``run_once``); no thread."""
    return Dispatcher(engine, POLICY, errors=engine.internal_errors)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx = Receiver()
    yield rx
    rx.close()


@pytest.fixture
def register(engine: Engine, receiver: Receiver) -> Register:
    """``register(*events, kind=, url=, threshold=)``: an endpoint (the receiver's URL by
    default) whose secret the receiver then checks signatures with."""

    def make(*events: str, kind: str = "standard", url: str | None = None,
             threshold: float | None = None) -> webhooks.Endpoint:
        ep, secret = webhooks.create(engine.db, ADMIN_USER, url or receiver.url, kind,
                                     list(events or webhooks.EVENTS), threshold=threshold,
                                     now=engine.clock.now())
        if secret is not None:
            receiver.secret = secret
        return ep

    return make
