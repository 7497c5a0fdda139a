"""The board tests run on both backends: DuckDB and PostgreSQL (``backend``)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _on_each_backend(backend: str) -> str:
    return backend
