"""lib.apiclient on its own: Retry-After in both forms, retries, and the messages a person reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from lib import apiclient
from lib.apiclient import Client, RemoteError, retry_after
from tests.helpers import closed_port_url

NOW = datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)
TOKEN = "pb_secret-token-value-that-must-never-be-printed"


def _answer(status: int, body: Any = None, headers: dict[str, str] | None = None,
            content_type: str = "application/json") -> requests.Response:
    r = requests.Response()
    r.status_code, r.reason = status, "Reason"
    r.headers.update({"Content-Type": content_type, **(headers or {})})
    r._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return r


def _error(status: int, message: str, code: str = "x", **headers: str) -> requests.Response:
    return _answer(status, {"error": {"code": code, "message": message}}, headers)


class FakeSession:
    """Answers in order; records each call."""

    def __init__(self, *answers: requests.Response | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.calls.append((method, url, kwargs))
        found = self.answers.pop(0)
        if isinstance(found, Exception):
            raise found
        return found

    def close(self) -> None:
        pass


def _client(*answers: requests.Response | Exception) -> tuple[Client, FakeSession, list[float]]:
    session, slept = FakeSession(*answers), []
    client = Client("http://pb.example:8501/", TOKEN, sleep=slept.append, now=lambda: NOW,
                    session=session)  # type: ignore[arg-type]
    return client, session, slept


def _http_date(moment: datetime) -> str:
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


@pytest.mark.parametrize(("value", "seconds"), [
    ("120", 120.0), (" 7 ", 7.0), ("0", 0.0),
    (_http_date(NOW + timedelta(seconds=30)), 30.0),  # an HTTP date: the time until it
    (_http_date(NOW - timedelta(hours=1)), 0.0),  # a past date: at once
    ("Mon, 02 Nov 2026 09:00:45 -0000", 45.0),  # RFC 5322's "UTC, not saying so"
    ("Mon, 02 Nov 2026 10:00:45 +0100", 45.0),
    (None, None), ("", None), ("soon", None), ("-5", None), ("1.5", None),
])
def test_retry_after_reads_seconds_and_http_dates(value: str | None,
                                                  seconds: float | None) -> None:
    assert retry_after(value, NOW) == seconds


def test_a_429_is_retried_after_the_seconds_it_names() -> None:
    client, session, slept = _client(
        _error(429, "Too many requests: wait 2 s", "rate_limited", **{"Retry-After": "2"}),
        _answer(200, {"jobs": []}))
    assert client.get_json("/api/v1/jobs") == {"jobs": []}
    assert slept == [2.0] and len(session.calls) == 2


def test_a_429_is_retried_at_the_http_date_it_names() -> None:
    when = _http_date(NOW + timedelta(seconds=5))
    client, _, slept = _client(_error(429, "slow down", **{"Retry-After": when}),
                               _answer(200, {"ok": True}))
    assert client.get_json("/x") == {"ok": True} and slept == [5.0]


def test_a_post_is_retried_with_the_same_headers() -> None:
    client, session, _ = _client(_error(429, "slow down", **{"Retry-After": "1"}),
                                 _answer(202, {"jobs": []}))
    client.post_json("/api/v1/jobs", {"prompt": "a fox"}, headers={"Idempotency-Key": "k1"})
    first, second = (c[2]["headers"] for c in session.calls)
    assert first == second and first["Idempotency-Key"] == "k1"


def test_retries_stop_and_the_servers_message_is_told() -> None:
    limited = [_error(429, "Too many requests: wait 9 s (the limit is PROMPTBOARD_API_RATE "
                      "per minute).", "rate_limited") for _ in range(apiclient.RETRIES + 1)]
    client, session, slept = _client(*limited)
    with pytest.raises(RemoteError) as caught:
        client.get_json("/x")
    assert caught.value.status == 429 and "PROMPTBOARD_API_RATE" in str(caught.value)
    assert slept == [1.0, 2.0, 4.0]  # no Retry-After: a doubling wait
    assert len(session.calls) == apiclient.RETRIES + 1


def test_a_wait_too_long_is_not_waited_for() -> None:
    client, session, slept = _client(_error(429, "wait", **{"Retry-After": "3600"}))
    with pytest.raises(RemoteError, match="429"):
        client.get_json("/x")
    assert slept == [] and len(session.calls) == 1


def test_a_503_is_retried_only_when_it_says_when() -> None:
    client, _, slept = _client(_error(503, "busy", **{"Retry-After": "3"}),
                               _answer(200, {"ok": 1}))
    assert client.get_json("/x") == {"ok": 1} and slept == [3.0]
    client, _, slept = _client(_error(503, "The server could not open its database; see "
                                      "/readyz and the server log."))
    with pytest.raises(RemoteError, match=r"failed \(503\): The server could not open"):
        client.get_json("/x")
    assert slept == []


def test_401_says_to_check_the_token_and_never_shows_it() -> None:
    client, session, _ = _client(_error(401, "Missing or invalid credentials."))
    with pytest.raises(RemoteError) as caught:
        client.get_json("/api/v1/report")
    message = str(caught.value)
    assert "PROMPTBOARD_TOKEN" in message and "Account page" in message
    assert TOKEN not in message and TOKEN not in repr(client)
    assert session.calls[0][2]["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert session.calls[0][1] == "http://pb.example:8501/api/v1/report"


@pytest.mark.parametrize(("status", "said", "shown"), [
    (403, "Your role (analyst) may not do this.", "Not allowed (403): Your role (analyst)"),
    (500, "The server failed to answer this request", "failed (500): The server failed"),
    (422, "The prompt is empty. Describe the image you want.", "The prompt is empty."),
])
def test_the_servers_own_message_is_passed_on(status: int, said: str, shown: str) -> None:
    client, _, _ = _client(_error(status, said))
    with pytest.raises(RemoteError) as caught:
        client.get_json("/x")
    assert shown in str(caught.value) and caught.value.status == status


def test_an_error_without_a_json_body_still_says_something() -> None:
    client, _, _ = _client(_answer(502, b"<html>Bad Gateway</html>", content_type="text/html"))
    with pytest.raises(RemoteError, match=r"failed \(502\): HTTP 502"):
        client.get_json("/x")


def test_a_web_page_instead_of_the_api_is_named() -> None:
    client, _, _ = _client(_answer(200, b"<!doctype html><html></html>",
                                   content_type="text/html"))
    with pytest.raises(RemoteError, match="web page, not Promptboard's API"):
        client.get_json("/api/v1/jobs")


def test_a_server_that_is_down_is_named_with_what_to_check() -> None:
    client = Client(closed_port_url(), TOKEN)
    with pytest.raises(RemoteError) as caught:
        client.get_json("/api/v1/jobs")
    message = str(caught.value)
    assert message.startswith("Could not reach the Promptboard server at http://127.0.0.1:")
    assert "connection refused" in message and "PROMPTBOARD_URL" in message
    assert caught.value.status is None


def test_a_url_that_is_not_an_address_is_refused_up_front() -> None:
    with pytest.raises(RemoteError, match="like http://localhost:8501"):
        Client("localhost:8501", TOKEN)


def test_a_password_in_the_url_is_not_shown() -> None:
    client = Client("https://bob:hunter2@pb.example/base/", TOKEN)
    assert client.where == "https://pb.example/base" and "hunter2" not in repr(client)


def test_from_env_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RemoteError, match="PROMPTBOARD_URL is not set"):
        apiclient.from_env()
    monkeypatch.setenv("PROMPTBOARD_URL", "http://localhost:8501")
    with pytest.raises(RemoteError, match="PROMPTBOARD_TOKEN is not set.*Account page"):
        apiclient.from_env()
    monkeypatch.setenv("PROMPTBOARD_TOKEN", TOKEN)
    assert apiclient.from_env().where == "http://localhost:8501"
