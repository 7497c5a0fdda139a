"""lib.web.headers: which framing rule each path gets, and WebSocket traffic passes untouched."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from lib.web.headers import DENY, SAME_ORIGIN, SecurityHeaders, headers_for


@pytest.mark.parametrize(("path", "framing"), [
    ("/", DENY),
    ("/admin", DENY),
    ("/media/abc.png", DENY),
    ("/component/extra_streamlit_components.CookieManager/index.html", SAME_ORIGIN),
    ("/base/component/x/index.html", SAME_ORIGIN),  # under server.baseUrlPath
    ("/_stcore/bidi-components/grid/index.js", SAME_ORIGIN),
])
def test_only_our_own_component_frames_may_be_framed_and_only_by_us(
    path: str, framing: tuple[tuple[bytes, bytes], ...]
) -> None:
    assert headers_for(path)[:2] == framing


def _run(scope: dict[str, Any], start_headers: list[tuple[bytes, bytes]]) -> list[Any]:
    sent: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": start_headers})

    async def receive() -> dict[str, Any]:
        return {}

    async def send(message: Any) -> None:
        sent.append(message)

    # A thread of its own: Playwright's sync API (the browser tests, earlier in the same run)
    # keeps an event loop running in the main thread, where asyncio.run() would refuse.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, SecurityHeaders(app)(scope, receive, send)).result()
    return sent


def test_an_http_response_gets_the_headers_once_replacing_the_apps_own() -> None:
    sent = _run({"type": "http", "path": "/"}, [(b"X-Frame-Options", b"ALLOWALL")])
    headers = sent[0]["headers"]
    assert [v for k, v in headers if k.lower() == b"x-frame-options"] == [b"DENY"]
    assert (b"content-security-policy", b"frame-ancestors 'none'") in headers


def test_a_websocket_scope_is_passed_through_untouched() -> None:
    original = [(b"x", b"y")]
    sent = _run({"type": "websocket", "path": "/_stcore/stream"}, original)
    assert sent[0]["headers"] == original
