"""The safe downloader's rules, one at a time (the job-level attacks are in reliability/test_ssrf).

The https tests run a real TLS server on 127.0.0.1 with a certificate for a
``*.replicate.delivery`` name from a throw-away CA: they show that a connection goes to the
address that was checked while TLS still verifies the host name.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lib.providers import download
from lib.providers.base import BadResponse, Unavailable
from lib.providers.download import Policy, Target, check_url, is_public
from tests.fakes.replicate import png_bytes

NAME = "img.replicate.delivery"


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.0.0.2", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "100.100.100.200", "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255",
    "198.18.0.1", "::1", "::", "fe80::1", "fd00:ec2::254", "ff02::1", "::ffff:127.0.0.1",
    "::ffff:10.0.0.1", "2002:7f00:1::", "64:ff9b::a9fe:a9fe", "2001:db8::1",
], ids=str)
def test_private_local_metadata_and_reserved_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["104.18.12.5", "8.8.8.8", "2606:4700::6810:1", "1.1.1.1"])
def test_ordinary_internet_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(("host", "allowed"), [
    ("replicate.delivery", True), ("pbxt.replicate.delivery", True),
    ("a.b.replicate.delivery", True), ("evilreplicate.delivery", False),
    ("replicate.delivery.evil.example", False), ("cdn.example.com", True),
    ("example.com", True), ("notexample.com", False), ("x.other.example", True),
])
def test_the_allow_list_matches_hosts_and_their_subdomains_only(
    monkeypatch: pytest.MonkeyPatch, host: str, allowed: bool
) -> None:
    monkeypatch.setenv("PROMPTBOARD_DOWNLOAD_HOSTS", "example.com, *.other.example")
    assert Policy.from_env().host_allowed(host) is allowed


def test_an_allowed_name_whose_addresses_include_a_private_one_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def resolve(host: str, port: int, **kw: Any) -> list[Any]:
        return [(0, 0, 0, "", ("104.18.12.5", port)), (0, 0, 0, "", ("10.0.0.7", port))]

    monkeypatch.setattr(download.socket, "getaddrinfo", resolve)
    with pytest.raises(BadResponse, match="private, local or reserved"):
        check_url(f"https://{NAME}/x.png", label="Replicate", policy=Policy())
    monkeypatch.setattr(download.socket, "getaddrinfo", lambda h, p, **kw: [
        (0, 0, 0, "", ("104.18.12.5", p))])
    target = check_url(f"https://{NAME}/x.png?a=1", label="Replicate", policy=Policy())
    assert (target.address, target.host, target.path) == ("104.18.12.5", NAME, "/x.png?a=1")


@pytest.mark.parametrize(("url", "fragment"), [
    ("https://user:pw@replicate.delivery/x", "without a usable host"),
    ("https://replicate.delivery:8443/x", "port 8443"),
    ("http://replicate.delivery/x", "not https"),
    ("ftp://replicate.delivery/x", "not https"),
    ("https://[::1/x", "not a valid URL"),
])
def test_urls_that_break_a_rule_are_refused_without_any_lookup(
    monkeypatch: pytest.MonkeyPatch, url: str, fragment: str
) -> None:
    def no_dns(*args: Any, **kw: Any) -> list[Any]:
        raise AssertionError("no DNS lookup for a URL that breaks a rule")

    monkeypatch.setattr(download.socket, "getaddrinfo", no_dns)
    with pytest.raises(BadResponse, match=fragment):
        check_url(url, label="Replicate", policy=Policy())


# --------------------------------------------------------------------------- pinned TLS


def _cert(tmp: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA file, and a server certificate and key for ``name`` signed by it."""
    # Valid on any day the suite runs (OpenSSL checks against the real clock, which the
    # PROMPTBOARD_TEST_TRAVEL_DAYS run leaves alone): not "now ± a day".
    since, until = dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(since).not_valid_after(until)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(since).not_valid_after(until)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


class _TLS:
    """An https server on 127.0.0.1 that records the Host header of each request."""

    def __init__(self, cert: Path, key: str | Path) -> None:
        self.hosts: list[str | None] = []
        owner = self

        class _H(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                owner.hosts.append(self.headers.get("Host"))
                body = png_bytes(16, 16)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[tuple[_TLS, Path]]:
    ca, cert, key = _cert(tmp_path, NAME)
    server = _TLS(cert, key)
    yield server, ca
    server.close()


def test_the_connection_goes_to_the_checked_address_and_tls_checks_the_name(
    tls: tuple[_TLS, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, ca = tls
    monkeypatch.setattr(download, "_ca_file", lambda: str(ca))
    # the name never resolves to 127.0.0.1: the socket goes to the address we pass
    target = Target("https", NAME, server.port, "127.0.0.1", "/out.png")
    pool, resp = download._open(target, timeout=5, label="Replicate")
    try:
        assert resp.status == 200
    finally:
        resp.close()
        pool.close()
    assert server.hosts == [f"{NAME}:{server.port}"]


@pytest.mark.parametrize("trusted", [True, False], ids=["wrong-name", "untrusted-ca"])
def test_a_certificate_for_another_name_or_from_an_unknown_ca_is_refused(
    tls: tuple[_TLS, Path], monkeypatch: pytest.MonkeyPatch, trusted: bool
) -> None:
    server, ca = tls
    if trusted:
        monkeypatch.setattr(download, "_ca_file", lambda: str(ca))
        host = "other.replicate.delivery"
    else:
        host = NAME  # certifi's bundle does not know the test CA
    with pytest.raises(Unavailable, match="not secure"):
        download._open(Target("https", host, server.port, "127.0.0.1", "/"), timeout=5,
                       label="Replicate")
    assert server.hosts == []
