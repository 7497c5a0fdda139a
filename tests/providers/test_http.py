"""The shared provider HTTP helpers: transport errors, retry hints, JSON, base64, redaction."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from lib.providers import http
from lib.providers.base import BadResponse, Rejected, Unavailable
from tests.fakes.gemini import png_bytes
from tests.fakes.server import FakeServer, Reply
from tests.helpers import closed_port_url

SECRET = "sk-live-SECRETSECRETSECRET1234"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    """One server for the module (closing one costs half a second); scripts are per test."""
    srv = FakeServer({"GET /thing": lambda _req: Reply(200, {"ok": True})})
    yield srv
    srv.close()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "7"}, 7.0),
        ({"Retry-After": "2.5"}, 2.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # the ms header wins
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),  # a bad ms header is skipped
        ({"retry-after": "Mon, 02 Nov 2026 09:00:30 GMT"}, 30.0),
        ({"retry-after": "Mon, 02 Nov 2026 08:59:00 GMT"}, 0.0),  # in the past: no wait
        ({"retry-after": "whenever"}, None),
        ({"retry-after": "-3"}, 0.0),
        ({}, None),
    ],
)
def test_retry_after_reads_ms_seconds_and_http_dates(
    headers: dict[str, str], expected: float | None
) -> None:
    now = datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)
    assert http.retry_after_seconds(headers, now=now) == expected


def test_retry_after_reads_a_requests_header_mapping(server: FakeServer) -> None:
    server.script("GET /thing", Reply(429, {}, {"Retry-After": "4"}))
    resp = requests.get(f"{server.url}/thing", timeout=2)
    assert http.retry_after_seconds(resp.headers) == 4.0


@pytest.mark.parametrize(
    "text",
    [
        base64.b64encode(png_bytes()).decode(),
        "data:image/png;base64," + base64.b64encode(png_bytes()).decode(),
        "DATA:image/webp;charset=x;base64,\n" + base64.b64encode(png_bytes()).decode(),
        "\n".join(base64.encodebytes(png_bytes()).decode().split("\n")),  # MIME line breaks
    ],
)
def test_b64_image_decodes_plain_wrapped_and_data_url_forms(text: str) -> None:
    assert http.b64_image(text, "Acme") == png_bytes()


@pytest.mark.parametrize("text", ["not base64 at all!", "abc", "", "data:image/png;base64,"])
def test_b64_image_refuses_broken_data_with_bad_response(text: str) -> None:
    with pytest.raises(BadResponse, match="Acme"):
        http.b64_image(text, "Acme")


def test_redact_hides_given_secrets_and_key_shaped_strings() -> None:
    text = (f"bad key {SECRET} and AIzaSyA1234567890abcdefghijklmnop and "
            "r8_" "abcdefghijklmnopqrstuvwxyz and plain-word")
    out = http.redact(text, "plain-word", None, "ab")  # a 2-char "secret" is not redacted
    assert SECRET not in out and "AIzaSy" not in out and "r8_abc" not in out
    assert "plain-word" not in out and out.count("***") == 4
    assert http.redact("nothing here") == "nothing here"


def test_origin_keeps_scheme_host_and_port_only() -> None:
    url = "https://user:pw@api.example.com:8443/v1/images?key=SECRET#frag"
    assert http.origin(url) == "https://api.example.com:8443"
    assert http.origin("http://127.0.0.1/x") == "http://127.0.0.1"


def test_clip_flattens_and_shortens() -> None:
    assert http.clip("a\n  b\tc") == "a b c"
    long = http.clip("word " * 200, 50)
    assert len(long) <= 50 and long.endswith("…")


def test_send_returns_any_status_untouched(server: FakeServer) -> None:
    server.script("GET /thing", Reply(503, {"error": "busy"}))
    resp = http.send(requests.Session(), "GET", f"{server.url}/thing", timeout=2, label="Acme")
    assert resp.status_code == 503


def test_send_maps_a_timeout_to_unavailable_without_the_url(server: FakeServer) -> None:
    server.script("GET /thing", Reply(200, {}, delay=0.6))
    with pytest.raises(Unavailable) as caught:
        http.send(requests.Session(), "GET", f"{server.url}/thing?token={SECRET}", timeout=0.2,
                  label="Acme", hint="Check ACME_URL.")
    msg = caught.value.message
    assert "Acme did not answer within 0.2 s" in msg and "PROMPTBOARD_HTTP_TIMEOUT" in msg
    assert msg.endswith("Check ACME_URL.") and SECRET not in msg and "/thing" not in msg


def test_send_maps_refused_and_reset_connections_to_unavailable(server: FakeServer) -> None:
    url = closed_port_url()
    with pytest.raises(Unavailable, match="could not be reached at http://127.0.0.1:") as caught:
        http.send(requests.Session(), "POST", f"{url}/v1?key={SECRET}", timeout=1, label="Acme",
                  json={"secret": SECRET})
    assert SECRET not in caught.value.message and caught.value.retryable
    server.script("GET /thing", Reply(reset=True))
    with pytest.raises(Unavailable, match="could not be reached"):
        http.send(requests.Session(), "GET", f"{server.url}/thing", timeout=2, label="Acme")


def test_send_maps_a_body_cut_short_to_unavailable(server: FakeServer) -> None:
    server.script("GET /thing", Reply(200, b"x" * 1000, truncate=10))
    with pytest.raises(Unavailable, match="cut off"):
        http.send(requests.Session(), "GET", f"{server.url}/thing", timeout=2, label="Acme")


@pytest.mark.parametrize("url", ["not a url", "ftp://example.com/x", "http://"])
def test_send_refuses_a_malformed_address(url: str) -> None:
    with pytest.raises(Rejected, match="not a valid http"):
        http.send(requests.Session(), "GET", url, timeout=1, label="Acme")


def test_json_body_raises_bad_response_on_malformed_json(server: FakeServer) -> None:
    server.script("GET /thing", Reply(200, b"{nope", {"Content-Type": "application/json"}))
    resp = requests.get(f"{server.url}/thing", timeout=2)
    with pytest.raises(BadResponse, match=r"not valid JSON \(HTTP 200\)"):
        http.json_body(resp, "Acme")
    ok = requests.get(f"{server.url}/thing", timeout=2)
    assert http.json_body(ok, "Acme") == {"ok": True}


def test_send_refuses_a_reply_over_the_size_cap_before_reading_it_all(server: FakeServer) -> None:
    """A hostile or broken endpoint cannot fill the server's memory with one reply."""
    server.script("GET /thing", Reply(200, b"x" * 5000))  # says Content-Length: 5000
    with pytest.raises(BadResponse, match="more than 1,000 bytes") as caught:
        http.send(requests.Session(), "GET", f"{server.url}/thing?key={SECRET}", timeout=2,
                  label="Acme", max_bytes=1000)
    assert SECRET not in caught.value.message and "nothing was stored" in caught.value.message
    server.script("GET /thing", Reply(200, b"y" * 1000))  # at the cap: read whole
    resp = http.send(requests.Session(), "GET", f"{server.url}/thing", timeout=2, label="Acme",
                     max_bytes=1000)
    assert resp.content == b"y" * 1000 and resp.status_code == 200


def test_send_stops_reading_when_a_reply_without_a_length_passes_the_cap() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Endless(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"z" * 65536
            try:
                for _ in range(10_000):  # 640 MB if nobody stops reading
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Endless)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with pytest.raises(BadResponse, match="more than 1 MB"):
            http.send(requests.Session(), "GET", f"http://127.0.0.1:{srv.server_port}/",
                      timeout=5, label="Acme", max_bytes=1024 * 1024)
    finally:
        srv.shutdown()
        srv.server_close()


def test_the_default_reply_cap_holds_several_images_at_the_download_cap() -> None:
    assert http.MAX_REPLY_BYTES >= 4 * 64 * 1024 * 1024
