"""The reporting tests' engine: 20 Nov 2026 on the clock, and the November history of
``tests.builders`` (hand-computed figures in tests/reporting/test_analytics.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from lib.core import config
from lib.core.clock import FakeClock
from lib.db.database import Database
from lib.engine import Engine
from tests.builders import add_history


@pytest.fixture(autouse=True)
def _on_each_backend(backend: str) -> str:
    """The hand-computed figures hold on DuckDB and on PostgreSQL alike."""
    return backend


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine(config.load(), clock=FakeClock(datetime(2026, 11, 20, 12)))
    yield eng
    eng.close()


@pytest.fixture
def db(engine: Engine) -> Database:
    add_history(engine.db)
    return engine.db
