"""Standard Webhooks v1 signatures: the published vector, the secret's form, and real deliveries
checked by a receiver that computes the signature on its own (tests/fakes/webhooks.py)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable

from lib import jobs, webhooks
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.webhooks import Dispatcher, signing
from lib.webhooks.sender import unix
from tests.fakes.webhooks import (
    VECTOR_BODY,
    VECTOR_ID,
    VECTOR_SECRET,
    VECTOR_SIGNATURE,
    VECTOR_TIMESTAMP,
    Receiver,
    reference_signature,
    verify,
)
from tests.helpers import run_next

Register = Callable[..., webhooks.Endpoint]


def test_the_signature_matches_the_specifications_test_vector() -> None:
    vector = (VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)
    assert signing.signature(*vector) == VECTOR_SIGNATURE
    assert reference_signature(*vector) == VECTOR_SIGNATURE  # the receiver's own check


def test_a_secret_is_whsec_and_the_base64_of_32_random_bytes() -> None:
    one, two = signing.new_secret(), signing.new_secret()
    assert one != two
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", one)
    assert len(base64.b64decode(one.removeprefix("whsec_"))) == 32


def test_headers_carry_id_timestamp_and_signature_and_slack_gets_none() -> None:
    secret, body = signing.new_secret(), b'{"type":"ping"}'
    h = signing.headers(secret, "msg_1", 1793534405, body)
    assert h["webhook-id"] == "msg_1" and h["webhook-timestamp"] == "1793534405"
    assert h["webhook-signature"] == reference_signature(secret, "msg_1", 1793534405, body)
    assert h["Content-Type"] == "application/json"
    assert not {k for k in signing.headers(None, "msg_1", 1, body) if k.startswith("webhook-")}


def test_a_delivery_verifies_and_a_tampered_one_does_not(
        engine: Engine, clock: FakeClock, dispatcher: Dispatcher, receiver: Receiver,
        register: Register) -> None:
    register("job.succeeded")
    job_id = jobs.submit(engine, "ann", jobs.JobSpec(prompt="a secret lighthouse", width=64,
                                                     height=64))
    assert run_next(engine) == "succeeded"
    dispatcher.run_once()
    [got] = receiver.deliveries
    assert got.verified is True
    assert got.headers["webhook-timestamp"] == str(unix(clock.now()))
    assert re.fullmatch(r"msg_[0-9a-f]{24}", got.headers["webhook-id"])
    # The body is minified JSON with the envelope of the specification, and thin.
    assert got.body == json.dumps(got.json(), separators=(",", ":")).encode()
    assert got.json() == {
        "type": "job.succeeded", "timestamp": "2026-11-02T09:00:00Z",
        "data": {"id": job_id, "status": "succeeded", "user": "ann", "provider": "sandbox",
                 "model": "sandbox-v1", "batch_id": None, "images": 1, "cost_usd": "0",
                 "error_type": None, "duration_ms": 0, "url": f"/api/v1/jobs/{job_id}"}}
    assert b"lighthouse" not in got.body  # never the prompt
    assert receiver.secret is not None
    assert not verify(receiver.secret, got.headers, got.body.replace(b"ann", b"bob"))
    assert not verify(signing.new_secret(), got.headers, got.body)
    later = dict(got.headers, **{"webhook-timestamp": str(int(got.headers["webhook-timestamp"])
                                                           + 1)})
    assert not verify(receiver.secret, later, got.body)  # the timestamp is signed too
