"""Webhooks from the real server: signed, retried, and still retried after the server restarts.

A loopback receiver answers the first delivery 500; the server is stopped before the retry is
due and started again on the same data dir; the restarted server sends the same delivery (the
same ``webhook-id``) again, signed, and the receiver takes it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lib.auth import accounts
from lib.webhooks import endpoints
from tests.api.server import start
from tests.fakes.server import Reply
from tests.fakes.webhooks import Receiver
from tests.helpers import wait_until


def test_a_failed_delivery_is_retried_by_the_restarted_server(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE", "1")  # a loopback receiver
    receiver = Receiver()
    receiver.script(Reply(500, "down for a moment"))
    secrets: dict[str, str] = {}

    def register(eng: Any, now: datetime) -> None:
        admin = accounts.get_user(eng.db, "ada")
        assert admin is not None
        _, secret = endpoints.create(eng.db, admin, receiver.url, "standard",
                                     ["job.succeeded"], now=now)
        assert secret is not None
        secrets["s"] = secret

    api = start(tmp_path, "hooks", prepare=register, PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE="1")
    receiver.secret = secrets["s"]
    try:
        job = api.call("POST", "/api/v1/jobs", "mia", json={"prompt": "a hooked fox"})
        assert job.status == 202
        job_id = job.json["jobs"][0]["id"]
        wait_until(lambda: len(receiver.deliveries) >= 1, timeout=60)
        api.server.stop()  # before the retry is due (5 s after the failure)
        assert len(receiver.deliveries) == 1
        api.server.start()
        wait_until(lambda: len(receiver.deliveries) >= 2, timeout=90)
    finally:
        api.server.stop()
        receiver.close()
    first, second = receiver.deliveries[:2]
    assert first.verified and second.verified  # Standard Webhooks signatures, both attempts
    assert first.headers["webhook-id"] == second.headers["webhook-id"]  # one event, two tries
    assert first.body == second.body  # the body exactly as first sent
    event = second.json()
    assert event["type"] == "job.succeeded" and event["data"]["id"] == job_id
    assert "a hooked fox" not in second.body.decode()  # no prompt in the payload
