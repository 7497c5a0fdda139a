"""Outgoing webhooks and budget alerts: endpoints admins register, an outbox the dispatcher
fills from the job, price and budget tables, and a sender that signs (Standard Webhooks) and
retries. Modules, bottom up::

    events      event types, thin payloads, Slack text
    signing     whsec_ secrets and the v1 HMAC-SHA256 signature
    targets     which URLs may be called (SSRF guard), masking, the one POST
    deliveries  the outbox rows: enqueue, end, list, prune
    endpoints   register, disable, delete, send a test event (admins only)
    outbox      job_events / price_audit / budgets after a cursor → deliveries
    sender      send what is due: backoff, Retry-After, 410 Gone
    dispatcher  the engine's background thread that runs outbox and sender

Only this package writes the ``webhook_*`` tables (tests/test_architecture.py), and it only
reads the job tables. README "Webhooks" and SECURITY.md "Webhook signatures" are the user's
side of it.
"""

from lib.webhooks.deliveries import Delivery, recent
from lib.webhooks.dispatcher import Dispatcher
from lib.webhooks.endpoints import (
    KINDS,
    Endpoint,
    create,
    delete,
    get,
    list_endpoints,
    send_test,
    set_disabled,
)
from lib.webhooks.events import EVENTS, PING
from lib.webhooks.sender import Policy
from lib.webhooks.targets import WebhookError, allow_private, masked

__all__ = [
    "EVENTS", "KINDS", "PING", "Delivery", "Dispatcher", "Endpoint", "Policy", "WebhookError",
    "allow_private", "create", "delete", "get", "list_endpoints", "masked", "recent",
    "send_test", "set_disabled",
]
