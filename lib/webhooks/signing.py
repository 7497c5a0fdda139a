"""Standard Webhooks v1 signatures (https://www.standardwebhooks.com/), symmetric scheme.

An endpoint's secret is ``whsec_`` + base64 of 32 random bytes, shown to the admin once. Each
attempt is signed over ``"{webhook-id}.{webhook-timestamp}.{body}"`` with HMAC-SHA256, keyed
with the base64-decoded secret (without its prefix); the body is the exact bytes sent::

    webhook-id: msg_…            the same on every attempt of one delivery
    webhook-timestamp: 1793534405   unix seconds of this attempt
    webhook-signature: v1,<base64 of the HMAC>

So any Standard Webhooks library verifies it (``standardwebhooks.Webhook(secret).verify``), and
a receiver rejects a replay by the timestamp (the libraries allow five minutes either way).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh endpoint secret: ``whsec_`` + base64 of 32 random bytes."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def key_of(secret: str) -> bytes:
    """The HMAC key a secret stands for (the base64 after ``whsec_``)."""
    return base64.b64decode(secret.removeprefix(PREFIX), validate=True)


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one attempt: ``v1,<base64 HMAC-SHA256>``."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key_of(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secret: str | None, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one attempt: JSON, and the three signature headers when there is a
    secret (a Slack endpoint has none: its URL is its secret)."""
    out = {"Content-Type": "application/json", "User-Agent": "Promptboard-Webhooks/1"}
    if secret is not None:
        out |= {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp),
                "webhook-signature": signature(secret, webhook_id, timestamp, body)}
    return out
