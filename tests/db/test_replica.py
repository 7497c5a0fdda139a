"""PROMPTBOARD_REPLICA=1 refuses to start on parts several dashboards cannot share, and says why;
on shared ones (PostgreSQL, one cookie key, one image store) it starts."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from lib.core import config
from lib.engine import Engine
from lib.replica import ReplicaRefused
from tests.browser import harness as h
from tests.helpers import ROOT

KEY = "k" * 40


def _engine(data: Path, url: str = "") -> Engine:
    return Engine(replace(config.load(), data_dir=data, database_url=url, replica=True))


def test_the_embedded_database_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTBOARD_COOKIE_KEY", KEY)
    with pytest.raises(ReplicaRefused, match="PROMPTBOARD_DATABASE_URL=postgresql"):
        _engine(tmp_path / "a")


def test_a_missing_cookie_key_is_refused(tmp_path: Path, postgres_url: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTBOARD_COOKIE_KEY", raising=False)
    with pytest.raises(ReplicaRefused, match="PROMPTBOARD_COOKIE_KEY"):
        _engine(tmp_path / "a", postgres_url)


def test_a_second_replica_on_its_own_folder_is_refused_and_on_the_shared_one_starts(
        tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTBOARD_COOKIE_KEY", KEY)
    first = _engine(tmp_path / "shared", postgres_url)
    try:
        with pytest.raises(ReplicaRefused, match="not the one this database's images are in"):
            _engine(tmp_path / "elsewhere", postgres_url)  # its own, empty images folder
        second = _engine(tmp_path / "shared", postgres_url)  # the same mount: fine
        second.close()
    finally:
        first.close()


def test_the_server_exits_and_says_why(tmp_path: Path) -> None:
    """The README's command with PROMPTBOARD_REPLICA=1 on the embedded database stops at once,
    with the reason in its log, instead of serving a dashboard that cannot be shared."""
    data = tmp_path / "data"
    env = h.clean_env(data, PROMPTBOARD_REPLICA="1", PROMPTBOARD_COOKIE_KEY=KEY)
    done = subprocess.run(
        [sys.executable, "-m", "streamlit", "run", "serve.py", "--server.headless", "true",
         "--server.port", str(h.free_port())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "PROMPTBOARD_DATABASE_URL=postgresql" in done.stdout + done.stderr
