"""The auth tests' database (a fresh file per test) and clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lib.core.clock import FakeClock
from lib.db.database import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "auth.duckdb")
    yield database
    database.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
