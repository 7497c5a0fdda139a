"""One real server (the README's ``streamlit run serve.py``) for the API tests, and a client.

The accounts and tokens are made in the data dir before the server starts (DuckDB lets one
process hold the file); after that, everything goes over HTTP, as a script would. The
server's API rate is high enough for the suite; the rate-limit test starts its own server.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import requests

from lib.auth import accounts, tokens
from lib.core import config
from lib.core.clock import Clock
from lib.engine import Engine
from tests.browser import harness as h

PASSWORD = "correct horse battery staple"
ADMIN_TOKEN = "automation-" + "x" * 40
USERS = {"ada": "admin", "mia": "member", "max": "member", "ann": "analyst"}


@dataclass
class Reply:
    """What the server answered."""

    status: int
    headers: requests.structures.CaseInsensitiveDict[str]
    content: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def error(self) -> dict[str, Any]:
        body: dict[str, Any] = self.json["error"]
        return body


@dataclass
class ApiServer:
    """The running server, its tokens by user (``mia-read`` is read-only) and a client."""

    server: h.AppServer
    tokens: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, who: str | None = None, *,
             token: str | None = None, **kwargs: Any) -> Reply:
        headers = dict(kwargs.pop("headers", {}) or {})
        secret = token or (self.tokens[who] if who else None)
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        resp = requests.request(method, self.server.url(path), headers=headers, timeout=30,
                                allow_redirects=False, **kwargs)
        return Reply(resp.status_code, resp.headers, resp.content)


def make_accounts(data_dir: Path) -> dict[str, str]:
    """The users of USERS with one full token each, and a read-only one for mia and ann."""
    eng = Engine(replace(config.load(), data_dir=data_dir))
    try:
        now = Clock().now()
        made: dict[str, str] = {}
        for name, role in USERS.items():
            accounts.create_user(eng.db, name, name.title(), None, role, PASSWORD, now=now)
            made[name] = tokens.create(eng.db, name, "tests", now=now)[1]
        made["mia-read"] = tokens.create(eng.db, "mia", "read", scope="read", now=now)[1]
        made["ann-read"] = tokens.create(eng.db, "ann", "read", scope="read", now=now)[1]
        return made
    finally:
        eng.close()


def start(tmp: Path, name: str, prepare: Callable[[Path], None] | None = None,
          **env: str) -> ApiServer:
    """A server on a new data dir ``tmp/name`` with the accounts; ``prepare`` gets the data
    dir before the server starts (after it, only the server may open the database)."""
    data = tmp / name
    data.mkdir()
    made = make_accounts(data)
    if prepare is not None:
        prepare(data)
    env = {"PROMPTBOARD_SANDBOX_LATENCY": "0.2", "PROMPTBOARD_API_RATE": "100000",
           "PROMPTBOARD_ADMIN_TOKEN": ADMIN_TOKEN, **env}
    server = h.AppServer(name, data, tmp / f"{name}.log", env=h.clean_env(data, **env)).start()
    return ApiServer(server, {**made, "automation": ADMIN_TOKEN})


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    running = start(tmp_path_factory.mktemp("api"), "api")
    yield running
    running.server.stop()
