"""Shared fixtures: every test gets its own data dir; nothing touches ./data."""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from lib.engine import Engine
    from tests.pgserver import PostgresServer

# No wall-clock deadline on property tests: on a busy 2-core machine one slow example (a first
# import, a GC pause) failed a correct test as "flaky". Speed lives in bench/, not in tests.
settings.register_profile("promptboard", deadline=None)
settings.load_profile("promptboard")

# PROMPTBOARD_TEST_TRAVEL_DAYS=365 runs the whole session that many days from today (wall clock
# only: time.time, datetime.now, date.today; monotonic time and sleeps are real). The suite
# must pass on any day, so it must pass then too: every date-dependent test is on a pinned clock.
_TRAVEL_DAYS = os.environ.get("PROMPTBOARD_TEST_TRAVEL_DAYS", "")

# A developer's own OpenAI-compatible endpoints (.streamlit/endpoints.toml) never reach the
# tests: the registry loads none at import, and tests that want one write their own file
# (tests/fakes/compatible.py), restoring this afterwards.
NO_ENDPOINTS = os.devnull
os.environ["PROMPTBOARD_ENDPOINTS_FILE"] = NO_ENDPOINTS
os.environ.pop("PROMPTBOARD_ENDPOINTS", None)


def pytest_configure(config: pytest.Config) -> None:
    if _TRAVEL_DAYS:
        from datetime import UTC, datetime, timedelta

        import time_machine

        trip = time_machine.travel(datetime.now(UTC) + timedelta(days=float(_TRAVEL_DAYS)),
                                   tick=True)
        trip.start()
        config.add_cleanup(trip.stop)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Suites that run on both backends (an autouse fixture asking for ``backend``) keep their
    # DuckDB-only tests (the file lock, WAL permissions, file copies) on DuckDB alone.
    keep = [item for item in items if not ("duckdb_only" in item.keywords
                                           and "[postgres" in item.nodeid)]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
    if _TRAVEL_DAYS:
        skip = pytest.mark.skip(reason="its subprocesses do not travel: they would run on today")
        for item in items:
            if "own_clock" in item.keywords:
                item.add_marker(skip)


def pytest_report_header(config: pytest.Config) -> str | None:
    return f"travelling {_TRAVEL_DAYS} days ahead (wall clock)" if _TRAVEL_DAYS else None


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point PROMPTBOARD_DATA_DIR at tmp_path; strip real provider keys and the CLI's server."""
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("PROMPTBOARD_DATA_DIR", str(data))
    monkeypatch.setenv("PROMPTBOARD_STORAGE", "local")
    monkeypatch.setenv("PROMPTBOARD_SANDBOX_LATENCY", "0")
    monkeypatch.setenv("PROMPTBOARD_MODEL_CHECK_HOURS", "0")  # tests/catalog turn it on
    for name in ("PROMPTBOARD_URL", "PROMPTBOARD_TOKEN",  # the CLI would go to a server
                 "PROMPTBOARD_DATABASE_URL"):  # tests on PostgreSQL ask for ``backend``
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.endswith(("_API_KEY", "_API_TOKEN", "_BASE_URL")) or name.startswith("A1111_"):
            monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """bcrypt at cost 4, its floor, instead of 12: creating and signing in users stays quick
    (tests/auth/test_auth.py checks the real cost)."""
    from lib.auth import accounts as auth

    monkeypatch.setattr(auth, "BCRYPT_ROUNDS", 4)


@pytest.fixture
def engine() -> Iterator[Engine]:
    """An engine on a FakeClock at tests.builders.T0 (modules needing another clock define
    their own ``engine``)."""
    from lib.core import config
    from lib.core.clock import FakeClock
    from lib.engine import Engine
    from tests.builders import T0

    eng = Engine(config.load(), clock=FakeClock(T0))
    yield eng
    eng.close()


@pytest.fixture
def page_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Pages under AppTest (sign in with tests.helpers.sign_in or app_as): each test gets a
    fresh dashboard engine on its own data dir (the old one is closed), on a clock pinned to a
    fixed day (tests.helpers.PinnedClock), so no page test depends on the date."""
    import streamlit as st

    from lib.engine import Engine
    from lib.ui import shared
    from tests.helpers import PinnedClock

    monkeypatch.setattr(shared, "Engine", functools.partial(Engine, clock=PinnedClock()))
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture(scope="session")
def postgres_bindir() -> Path:
    """Where PostgreSQL's initdb, pg_ctl and postgres are. None installed fails the asking
    test, unless PROMPTBOARD_TEST_NO_POSTGRES=1 skips it (tests/pgserver.py)."""
    from tests import pgserver

    return pgserver.require_bindir(os.environ, pgserver.find_bindir())


@pytest.fixture(scope="session")
def postgres(postgres_bindir: Path) -> Iterator[PostgresServer]:
    """One private PostgreSQL cluster for the session, started by the first test that asks
    for it and stopped, its directory removed, at the end of the session."""
    from tests import pgserver

    with pgserver.running_postgres(postgres_bindir) as server:
        yield server


_database_numbers = itertools.count(1)


@pytest.fixture
def postgres_url(postgres: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, empty database for this test on the session's cluster (dropped afterwards, its
    connections ended), named after the test: ``postgresql://postgres@127.0.0.1:PORT/t7_…``."""
    from tests.pgserver import database_name

    name = database_name(request.node.name, next(_database_numbers))
    yield postgres.new_database(name)
    postgres.drop_database(name)


@pytest.fixture(params=["duckdb", "postgres"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the asking test once per backend: the embedded DuckDB file, and a fresh PostgreSQL
    database on the session's cluster through PROMPTBOARD_DATABASE_URL (so every
    ``config.load()`` of the test, engines and server subprocesses alike, uses it). A suite
    opts in with an autouse fixture that asks for this one (tests/jobs/conftest.py); its
    ``@pytest.mark.duckdb_only`` tests run on DuckDB alone."""
    if request.param == "postgres":
        monkeypatch.setenv("PROMPTBOARD_DATABASE_URL", request.getfixturevalue("postgres_url"))
    return str(request.param)
