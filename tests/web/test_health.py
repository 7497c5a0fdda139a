"""/healthz and /readyz: the checks in-process, then on the real server the README starts.

A dead part gets 503 naming the part and what to look at, never the exception's text (these
routes are open to anyone who can reach the port).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lib.core import config
from lib.db.database import DatabaseLocked
from lib.engine import Engine
from lib.storage.base import StorageError
from lib.web import health
from tests.browser import harness as h
from tests.helpers import closed_port_url


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine(config.load())
    yield eng
    eng.close()


def test_a_working_engine_is_ready(engine: Engine) -> None:
    assert health.readiness(lambda: engine) == (
        True, {"engine": "ok", "database": "ok", "storage": "ok"})


def test_a_dead_store_is_not_ready_and_its_error_text_is_not_shown(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(key: str) -> bool:
        raise StorageError("s3://secret-bucket/img at http://10.1.2.3:9000: refused", key)

    monkeypatch.setattr(engine.storage, "exists", down)
    ready, checks = health.readiness(lambda: engine)
    assert not ready and checks["database"] == "ok"
    assert checks["storage"] == health.FAILED["storage"]
    assert "secret-bucket" not in json.dumps(checks)


def test_an_engine_that_cannot_open_its_database_is_not_ready() -> None:
    def locked() -> Engine:
        raise DatabaseLocked("Another Promptboard process holds /very/private/path.duckdb")

    ready, checks = health.readiness(locked)
    assert (ready, checks) == (False, {"engine": health.FAILED["engine"]})


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def _serve(tmp_path: Path, name: str, **env: str) -> h.AppServer:
    data = tmp_path / name
    data.mkdir()
    return h.AppServer(name, data, tmp_path / f"{name}.log", env=h.clean_env(data, **env)).start()


def test_the_served_app_answers_both_with_no_store_and_its_security_headers(
    tmp_path: Path,
) -> None:
    server = _serve(tmp_path, "health")
    try:
        status, headers, body = _get(server.url("/healthz"))
        assert (status, body) == (200, b"ok")
        assert headers["cache-control"] == "no-store" and headers["x-frame-options"] == "DENY"
        status, headers, body = _get(server.url("/readyz"))
        assert status == 200 and headers["cache-control"] == "no-store"
        assert json.loads(body) == {"ready": True, "checks": {
            "engine": "ok", "database": "ok", "storage": "ok"}}
        status, _, _ = _get(server.url("/"))
        assert status == 200  # the dashboard is still served beside them
    finally:
        server.stop()


def test_the_served_app_with_s3_down_is_live_but_not_ready(tmp_path: Path) -> None:
    dead = closed_port_url()
    env = {"PROMPTBOARD_STORAGE": "s3://promptboard-private/img",
                           "AWS_ENDPOINT_URL": dead, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
                           "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMIexamplesecret",
                           "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1"}
    server = _serve(tmp_path, "health-s3", **env)
    try:
        assert _get(server.url("/healthz"))[0] == 200
        status, _, body = _get(server.url("/readyz"))
        assert status == 503
        assert json.loads(body)["checks"] == {
            "engine": "ok", "database": "ok", "storage": health.FAILED["storage"]}
        for secret in ("promptboard-private", dead.rsplit(":", 1)[1], "wJalrXUtnFEMI"):
            assert secret not in body.decode()
        assert "readyz" in server.log_tail()  # the detail went to the server log
    finally:
        server.stop()
