"""A scriptable HTTP server on 127.0.0.1 for faking provider APIs over a real socket.

    server = FakeServer({"POST /v1/images/generations": default_handler})
    server.script("POST /v1/images/generations", Reply(429, {...}, {"retry-after": "3"}))
    ... provider calls server.url ...
    server.history  # every request: method, path, query, headers, body

A route is ``"METHOD /regex"`` (full match on the path). Scripted replies are used
first, in order; then the route's handler answers. A :class:`Reply` can delay
(to trigger client timeouts), reset the connection, or send a truncated body.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    match: re.Match[str] | None = None

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class Reply:
    """What the fake answers."""

    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (client timeouts)
    reset: bool = False  # close the socket without answering (connection reset)
    truncate: int | None = None  # send only this many body bytes, then close

    def payload(self) -> tuple[bytes, str]:
        """Body bytes and a default content type."""
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return self.body, "application/octet-stream"


Handler = Callable[[Request], Reply]


class FakeServer:
    """A real HTTP server on a free loopback port, answering by route."""

    def __init__(self, routes: dict[str, Handler]) -> None:
        self.routes = [(k.split(" ", 1)[0], re.compile(k.split(" ", 1)[1]), h)
                       for k, h in routes.items()]
        self.scripts: dict[str, list[Reply]] = {}
        self.history: list[Request] = []
        self._lock = threading.Lock()
        fake = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                return None

            def _serve(self) -> None:
                fake._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def script(self, route: str, *replies: Reply) -> None:
        """Queue replies for a route (its key as given to the constructor)."""
        with self._lock:
            self.scripts.setdefault(route, []).extend(replies)

    def requests_to(self, method: str, path_regex: str) -> list[Request]:
        """The recorded requests matching a method and path."""
        rx = re.compile(path_regex)
        return [r for r in self.history if r.method == method and rx.fullmatch(r.path)]

    def close(self) -> None:
        """Stop serving and free the port."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        req = Request(h.command, parts.path, parse_qs(parts.query),
                      {k.lower(): v for k, v in h.headers.items()}, body)
        found: tuple[str, Handler] | None = None
        with self._lock:
            self.history.append(req)
            for method, rx, route_handler in self.routes:
                m = rx.fullmatch(parts.path)
                if method == h.command and m:
                    req.match = m
                    found = (f"{method} {rx.pattern}", route_handler)
                    break
            queue = self.scripts.get(found[0]) if found else None
            scripted = queue.pop(0) if queue else None
        if scripted is not None:
            reply = scripted
        elif found is not None:
            reply = found[1](req)
        else:
            reply = Reply(404, {"error": f"no fake route for {h.command} {parts.path}"})
        self._send(h, reply)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        if reply.reset:
            linger = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # on, 0 s: close sends RST
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            h.connection.close()
            h.close_connection = True
            return
        data, ctype = reply.payload()
        h.send_response(reply.status)
        headers = {"Content-Type": ctype, **reply.headers}
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if reply.truncate is not None:
            h.wfile.write(data[: reply.truncate])
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        h.wfile.write(data)
