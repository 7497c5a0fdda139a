"""The dashboard's fingerprinted static files (lib/web/assets.py), served in-process.

The real server's answer (mounted by serve.py, with the security headers) is checked in
tests/api/test_assets_server.py.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette

from lib.web import assets


@dataclass
class Answer:
    status_code: int
    headers: dict[str, str]
    content: bytes


class Client:
    """Plain ASGI calls (starlette's TestClient needs httpx, which the app does not)."""

    def __init__(self) -> None:
        self.app = Starlette(routes=assets.routes())

    def request(self, method: str, path: str) -> Answer:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(),
                 "query_string": b"", "headers": [], "root_path": "", "scheme": "http",
                 "server": ("127.0.0.1", 80), "http_version": "1.1"}
        asyncio.run(self.app(scope, receive, send))
        start = sent[0]
        headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        body = b"".join(m.get("body", b"") for m in sent[1:])
        return Answer(start["status"], headers, body)

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def head(self, path: str) -> Answer:
        return self.request("HEAD", path)


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.mark.parametrize("name", ["grid.js", "grid.css"])
def test_a_file_is_served_under_its_fingerprint_for_a_year(client: Client, name: str) -> None:
    body = (assets.ROOT / name).read_bytes()
    url = assets.url(name)
    stem, ext = name.rsplit(".", 1)
    assert url == f"/assets/{stem}.{hashlib.sha256(body).hexdigest()[:12]}.{ext}"
    resp = client.get(url)
    assert resp.status_code == 200 and resp.content == body
    assert resp.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert resp.headers["content-type"].startswith(
        "text/javascript" if ext == "js" else "text/css")
    assert client.head(url).status_code == 200


@pytest.mark.parametrize("path", [
    "/assets/grid.000000000000.js",  # an old version's name: never another version's code
    "/assets/grid.js",  # unfingerprinted
    "/assets/..%2Fassets.py",
    "/assets/nothing.css",
])
def test_anything_else_is_not_found_and_not_cached(client: Client, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code == 404 and resp.headers["cache-control"] == "no-store"


def test_only_files_of_the_static_folder_with_a_known_type_have_urls() -> None:
    for name in ("../assets.py", "grid.txt", "missing.js"):
        with pytest.raises(FileNotFoundError):
            assets.url(name)


def test_the_grid_component_loads_the_current_files() -> None:
    from lib.ui import grid

    assert assets.url("grid.js") in grid._JS and assets.url("grid.css") in grid._HTML
    assert len(grid._JS) + len(grid._HTML) < 400  # a loader, not the code, on every run
