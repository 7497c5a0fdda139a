"""Anti-framing and other security headers on every HTTP response (finding 13).

Streamlit 1.67 has no option for extra response headers; its ``st.App`` takes Starlette
middleware, so ``serve.py`` wraps the dashboard in :class:`SecurityHeaders`. It is plain ASGI
(no Streamlit import): WebSocket traffic passes untouched, and every HTTP response, the page
itself, static files, media and health checks alike, gets:

- ``X-Frame-Options: DENY`` and ``Content-Security-Policy: frame-ancestors 'none'``: no other
  site (nor a sibling subdomain) can frame the dashboard to redress its sign-in form;
- ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin``.

Component files (``/component/...``, ``/_stcore/bidi-components/...``) are framed by the
dashboard itself (the sign-in cookie is written from one), so they allow the same origin only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DENY: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
)
SAME_ORIGIN: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"content-security-policy", b"frame-ancestors 'self'"),
)
ALWAYS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
_FRAMED_BY_US = ("/component/", "/_stcore/bidi-components/")


def headers_for(path: str) -> tuple[tuple[bytes, bytes], ...]:
    """The security headers a response to ``path`` carries."""
    framing = SAME_ORIGIN if any(part in path for part in _FRAMED_BY_US) else DENY
    return framing + ALWAYS


class SecurityHeaders:
    """ASGI middleware: add :func:`headers_for` to every HTTP response, replacing any same-named
    header the app set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(str(scope.get("path", "")))
        names = {name for name, _ in extra}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = [*kept, *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
