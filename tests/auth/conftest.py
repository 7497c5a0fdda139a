"""The auth tests' database (a fresh file per test) and clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lib.core import config
from lib.core.clock import FakeClock
from lib.db.database import Database


@pytest.fixture(autouse=True)
def _on_each_backend(backend: str) -> str:
    """Every auth test runs on DuckDB and on PostgreSQL (tests/conftest.py: ``backend``)."""
    return backend


@pytest.fixture
def db() -> Iterator[Database]:
    database = Database(config.load().database)
    yield database
    database.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
