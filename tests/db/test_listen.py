"""Caches follow other processes' writes on PostgreSQL (LISTEN/NOTIFY, lib/db/listen.py).

Two ``Database`` objects on one PostgreSQL database are two processes as far as the server can
tell: each has its own pool and its own listening connection.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import psycopg
import pytest

from lib.auth import accounts, tokens
from lib.db.database import Database
from tests.helpers import wait_until

NOW = datetime(2026, 12, 1, 12, 0)


@pytest.fixture
def pair(postgres_url: str) -> Iterator[tuple[Database, Database]]:
    a, b = Database(postgres_url), Database(postgres_url)
    yield a, b
    a.close()
    b.close()


def _count(db: Database, loads: list[int]) -> int:
    def load() -> int:
        loads.append(1)
        return int(db.scalar("SELECT count(*) FROM budgets"))
    return db.cached("n", load, ("budgets",))


def test_a_cached_read_follows_another_process_s_write(pair: tuple[Database, Database]) -> None:
    a, b = pair
    loads: list[int] = []
    assert _count(a, loads) == 0 and _count(a, loads) == 0 and len(loads) == 1
    version = a.tables_version("budgets")
    with b.write() as cur:
        cur.execute("INSERT INTO budgets VALUES ('team', 'team', 10, 0.8, 'x', now())")
    wait_until(lambda: _count(a, loads) == 1, timeout=5, what="a's cache to see b's write")
    assert a.tables_version("budgets") != version
    settled = len(loads)
    with b.write() as cur:  # another table: a's cached answer still holds
        cur.execute("INSERT INTO claim_turns VALUES ('u', 1)")
    time.sleep(0.5)
    assert _count(a, loads) == 1 and len(loads) == settled
    with pytest.raises(RuntimeError), b.write() as cur:  # rolled back: no notice at all
        cur.execute("DELETE FROM budgets")
        raise RuntimeError("boom")
    time.sleep(0.5)
    assert _count(a, loads) == 1 and len(loads) == settled


def test_a_disable_and_a_revoked_token_in_one_process_stop_at_once_in_the_other(
        pair: tuple[Database, Database], fast_bcrypt: None) -> None:
    a, b = pair
    mia = accounts.create_user(a, "mia", "Mia", None, "member", "correct horse battery staple",
                               now=NOW)
    token, secret = tokens.create(a, "mia", "ci", now=NOW)
    assert tokens.authenticate(a, secret, now=NOW) is not None  # cached in a
    user = accounts.get_user(a, "mia")
    assert user is not None and not user.disabled
    tokens.revoke(b, mia, token.id, now=NOW)
    wait_until(lambda: tokens.authenticate(a, secret, now=NOW) is None, timeout=5,
               what="the token revoked in b to stop in a")
    accounts.set_disabled(b, "mia", True, now=NOW)
    wait_until(lambda: (u := accounts.get_user(a, "mia")) is not None and u.disabled,
               timeout=5, what="the disable in b to reach a")


def test_while_the_notices_are_lost_nothing_is_served_from_cache(
        pair: tuple[Database, Database], postgres_url: str) -> None:
    a, b = pair
    loads: list[int] = []
    _count(a, loads)
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = 'promptboard-listen'")
    # The listeners reconnect within about a second; until then every read loads.
    with b.write() as cur:
        cur.execute("INSERT INTO budgets VALUES ('team', 'team', 10, 0.8, 'x', now())")
    wait_until(lambda: _count(a, loads) == 1, timeout=5, what="the write to be seen")
    wait_until(lambda: a._backend.in_sync, timeout=5, what="a to listen again")
    assert _count(a, loads) == 1  # (loads once more: writes may have been missed)
    settled = len(loads)
    assert _count(a, loads) == 1 and len(loads) == settled  # cached again
    with b.write() as cur:
        cur.execute("DELETE FROM budgets")
    wait_until(lambda: _count(a, loads) == 0, timeout=5, what="the next write to be heard")
