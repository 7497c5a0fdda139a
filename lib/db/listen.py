"""Other processes' writes, heard: PostgreSQL LISTEN/NOTIFY behind ``Database.cached()``.

Each ``Database`` keeps small caches (prices, accounts and so sessions, tokens, budgets) and
version keys for the pages' caches, all moved by the tables a committed write named. With
one process that is exact. With several on one PostgreSQL database, each write also sends
``NOTIFY pb_<ns>, '<origin> <table,table,…>'`` in its own transaction (PostgreSQL delivers it
at COMMIT, and never for a rollback), and every process runs one :class:`Listener` thread on
a connection of its own (LISTEN belongs to a session, not to a pooled connection). What it
hears moves the same counters a local write does, so a password reset, a revoked token or a
new price in one replica is seen by the others' next read (measured in
tests/db/test_listen.py).

While the listener is not connected (the server restarted, the network dropped) nothing can
be trusted: :attr:`Listener.in_sync` is False, ``cached()`` loads every time and
``tables_version()`` changes on every call, until it is back; then everything is reloaded
once, since writes may have been missed in between.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

import psycopg

log = logging.getLogger(__name__)
POLL_S = 0.25  # how often the thread looks up from waiting, to notice close()
RETRY_S = 1.0  # wait between reconnection attempts


def channel(ns: int) -> str:
    """The channel of one database and schema (``ns`` as in the advisory locks)."""
    return f"pb_{ns & 0xFFFFFFFF:08x}"


class Listener:
    """One thread per process: hears other processes' writes and reports their tables."""

    def __init__(self, url: str, ns: int, heard: Callable[[set[str] | None], None],
                 connect_kwargs: dict[str, Any]) -> None:
        self.origin = uuid.uuid4().hex[:12]  # this process's own notifications are skipped
        self.channel = channel(ns)
        self.in_sync = False
        self._url = url
        self._heard = heard  # tables named by another process's write; None: maybe anything
        self._kwargs = connect_kwargs
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="promptboard-db-listen",
                                        daemon=True)
        self._thread.start()
        self._ready.wait(timeout=10)  # the first connection (or its failure) before any read

    def payload(self, tables: set[str]) -> str:
        """What a write of ``tables`` announces."""
        return f"{self.origin} {','.join(sorted(tables))}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, **self._kwargs) as conn:
                    conn.execute(f"LISTEN {self.channel}")
                    self._heard(None)  # writes may have been missed before: reload once
                    self.in_sync = True
                    self._ready.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=POLL_S):
                            self._note(note.payload)
            except psycopg.Error as exc:
                if self.in_sync:
                    log.warning("lost the database's change notifications (%s); caches are "
                                "bypassed until they are back", type(exc).__name__)
                self.in_sync = False
                self._ready.set()
                self._stop.wait(RETRY_S)
        self.in_sync = False

    def _note(self, payload: str) -> None:
        origin, _, names = payload.partition(" ")
        if origin == self.origin:
            return
        tables = {t for t in names.split(",") if t}
        self._heard(None if "*" in tables else tables)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=POLL_S * 8)
