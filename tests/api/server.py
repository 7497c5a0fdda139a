"""A real server (the README's ``streamlit run serve.py``) with accounts and tokens, and a client.

The accounts and tokens are made in the data dir before the server starts (DuckDB lets one
process hold the file); after that, everything goes over HTTP, as a script would. The
server's API rate is high enough for the suite; the rate-limit test starts its own server.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict

from lib.auth import accounts, cookies, tokens
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
    headers: CaseInsensitiveDict[str]
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
    cookie_key: str = ""

    def call(self, method: str, path: str, who: str | None = None, *,
             token: str | None = None, **kwargs: Any) -> Reply:
        headers = dict(kwargs.pop("headers", {}) or {})
        secret = token or (self.tokens[who] if who else None)
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        resp = requests.request(method, self.server.url(path), headers=headers, timeout=30,
                                allow_redirects=False, **kwargs)
        return Reply(resp.status_code, resp.headers, resp.content)


# More setup before the server starts (budgets, spend, spare users): it may return more tokens.
Prepare = Callable[[Engine, datetime], dict[str, str] | None]


def make_accounts(data_dir: Path, prepare: Prepare | None = None, database_url: str = ""
                  ) -> tuple[dict[str, str], str]:
    """The users of USERS with one full token each, a read-only one for mia, and the cookie
    key the server will read (made now, in the data dir)."""
    eng = Engine(replace(config.load(), data_dir=data_dir, database_url=database_url))
    try:
        now = Clock().now()
        key = cookies.cookie_key(eng.settings)
        made: dict[str, str] = {}
        for name, role in USERS.items():
            accounts.create_user(eng.db, name, name.title(), None, role, PASSWORD, now=now)
            made[name] = tokens.create(eng.db, name, "tests", now=now)[1]
        made["mia-read"] = tokens.create(eng.db, "mia", "read", scope="read", now=now)[1]
        made["ann-read"] = tokens.create(eng.db, "ann", "read", scope="read", now=now)[1]
        if prepare is not None:
            made.update(prepare(eng, now) or {})
        return made, key
    finally:
        eng.close()


def start(tmp: Path, name: str, *, demo_images: int = 0, prepare: Prepare | None = None,
          prepare_dir: Callable[[Path], None] | None = None, database_url: str = "",
          **env: str) -> ApiServer:
    """A server on ``tmp/name`` with USERS, their tokens and ``demo_images`` of demo history;
    ``prepare`` gets an engine on the data dir, ``prepare_dir`` the data dir itself, before the
    server starts (after it, only the server may open the database)."""
    data = tmp / name
    data.mkdir()
    made, key = make_accounts(data, prepare, database_url)
    if prepare_dir is not None:
        prepare_dir(data)
    if demo_images:
        h.run_cli(h.clean_env(data), "demo-data", "--images", str(demo_images), "--days", "14",
                  "--users", "4")
    env = {"PROMPTBOARD_SANDBOX_LATENCY": "0.2", "PROMPTBOARD_API_RATE": "100000",
           "PROMPTBOARD_ADMIN_TOKEN": ADMIN_TOKEN, "PROMPTBOARD_DATABASE_URL": database_url,
           **env}
    server = h.AppServer(name, data, tmp / f"{name}.log", env=h.clean_env(data, **env)).start()
    return ApiServer(server, {**made, "automation": ADMIN_TOKEN}, key)


