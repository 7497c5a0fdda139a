"""Signed image links: one path, one session, an hour or two, and the session rules each time."""

from __future__ import annotations

import time
import urllib.parse

import pytest

from lib.auth import accounts, links
from lib.core.clock import FakeClock
from lib.db.database import Database

KEY = "k" * 48
PATH = "/api/v1/images/abc/thumbnail"


@pytest.fixture(autouse=True)
def _users(db: Database, clock: FakeClock, fast_bcrypt: None) -> None:
    accounts.create_user(db, "mia", "Mia", None, "member", "correct horse battery", now=clock.now())


def _params(url: str) -> tuple[str, dict[str, str]]:
    path, _, query = url.partition("?")
    return path, dict(urllib.parse.parse_qsl(query))


def test_a_link_opens_its_path_for_its_session_only(db: Database, clock: FakeClock) -> None:
    now = time.time()
    path, params = _params(links.sign(KEY, PATH, "mia", clock.now(), now))
    assert path == PATH
    user = links.verify(db, KEY, PATH, params, now)
    assert user is not None and user.username == "mia"
    assert links.verify(db, KEY, "/api/v1/images/other/thumbnail", params, now) is None
    assert links.verify(db, "x" * 48, PATH, params, now) is None  # another server's key
    for name in links.PARAMS:
        assert links.verify(db, KEY, PATH, {**params, name: params[name] + "0"}, now) is None
        assert links.verify(db, KEY, PATH, {k: v for k, v in params.items() if k != name},
                            now) is None


def test_a_link_is_stable_within_the_hour_and_dies_after_two(db: Database,
                                                              clock: FakeClock) -> None:
    hour = 1_800_000_000 - 1_800_000_000 % 3600
    a = links.sign(KEY, PATH, "mia", clock.now(), hour + 1)
    assert links.sign(KEY, PATH, "mia", clock.now(), hour + 3599) == a  # cacheable
    _, params = _params(a)
    assert links.verify(db, KEY, PATH, params, hour + 7199) is not None
    assert links.verify(db, KEY, PATH, params, hour + 7200) is None


def test_sign_out_everywhere_and_disable_stop_every_link(db: Database,
                                                         clock: FakeClock) -> None:
    issued = clock.now()
    _, params = _params(links.sign(KEY, PATH, "mia", issued, time.time()))
    clock.advance(5)
    accounts.revoke_sessions(db, "mia", clock.now())
    assert links.verify(db, KEY, PATH, params, time.time()) is None
    _, fresh = _params(links.sign(KEY, PATH, "mia", clock.now(), time.time()))
    assert links.verify(db, KEY, PATH, fresh, time.time()) is not None  # a new session works
    clock.advance(5)
    accounts.set_disabled(db, "mia", True, now=clock.now())
    assert links.verify(db, KEY, PATH, fresh, time.time()) is None
