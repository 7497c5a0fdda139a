"""The one way a provider fetches an image from a URL it was given (Replicate's outputs,
BFL's results).

A model's output URL is chosen by whoever published the model, so it is untrusted. A URL is
fetched only when every step passes, and each redirect hop goes through all of them again::

    scheme https, default port, no user:password     else BadResponse  (not retried)
    host on the allow-list                           else BadResponse  names the variable
      the provider's own: replicate.delivery (Replicate), bfl.ai (BFL), and their
      subdomains, plus PROMPTBOARD_DOWNLOAD_HOSTS
    every address the host resolves to is public     else BadResponse
      (no private, loopback, link-local, metadata, multicast, reserved, shared or
      unspecified address, also inside IPv4-mapped, 6to4, Teredo or NAT64 addresses)
    connect to the address that was checked          (TLS still verifies the host name),
                                                     so DNS rebinding cannot swap it
    3xx: at most MAX_REDIRECTS hops, each re-checked else BadResponse
    404/410                                          BadResponse  "deleted, generate again"
    5xx, timeout, reset, DNS failure                 Unavailable  (retried)
    other status                                     BadResponse  status code and host only
    Content-Length over PROMPTBOARD_MAX_DOWNLOAD_MB  BadResponse  before reading the body
    the body passes that cap while streaming         BadResponse  reading stops at once
    a Content-Encoding (gzip bombs)                  BadResponse
    header says more pixels than the output cap      BadResponse  before anything decodes

A response body is never quoted in a message: only the status code and the host.
Connections are direct (no proxy from the environment), so the checked address is the peer.

``PROMPTBOARD_DOWNLOAD_ALLOW_INSECURE_HOSTS`` is **for tests only**: it names exact loopback
``ip:port`` pairs (a local fake delivery server) that may be fetched over http without the
address check. Anything else in it is refused, so it cannot open the door to other hosts.
"""

from __future__ import annotations

import io
import ipaddress
import re
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import urllib3
from PIL import Image

from lib.core import config
from lib.providers import errors

DEFAULT_HOSTS = ("replicate.delivery",)
MAX_REDIRECTS = 3
CHUNK = 64 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)
_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

Image.init()  # register decoders now, not lazily from whichever worker thread comes first


@dataclass(frozen=True)
class Policy:
    """What may be downloaded: hosts, test-only loopback pairs and the two caps."""

    hosts: tuple[str, ...] = DEFAULT_HOSTS
    insecure: frozenset[tuple[str, int]] = frozenset()  # tests only: exact loopback ip:port
    max_bytes: int = 64 * 1024 * 1024
    max_pixels: int = 40_000_000

    @classmethod
    def from_env(cls, defaults: tuple[str, ...] = DEFAULT_HOSTS) -> Policy:
        """The policy from PROMPTBOARD_DOWNLOAD_HOSTS, _ALLOW_INSECURE_HOSTS and the caps;
        ``defaults`` are the calling provider's own delivery hosts (Replicate's by default)."""
        s = config.load()
        extra = _split(config.env("PROMPTBOARD_DOWNLOAD_HOSTS"))
        hosts = tuple(dict.fromkeys(defaults + tuple(h.lstrip("*.").rstrip(".").lower()
                                                     for h in extra)))
        return cls(hosts=hosts, insecure=_insecure_pairs(
            config.env("PROMPTBOARD_DOWNLOAD_ALLOW_INSECURE_HOSTS")),
            max_bytes=s.max_download_bytes, max_pixels=s.max_output_pixels)

    def host_allowed(self, host: str) -> bool:
        """The host is on the list, or a subdomain of an entry."""
        return any(host == h or host.endswith("." + h) for h in self.hosts)


@dataclass(frozen=True)
class Downloaded:
    """An image body and its MIME type (``image/png`` when the server did not say)."""

    data: bytes
    mime_type: str


@dataclass(frozen=True)
class Target:
    """A URL that passed the checks, and the address to connect to."""

    scheme: str
    host: str  # the name (for Host, SNI and the certificate)
    port: int
    address: str  # the checked IP we connect to
    path: str  # path and query


def fetch_image(url: str, *, label: str, timeout: float, policy: Policy | None = None
                ) -> Downloaded:
    """Download one image under the policy, or raise BadResponse / Unavailable saying why."""
    policy = policy or Policy.from_env()
    deadline = time.monotonic() + timeout
    for _hop in range(MAX_REDIRECTS + 1):
        target = check_url(url, label=label, policy=policy)
        pool, resp = _open(target, timeout=timeout, label=label)
        try:
            status = resp.status
            if status in _REDIRECTS:
                location = resp.headers.get("Location")
                if not location:
                    raise errors.BadResponse(
                        f"{label}'s download host {target.host} sent a redirect "
                        f"(HTTP {status}) without a location. Try again.")
                url = urljoin(url, location)
                continue
            _check_status(status, target.host, label)
            return _read(resp, target.host, label, policy, deadline)
        finally:
            resp.close()
            pool.close()
    raise errors.BadResponse(f"{label}'s output URL redirected more than {MAX_REDIRECTS} times; "
                             "Promptboard stopped following it. Try again or choose another model.")


def check_url(url: str, *, label: str, policy: Policy) -> Target:
    """Scheme, host, port and resolved addresses of one URL against the policy."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
        port = parts.port
    except ValueError as exc:
        raise errors.BadResponse(f"{label} sent an output that is not a valid URL.") from exc
    scheme = parts.scheme.lower()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    not_https = errors.BadResponse(f"{label} sent an output URL that is not https ({scheme or 'no'}"
                                   " scheme); Promptboard downloads outputs over https only.")
    if scheme not in ("http", "https"):
        raise not_https
    if not host or parts.username is not None or parts.password is not None:
        raise errors.BadResponse(f"{label} sent an output URL without a usable host; Promptboard "
                                 "did not download it.")
    literal = _literal(host)
    if literal is not None and port is not None and (str(literal), port) in policy.insecure:
        return Target(scheme, host, port, str(literal), path)  # tests only: a local fake
    if scheme != "https":
        raise not_https
    if port not in (None, 443):
        raise errors.BadResponse(
            f"{label} sent an output URL on port {port} of {host}; Promptboard "
            "downloads outputs from the standard https port only.")
    if not policy.host_allowed(host):
        raise errors.BadResponse(
            f"{label} sent an output URL on {host}, which is not a download host Promptboard "
            f"trusts ({', '.join(policy.hosts)}), so it was not fetched. If this model really "
            "delivers from there, an admin can add the host to PROMPTBOARD_DOWNLOAD_HOSTS.")
    address = _resolve_public(host, label)
    return Target("https", host, 443, address, path)


def is_public(ip: IPAddress) -> bool:
    """True for a globally routable unicast address, including any IPv4 one inside it."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner: list[IPAddress] = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
        if ip.teredo:
            inner.extend(ip.teredo)
        if ip in _NAT64:
            inner.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if any(not is_public(a) for a in inner):
            return False
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
                or ip.is_reserved or ip.is_unspecified or not ip.is_global)


def too_many_pixels(data: bytes, *, label: str, max_pixels: int) -> str | None:
    """A message when the image header claims more than ``max_pixels``; reads no pixels.

    None also when the header is unreadable: the decoder after us says that properly.
    """
    try:
        with Image.open(io.BytesIO(data), formats=_FORMATS) as im:
            w, h = im.size
        size = f"{w}×{h} pixels ({w * h / 1e6:.0f} MP)"
        if w * h <= max_pixels:
            return None
    except Image.DecompressionBombError as exc:  # more than Pillow itself will open
        claimed = re.search(r"(\d+) pixels", str(exc))
        size = f"{int(claimed.group(1)) / 1e6:.0f} MP" if claimed else "far too many pixels"
    except Exception:  # noqa: BLE001 - any failure on untrusted bytes means "unreadable"
        return None
    return (f"{label} returned an image of {size}, over Promptboard's "
            f"{max_pixels / 1e6:g} MP limit for generated images, so it was not kept. Choose a "
            "smaller size; an admin can raise PROMPTBOARD_MAX_OUTPUT_PIXELS.")


# --------------------------------------------------------------------------- steps


def _resolve_public(host: str, label: str) -> str:
    """The host's first address, after checking that every address it has is public."""
    literal = _literal(host)
    if literal is not None:
        found = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise errors.Unavailable(f"{label}'s download host {host} could not be found (DNS). "
                                     "Promptboard retries on its own.") from exc
        found = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not found or not all(is_public(ip) for ip in found):
        raise errors.BadResponse(f"{label}'s download host {host} resolves to a private, local or "
                                 "reserved address, so Promptboard did not connect to it.")
    return str(found[0])


def _open(target: Target, *, timeout: float, label: str
          ) -> tuple[urllib3.HTTPConnectionPool, urllib3.BaseHTTPResponse]:
    """GET the path from the checked address; no redirects, no retries, no proxy."""
    tm = urllib3.Timeout(connect=min(timeout, 30.0), read=timeout)
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        ctx = ssl.create_default_context(cafile=_ca_file())
        pool = urllib3.HTTPSConnectionPool(
            target.address, target.port, timeout=tm, retries=False, maxsize=1,
            server_hostname=target.host, assert_hostname=target.host, ssl_context=ctx)
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=tm,
                                          retries=False, maxsize=1)
    default = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default else f"{target.host}:{target.port}"
    if ":" in target.host:  # an IPv6 literal
        host_header = f"[{target.host}]" + ("" if target.port == default else f":{target.port}")
    try:
        return pool, pool.urlopen(
            "GET", target.path, redirect=False, retries=False, preload_content=False,
            decode_content=False, assert_same_host=False,
            headers={"Host": host_header, "Accept": "image/*", "Accept-Encoding": "identity",
                     "User-Agent": "Promptboard"})
    except urllib3.exceptions.HTTPError as exc:
        pool.close()
        raise errors.Unavailable(
            f"{label}'s output could not be downloaded from {target.host} "
            "(connection refused, reset, timed out or not secure). Promptboard "
            "retries on its own.") from exc


def _check_status(status: int, host: str, label: str) -> None:
    if status == 200:
        return
    if status in (404, 410):
        raise errors.BadResponse(f"{label} has deleted this output (HTTP {status} from {host}; "
                                 "outputs are kept for a short time only). Generate again.")
    if status in (408, 429) or status >= 500:
        raise errors.Unavailable(
            f"{label}'s download host {host} is having trouble (HTTP {status}). "
            "Promptboard retries on its own.")
    raise errors.BadResponse(f"{label}'s download host {host} refused the output download "
                             f"(HTTP {status}). Try again; if it persists, choose another model.")


def _read(resp: urllib3.BaseHTTPResponse, host: str, label: str, policy: Policy,
          deadline: float) -> Downloaded:
    """The body, streamed under the byte cap and the time limit, then its pixel count."""
    cap_mb = policy.max_bytes / (1024 * 1024)
    too_big = (f"{label}'s output image from {host} is larger than the {cap_mb:g} MB download "
               "limit, so Promptboard stopped reading it and kept nothing. Choose a smaller "
               "size or output format; an admin can raise PROMPTBOARD_MAX_DOWNLOAD_MB.")
    encoding = (resp.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding != "identity":
        raise errors.BadResponse(f"{label}'s download host {host} sent a compressed ({encoding}) "
                                 "image body, which Promptboard does not accept. Try again.")
    length = resp.headers.get("Content-Length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            declared = -1
        if declared > policy.max_bytes:
            raise errors.BadResponse(too_big)
    body = bytearray()
    try:
        while chunk := resp.read1(CHUNK, decode_content=False):  # returns what has arrived
            body += chunk
            if len(body) > policy.max_bytes:
                raise errors.BadResponse(too_big)
            if time.monotonic() > deadline:
                raise errors.Unavailable(f"{label}'s output from {host} took too long to download. "
                                         "Promptboard retries on its own.")
    except urllib3.exceptions.HTTPError as exc:
        raise errors.Unavailable(f"The download of {label}'s output from {host} was cut off. "
                                 "Promptboard retries on its own.") from exc
    if not body:
        raise errors.BadResponse(f"{label} sent an empty output image. Try again.")
    data = bytes(body)
    del body
    problem = too_many_pixels(data, label=label, max_pixels=policy.max_pixels)
    if problem:
        raise errors.BadResponse(problem)
    mime = (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    return Downloaded(data, mime if mime.startswith("image/") else "image/png")


# --------------------------------------------------------------------------- helpers


def _split(text: str) -> list[str]:
    return [part for part in text.replace(",", " ").split() if part]


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _insecure_pairs(text: str) -> frozenset[tuple[str, int]]:
    """Exact loopback ``ip:port`` pairs; anything else is a configuration error."""
    pairs = set()
    for entry in _split(text):
        host, _, port = entry.rpartition(":")
        ip = _literal(host)
        if ip is None or not ip.is_loopback or not port.isdigit():
            raise errors.BadResponse(
                "PROMPTBOARD_DOWNLOAD_ALLOW_INSECURE_HOSTS may only name loopback ip:port "
                f"pairs such as 127.0.0.1:8123 (it is for tests only), not {entry!r}. Unset it.")
        pairs.add((str(ip), int(port)))
    return frozenset(pairs)


def _ca_file() -> str | None:
    """The CA bundle requests uses (certifi), so downloads trust what API calls trust."""
    try:
        import certifi
    except ImportError:  # pragma: no cover - requests depends on it
        return None
    return certifi.where()
