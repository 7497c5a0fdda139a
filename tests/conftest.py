"""Shared fixtures: every test gets its own data dir; nothing touches ./data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point PROMPTBOARD_DATA_DIR at tmp_path and strip real provider keys."""
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("PROMPTBOARD_DATA_DIR", str(data))
    monkeypatch.setenv("PROMPTBOARD_STORAGE", "local")
    monkeypatch.setenv("PROMPTBOARD_SANDBOX_LATENCY", "0")
    for name in list(os.environ):
        if name.endswith(("_API_KEY", "_API_TOKEN", "_BASE_URL")) or name.startswith("A1111_"):
            monkeypatch.delenv(name, raising=False)
    yield
