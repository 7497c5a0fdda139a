"""The dispatcher: one thread that fills the outbox and sends what is due, every tick.

The engine starts it with the workers (``Engine.start_workers``) and stops it in
``Engine.close``. Each round (every ``Policy.tick_s`` seconds, or sooner when woken, e.g. by
"Send test event") it runs :meth:`Outbox.scan`, then :func:`sender.send_due`, then, about
hourly, prunes old finished deliveries. The thread never touches Streamlit.

Deliveries are rows, so stopping loses nothing: an attempt cut short by the shutdown is
simply made again by the next process (a receiver may then see a webhook-id twice, which is
what the id is for). An error of Promptboard's own (not a receiver's) is logged and appended
to ``errors`` (the engine's ``internal_errors``), and the next round goes on.
"""

from __future__ import annotations

import logging
import random
import threading
import time

from lib.core.context import Services
from lib.webhooks import deliveries, sender
from lib.webhooks.outbox import Outbox
from lib.webhooks.sender import Policy

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 3600.0


class Dispatcher:
    """Fills the outbox and sends deliveries, in one background thread (or by hand: tests
    call :meth:`run_once` on a dispatcher they never start)."""

    def __init__(self, svc: Services, policy: Policy | None = None, *,
                 rng: random.Random | None = None,
                 errors: list[BaseException] | None = None) -> None:
        self.svc = svc
        self.policy = policy or Policy()
        self.rng = rng or random.Random()
        self.outbox = Outbox(svc)
        self.errors: list[BaseException] = [] if errors is None else errors
        self.rounds = 0  # completed rounds, for tests that wait for one
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one round at a time (the thread, or a test by hand)
        self._thread: threading.Thread | None = None
        self._next_prune = time.monotonic()

    def start(self) -> Dispatcher:
        """Start the thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="promptboard-webhooks",
                                            daemon=True)
            self._thread.start()
        return self

    def wake(self) -> None:
        """Run a round now instead of at the next tick."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current attempt; waits up to ``timeout`` seconds for the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_once(self) -> tuple[int, int]:
        """One round: (deliveries put in the outbox, attempts made)."""
        with self._lock:
            made = self.outbox.scan()
            sent = sender.send_due(self.svc, self.policy, self.rng, self._stop)
            if time.monotonic() >= self._next_prune:
                self._next_prune = time.monotonic() + PRUNE_EVERY_S
                deliveries.prune(self.svc.db, self.svc.clock.now())
            self.rounds += 1
            return made, sent

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # before the round: a wake during it runs another at once
            try:
                self.run_once()
            except Exception as exc:  # noqa: BLE001 - the thread must outlive one bad round
                if self._stop.is_set():
                    return  # the database closing under us at shutdown
                log.exception("a webhook round failed; trying again at the next tick")
                self.errors.append(exc)
            self._wake.wait(self.policy.tick_s)
