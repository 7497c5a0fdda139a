"""HTTP helpers shared by the provider clients: one place that turns transport trouble into errors.

::

    send(session, method, url, timeout=, label=)   requests.Response, whatever its status
        a body over max_bytes (384 MB)  ─▶ BadResponse, reading stops at once
        requests.Timeout               ─▶ Unavailable "<label> did not answer within N s ..."
        ConnectionError, body cut off  ─▶ Unavailable "<label> could not be reached at <origin>"
        a malformed URL                ─▶ Rejected    "<label>'s address is not a valid URL"
    json_body(response, label)          ─▶ BadResponse when the body is not JSON
    b64_image(data, label)              ─▶ BadResponse when the base64 is broken
    retry_after_seconds(headers)        retry-after-ms, then retry-after (seconds or HTTP date)
    redact(text, *secrets)              keys and key-like strings replaced by "***"

Messages never contain a key, a query string, a request body or a full URL: only the
scheme, host and port (``origin``), which is what a user needs to spot a wrong address.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from lib.providers import errors

# The most one provider reply may hold: JSON with several base64 images at the 64 MB download
# cap (base64 adds a third). Bigger is a broken or hostile endpoint.
MAX_REPLY_BYTES = 384 * 1024 * 1024
_DATA_URL = re.compile(r"^\s*data:[^,;]*(?:;[^,;]*)*;base64,", re.IGNORECASE)
_KEYLIKE = re.compile(r"\b(?:sk-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}|r8_[A-Za-z0-9]{20,})")


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL: no path, no query, no credentials."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme or 'http'}://{host}{port}"


def send(
    session: requests.Session, method: str, url: str, *, timeout: float, label: str,
    hint: str = "", max_bytes: int = MAX_REPLY_BYTES, **kw: Any,
) -> requests.Response:
    """``session.request`` with transport failures mapped to provider errors; any status returns.

    The body is read here, streamed, and refused past ``max_bytes`` (a hostile or broken
    endpoint cannot fill memory with one reply). ``hint`` is appended to connection messages
    (e.g. "Check GEMINI_BASE_URL.").
    """
    tail = f" {hint}" if hint else ""
    try:
        resp = session.request(method, url, timeout=timeout, stream=True, **kw)
        read_capped(resp, max_bytes, label)
        return resp
    except requests.Timeout as exc:  # before ConnectionError: ConnectTimeout is both
        raise errors.Unavailable(
            f"{label} did not answer within {timeout:g} s; it may be busy. If this keeps "
            f"happening, raise PROMPTBOARD_HTTP_TIMEOUT.{tail}"
        ) from exc
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema) as exc:
        raise errors.Rejected(f"{label}'s address is not a valid http(s) URL.{tail}") from exc
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError) as exc:
        raise errors.Unavailable(
            f"{label} could not be reached at {origin(url)} (connection refused, reset or cut "
            f"off). Check the network connection.{tail}"
        ) from exc


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n:,} bytes"


def read_capped(resp: requests.Response, max_bytes: int, label: str) -> None:
    """Read the streamed body into ``resp`` (so ``.content`` and ``.json()`` work as usual),
    or close it and raise :class:`BadResponse` once it passes ``max_bytes``."""
    too_big = errors.BadResponse(
        f"{label} sent a reply of more than {_size(max_bytes)}, more than any "
        "image reply needs; nothing was stored. Check the provider's address and model.")
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        resp.close()
        raise too_big
    chunks, size = [], 0
    for chunk in resp.iter_content(chunk_size=1 << 16):
        size += len(chunk)
        if size > max_bytes:
            resp.close()
            raise too_big
        chunks.append(chunk)
    resp._content = b"".join(chunks)  # what requests itself does when it reads a body
    resp._content_consumed = True
    resp.close()


def retry_after_seconds(
    headers: Mapping[str, str], now: datetime | None = None
) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or HTTP date)."""
    lower = {k.lower(): v for k, v in headers.items()}
    raw_ms = lower.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = (lower.get("retry-after") or "").strip()
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


_HINT = re.compile(r"try again in ((?:\d+(?:\.\d+)?(?:h|ms|m|s))+)", re.IGNORECASE)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def hinted_wait(message: str) -> float | None:
    """Seconds from a "try again in 1m30.5s" hint in an error's words (OpenAI puts the wait
    of a rate limit in the message, in Go's duration format: 12s, 1.5s, 250ms, 6m0s)."""
    found = _HINT.search(message)
    if found is None:
        return None
    return sum(float(n) * _UNIT_SECONDS[u.lower()]
               for n, u in _DURATION_PART.findall(found.group(1).lower()))


def never_sent(exc: Exception) -> bool:
    """True when the connection was never made, so a request that starts a billed run (a
    Replicate prediction, a BFL task) cannot have started one and is safe to retry."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    inner = exc.args[0] if exc.args else None
    return isinstance(getattr(inner, "reason", None), urllib3.exceptions.NewConnectionError)


def json_body(response: requests.Response, label: str) -> Any:
    """The parsed JSON body, or BadResponse saying the reply was unreadable."""
    try:
        return response.json()
    except ValueError as exc:  # requests.JSONDecodeError is a ValueError
        raise errors.BadResponse(
            f"{label} sent a reply that is not valid JSON (HTTP {response.status_code}). "
            "Try again; if it keeps happening, check that the base URL points at the real API."
        ) from exc


def b64_image(data: str, label: str) -> bytes:
    """Decode base64 image data (a ``data:...;base64,`` prefix is stripped), or BadResponse."""
    text = _DATA_URL.sub("", data or "", count=1)
    text = "".join(text.split())
    try:
        blob = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise errors.BadResponse(
            f"{label} sent image data that is not valid base64. Try again.") from exc
    if not blob:
        raise errors.BadResponse(f"{label} sent an empty image. Try again.")
    return blob


def is_data_url(text: str) -> bool:
    """True when ``text`` starts like ``data:image/png;base64,``."""
    return bool(_DATA_URL.match(text or ""))


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with each given secret and anything shaped like an API key replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _KEYLIKE.sub("***", text)


def clip(text: str, limit: int = 300) -> str:
    """One line of at most ``limit`` characters, for quoting a provider's message."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
