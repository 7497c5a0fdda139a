"""Where a webhook may go, and the one POST that takes it there.

An endpoint's URL is checked when it is registered and again before every attempt (DNS can
change in between)::

    http or https, a host, no user:password in it   else WebhookError
    https, unless PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE=1   (plain http only for local receivers)
    every address the host resolves to is public    else refused: no private, loopback,
      (lib.providers.download.is_public: also         link-local (cloud metadata), multicast,
       inside IPv4-mapped, 6to4, Teredo, NAT64)       reserved or shared address
    connect to the address that was checked         so DNS rebinding cannot swap it; TLS
                                                    still verifies the certificate for the name

``PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE=1`` lifts the address check and allows http: for a receiver
on the same machine or network (and for the tests). Leave it unset on a shared server.

:func:`post` sends one attempt: no redirects followed (a 3xx is a failure), no proxy from the
environment, ``Accept-Encoding: identity``, a timeout per connect and per read, and at most
:data:`SNIPPET_BYTES` of a failed answer read (for its error line), never the whole body.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from lib.core import config
from lib.core.errors import PromptboardError
from lib.providers.download import is_public
from lib.providers.http import retry_after_seconds

SNIPPET_BYTES = 512
MAX_URL = 2000


class WebhookError(PromptboardError, ValueError):
    """An endpoint that cannot be registered or changed; the message says why."""


def allow_private() -> bool:
    """PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE=1: local receivers (and plain http) are allowed."""
    return config.env("PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE") == "1"


@dataclass(frozen=True)
class Target:
    """A URL that passed the checks, and the address to connect to."""

    scheme: str
    host: str  # the name: Host header, TLS server name and certificate check
    port: int
    address: str  # the checked IP
    path: str  # path and query


class _Refused(Exception):
    """This attempt may not go there (a private address, an unresolvable host)."""


def masked(url: str, kind: str) -> str:
    """The URL as shown and logged: a Slack URL is its own secret, so only its host and
    last four characters; another loses its query string and any user:password."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(not a valid URL)"
    head = f"{parts.scheme}://{host}{port}"
    if kind == "slack":
        return f"{head}/…{url[-4:]}" if len(parts.path) > 8 else f"{head}/…"
    return head + (parts.path or "/") + ("?…" if parts.query else "")


def parse(url: str, *, private_ok: bool) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an acceptable URL, or WebhookError saying why not."""
    text = url.strip()
    if not text or len(text) > MAX_URL or any(c.isspace() for c in text):
        raise WebhookError(f"Give the endpoint's URL: https://… without spaces, at most "
                           f"{MAX_URL} characters.")
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").rstrip(".").lower()
        port = parts.port
    except ValueError as exc:
        raise WebhookError("That is not a valid URL.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        raise WebhookError("An endpoint is an https:// URL with a host name.")
    if parts.username is not None or parts.password is not None:
        raise WebhookError("Put no user name or password in the URL: endpoints authenticate "
                           "deliveries by their signature (or, for Slack, by the URL's path).")
    if scheme == "http" and not private_ok:
        raise WebhookError("Webhooks are sent over https only (plain http would show every "
                           "delivery to the network). PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE=1 "
                           "allows http for a receiver on this machine or network.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port or (443 if scheme == "https" else 80), path


def resolve(url: str, *, private_ok: bool) -> Target:
    """Check a URL and its addresses; _Refused (this attempt) or WebhookError (the URL)."""
    scheme, host, port, path = parse(url, private_ok=private_ok)
    try:
        found = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise _Refused(f"the host {host} could not be found (DNS)") from exc
        found = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not found:
        raise _Refused(f"the host {host} has no address")
    if not private_ok and not all(is_public(ip) for ip in found):
        raise _Refused(f"{host} resolves to a private, local or reserved address; "
                      "set PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE=1 to allow local receivers")
    first = sorted(found, key=lambda ip: ip.version)[0]  # IPv4 first: broken IPv6 is common
    return Target(scheme, host, port, str(first), path)


def check(url: str) -> None:
    """Refuse a URL an endpoint may not have, now (registration): WebhookError."""
    try:
        resolve(url, private_ok=allow_private())
    except _Refused as exc:
        raise WebhookError(f"Promptboard will not send webhooks there: {exc}.") from None


class _Pinned(HTTPAdapter):
    """Connects to the URL's (checked) IP, but speaks TLS to ``host``: its server name is
    sent (SNI) and the certificate must be for it."""

    def __init__(self, host: str | None) -> None:
        self._tls_host = host  # set before the base class builds its pool manager
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        if self._tls_host is not None:
            pool_kwargs |= {"server_hostname": self._tls_host,
                            "assert_hostname": self._tls_host}
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


@dataclass(frozen=True)
class Answer:
    """How one attempt went: ``status`` None when nothing came back."""

    status: int | None
    error: str | None  # None on 2xx
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        """A 2xx answer (only that counts as delivered)."""
        return self.status is not None and 200 <= self.status < 300


def post(url: str, body: bytes, headers: dict[str, str], *, timeout_s: float,
         now: datetime, ca_bundle: str | None = None) -> Answer:
    """Send one attempt; never raises for what the receiver or the network does."""
    try:
        target = resolve(url, private_ok=allow_private())
    except (_Refused, WebhookError) as exc:
        return Answer(None, f"not sent: {exc}")
    address = f"[{target.address}]" if ":" in target.address else target.address
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    host_header = host if target.port == default else f"{host}:{target.port}"
    with requests.Session() as session:
        session.trust_env = False  # no proxy or .netrc from the environment
        session.mount(f"{target.scheme}://",
                      _Pinned(target.host if target.scheme == "https" else None))
        try:
            resp = session.post(
                f"{target.scheme}://{address}:{target.port}{target.path}", data=body,
                headers={**headers, "Host": host_header, "Accept-Encoding": "identity"},
                timeout=(min(timeout_s, 10.0), timeout_s), allow_redirects=False,
                stream=True, verify=ca_bundle or True)
        except requests.Timeout:
            return Answer(None, f"no answer within {timeout_s:g} s")
        except requests.exceptions.SSLError:
            return Answer(None, "the TLS handshake failed (certificate not valid for the host?)")
        except requests.RequestException:
            return Answer(None, "the connection failed (refused or reset)")
        try:
            return _answer(resp, now, hidden=(url, target.path, urlsplit(url).path))
        finally:
            resp.close()


def _answer(resp: requests.Response, now: datetime, hidden: tuple[str, ...]) -> Answer:
    """The attempt's outcome; a failed answer's first bytes, with the URL and its path cut
    out (a 404 page may echo them, and a Slack URL's path is its secret)."""
    status = resp.status_code
    if 200 <= status < 300:
        return Answer(status, None)
    wait = (retry_after_seconds(resp.headers, now.replace(tzinfo=UTC))
            if status in (429, 503) else None)
    if 300 <= status < 400:
        return Answer(status, f"HTTP {status}: a redirect, not followed", wait)
    try:
        snippet = resp.raw.read1(SNIPPET_BYTES, decode_content=False)
    except Exception:  # noqa: BLE001 - a broken or slow body only loses the snippet
        snippet = b""
    text = snippet.decode("utf-8", "replace")
    for part in sorted(hidden, key=len, reverse=True):
        if len(part) > 1:
            text = text.replace(part, "…")
    text = " ".join(text.split())[:200]
    reason = (resp.reason or "").strip()[:60]
    return Answer(status, f"HTTP {status} {reason}".strip() + (f": {text}" if text else ""), wait)
