"""A webhook receiver on 127.0.0.1 that checks Standard Webhooks signatures on its own.

    rx = Receiver()                      # POST /hook... answers 200 unless scripted
    rx.script(Reply(500), Reply(429, headers={"Retry-After": "120"}))
    ... register rx.url as an endpoint, set rx.secret to what it got ...
    rx.deliveries                        # every POST: headers, body, and whether it verified

The check (:func:`reference_signature`, :func:`verify`) is written from the specification
(https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md,
"Verifying webhook authenticity"), not from lib.webhooks, so a mistake there shows here.
:class:`TLSReceiver` is an https one with a throwaway CA (:func:`tls_files`), to see that a
delivery connects to the checked address yet speaks TLS to the URL's host name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.fakes.server import FakeServer, Reply, Request

ROUTE = "POST /hook.*"

# The specification's published test vector (also in every Standard Webhooks library's tests).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID, VECTOR_TIMESTAMP = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def reference_signature(secret: str, msg_id: str, timestamp: str | int, body: bytes) -> str:
    """``v1,`` + base64(HMAC-SHA256(base64-decoded secret, "id.timestamp.body"))."""
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret[len("whsec_"):])
    content = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """A receiver's check: one of the space-separated ``v1,`` signatures matches."""
    try:
        msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
        given = headers["webhook-signature"].split(" ")
    except KeyError:
        return False
    if not ts.isdigit():
        return False
    expected = reference_signature(secret, msg_id, ts, body)
    return any(hmac.compare_digest(sig, expected) for sig in given)


@dataclass
class Received:
    """One POST the receiver got."""

    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    verified: bool | None  # None: no secret set (a Slack endpoint)

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A FakeServer with one route, ``POST /hook…``, recording and verifying each delivery."""

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        self.server = FakeServer({ROUTE: lambda req: Reply(200, "ok")})
        self.url = f"{self.server.url}/hook"

    def script(self, *replies: Reply) -> None:
        """Answer the next deliveries with these, in order (then 200 again)."""
        self.server.script(ROUTE, *replies)

    @property
    def deliveries(self) -> list[Received]:
        return [self._received(r) for r in self.server.requests_to("POST", "/hook.*")]

    def _received(self, req: Request) -> Received:
        ok = None if self.secret is None else verify(self.secret, req.headers, req.body)
        return Received(req.path, req.headers, req.body, ok)

    def close(self) -> None:
        self.server.close()


def tls_files(folder: Path, name: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate it signed for ``name``: (ca.pem, cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def _name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("test CA")).issuer_name(_name("test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


class TLSReceiver:
    """An https receiver on 127.0.0.1 with the given certificate; records each POST's Host
    header, the server name the client sent (SNI) and the body, and answers 200."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.posts: list[tuple[str, str | None, bytes]] = []
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        names: list[str | None] = []
        ctx.sni_callback = lambda sock, sni, _ctx: names.append(sni)  # type: ignore[assignment,func-returns-value]
        outer = self

        class _H(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.posts.append((self.headers.get("Host", ""), names[-1] if names else None,
                                    body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
