"""A small client of Promptboard's own HTTP API (``/api/v1``), for ``lib.cli``'s remote mode.

DuckDB lets one process hold the database; while the dashboard (``streamlit run serve.py``)
holds it, the CLI talks to that server instead (``PROMPTBOARD_URL``, with the bearer token in
``PROMPTBOARD_TOKEN``). Every failure becomes a :class:`RemoteError` whose message says what to
do, with the server's own words (its ``{"error": {"code", "message"}}`` body) when it sent any:

- no answer (connection refused, unknown host, time-out): is the server running, is the URL right;
- 401: check ``PROMPTBOARD_TOKEN``, or create a token on the Account page;
- 403: the token's scope or its owner's role does not allow it (the server says which);
- 429: waits as ``Retry-After`` says (whole seconds or an HTTP date) and tries again, a few
  times (a 503 with ``Retry-After`` too), then gives up;
- 5xx: the server failed; its log has the details;
- a web page where the API should answer: the address is not ``serve.py``'s.

The token is sent in the ``Authorization`` header only; it is never in a message or a repr.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from lib.core import config
from lib.core.errors import PromptboardError

RETRIES = 3  # a 429 (or a 503 with Retry-After) is tried again this many times
MAX_WAIT = 120.0  # s: a longer Retry-After is not waited for; the call fails at once
FIRST_WAIT = 1.0  # s: the wait before the first retry when the server gave no Retry-After
TIMEOUT = 60.0  # s: one HTTP call (a year's report by day is computed while we wait)
JSON = ("application/json",)


class RemoteError(PromptboardError):
    """The server could not be used, or refused the call; ``status`` is its HTTP status (None:
    no answer), ``code`` the error body's code."""

    def __init__(self, message: str, *, status: int | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds (``"30"``) or an HTTP date
    (``"Wed, 21 Oct 2026 07:28:00 GMT"``, past dates give 0); None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC without saying so (RFC 5322)
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def shown(url: str) -> str:
    """The URL as messages show it: without any user:password@ part."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def server_message(resp: requests.Response) -> str:
    """The server's message from its JSON error body, else a short note of what came back."""
    try:
        body = resp.json()
        message = body["error"]["message"]
        if isinstance(message, str) and message:
            return message
    except (ValueError, KeyError, TypeError):
        pass
    return f"HTTP {resp.status_code} {resp.reason or ''}".strip()


def _code(resp: requests.Response) -> str | None:
    try:
        code = resp.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None


class Client:
    """Calls to one server with one token. ``sleep`` and ``now`` are there for tests."""

    def __init__(self, base_url: str, token: str, *, timeout: float = TIMEOUT,
                 retries: int = RETRIES, sleep: Callable[[float], None] = time.sleep,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 session: requests.Session | None = None) -> None:
        url = base_url.strip().rstrip("/")
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise RemoteError(f"PROMPTBOARD_URL must be the server's address, like "
                              f"http://localhost:8501, not {shown(url)!r}.")
        self.base_url, self._token = url, token.strip()
        self.timeout, self.retries = timeout, retries
        self._sleep, self._now = sleep, now
        self._session = session or requests.Session()

    def __repr__(self) -> str:  # never the token
        return f"Client({shown(self.base_url)!r})"

    @property
    def where(self) -> str:
        """The server's address as messages show it."""
        return shown(self.base_url)

    def close(self) -> None:
        """Close the connection pool."""
        self._session.close()

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, headers: Mapping[str, str] | None = None,
                accept: tuple[str, ...] = JSON) -> requests.Response:
        """One call, with the retries above; a 2xx answer of an ``accept`` type, else
        RemoteError. ``path`` is the server's own (``/api/v1/...``)."""
        sent = {"Authorization": f"Bearer {self._token}", "Accept": ", ".join(accept),
                "User-Agent": "promptboard-cli", **(headers or {})}
        url = self.base_url + "/" + path.lstrip("/")
        wait = FIRST_WAIT
        for attempt in range(self.retries + 1):
            resp = self._send(method, url, params, json, sent)
            delay = retry_after(resp.headers.get("Retry-After"), self._now())
            again = resp.status_code == 429 or (resp.status_code == 503 and delay is not None)
            if not again or attempt == self.retries:
                break
            delay = wait if delay is None else delay
            if delay > MAX_WAIT:
                break
            self._sleep(delay)
            wait *= 2
        return self._checked(resp, accept)

    def _send(self, method: str, url: str, params: Mapping[str, Any] | None, json: Any,
              headers: dict[str, str]) -> requests.Response:
        try:
            return self._session.request(method, url, params=params, json=json,
                                         headers=headers, timeout=self.timeout,
                                         allow_redirects=False)
        except requests.Timeout:
            raise RemoteError(f"The Promptboard server at {self.where} did not answer within "
                              f"{self.timeout:g} s. Is it overloaded? Try again later.") from None
        except requests.ConnectionError as exc:
            why = "connection refused" if "refused" in str(exc).lower() else "no connection"
            raise RemoteError(f"Could not reach the Promptboard server at {self.where} ({why}). "
                              "Is the dashboard running (streamlit run serve.py), and is "
                              "PROMPTBOARD_URL its address?") from None
        except requests.RequestException as exc:
            raise RemoteError(f"Could not call the Promptboard server at {self.where}: "
                              f"{type(exc).__name__}. Check PROMPTBOARD_URL.") from None

    def _checked(self, resp: requests.Response, accept: tuple[str, ...]) -> requests.Response:
        status, said = resp.status_code, server_message(resp)
        code = _code(resp)
        if status == 401:
            raise RemoteError(f"The server at {self.where} refused the token (401): check "
                              "PROMPTBOARD_TOKEN, or create a token on your Account page.",
                              status=status, code=code)
        if status == 403:
            raise RemoteError(f"Not allowed (403): {said}", status=status, code=code)
        if status == 429:
            raise RemoteError(f"The server kept refusing: too many requests (429). {said}",
                              status=status, code=code)
        if status >= 500:
            raise RemoteError(f"The server at {self.where} failed ({status}): {said}",
                              status=status, code=code)
        kind = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if status < 300 and kind not in accept and "text/html" in kind:
            raise RemoteError(f"{self.where} answered with a web page, not Promptboard's API: "
                              "is PROMPTBOARD_URL the address of `streamlit run serve.py`?",
                              status=status)
        if status >= 300:
            raise RemoteError(said, status=status, code=code)
        return resp

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET a JSON object."""
        return self._object(self.request("GET", path, params=params))

    def post_json(self, path: str, body: Any = None,
                  headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        """POST a JSON body, answered by a JSON object."""
        return self._object(self.request("POST", path, json=body, headers=headers))

    def _object(self, resp: requests.Response) -> dict[str, Any]:
        try:
            found = resp.json()
        except ValueError:
            found = None
        if not isinstance(found, dict):
            raise RemoteError(f"{self.where} did not answer with JSON: is PROMPTBOARD_URL the "
                              "address of `streamlit run serve.py`?", status=resp.status_code)
        return found


def from_env() -> Client:
    """The client of PROMPTBOARD_URL with PROMPTBOARD_TOKEN; RemoteError if either is unset."""
    url, token = config.env("PROMPTBOARD_URL"), config.env("PROMPTBOARD_TOKEN")
    if not url:
        raise RemoteError("PROMPTBOARD_URL is not set: set it to the running server's address "
                          "(e.g. http://localhost:8501) to use it from the CLI.")
    if not token:
        raise RemoteError("PROMPTBOARD_TOKEN is not set: create a token on your Account page "
                          "(an analyst's read-only token is enough for reports) and set it.")
    return Client(url, token)
