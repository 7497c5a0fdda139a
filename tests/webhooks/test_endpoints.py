"""Registering endpoints: who may, which URLs (the SSRF guard, at registration and at each
attempt), masking, disable / enable / delete, the test event, and https to the checked
address with the certificate checked for the host name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lib import jobs, webhooks
from lib.auth.accounts import PermissionDenied
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.webhooks import Dispatcher, Policy
from tests.builders import ADMIN_USER, MEMBER_USER
from tests.fakes.server import Reply
from tests.fakes.webhooks import Receiver, TLSReceiver, tls_files
from tests.helpers import run_next

Register = Callable[..., webhooks.Endpoint]


def _create(engine: Engine, url: str, kind: str = "standard",
            events: tuple[str, ...] = ("job.succeeded",)) -> webhooks.Endpoint:
    return webhooks.create(engine.db, ADMIN_USER, url, kind, list(events),
                           now=engine.clock.now())[0]


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hook", "https://localhost/hook", "https://10.0.0.7/hook",
    "https://192.168.1.10:8443/hook", "https://169.254.169.254/latest/meta-data",
    "https://[::1]/hook", "https://[::ffff:127.0.0.1]/hook", "https://[fd00::1]/hook",
    "https://100.64.0.1/hook", "https://0.0.0.0/hook",
])
def test_private_loopback_and_link_local_targets_are_refused(
        engine: Engine, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.delenv("PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE")
    with pytest.raises(webhooks.WebhookError, match="will not send webhooks there.*private"):
        _create(engine, url)
    assert webhooks.list_endpoints(engine.db) == []


@pytest.mark.parametrize(("url", "message"), [
    ("http://93.184.216.34/hook", "https only"),
    ("ftp://93.184.216.34/hook", "https:// URL"),
    ("https://user:pw@93.184.216.34/hook", "no user name or password"),
    ("https:///nohost", "https:// URL"),
    ("", "Give the endpoint's URL"),
    ("https://93.184.216.34/a b", "without spaces"),
])
def test_urls_that_are_not_https_to_a_host_are_refused(
        engine: Engine, monkeypatch: pytest.MonkeyPatch, url: str, message: str) -> None:
    monkeypatch.delenv("PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE")
    with pytest.raises(webhooks.WebhookError, match=message):
        _create(engine, url)


def test_a_public_https_address_is_accepted_without_the_switch(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE")
    ep = _create(engine, "https://93.184.216.34/promptboard?token=abc")
    assert ep.shown_url == "https://93.184.216.34/promptboard?…"


def test_a_target_that_turned_private_is_not_called_at_send_time(
        engine: Engine, dispatcher: Dispatcher, receiver: Receiver, register: Register,
        monkeypatch: pytest.MonkeyPatch) -> None:
    register("job.succeeded")  # allowed while the switch was on
    monkeypatch.delenv("PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE")
    jobs.submit(engine, "ann", jobs.JobSpec(prompt="x", width=64, height=64))
    run_next(engine)
    dispatcher.run_once()
    assert receiver.deliveries == []
    [row] = webhooks.recent(engine.db)
    assert row.status == "pending" and row.last_error is not None
    assert row.last_error.startswith("not sent:") and "PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE" in \
        row.last_error


def test_only_admins_manage_endpoints(engine: Engine, receiver: Receiver) -> None:
    with pytest.raises(PermissionDenied):
        webhooks.create(engine.db, MEMBER_USER, receiver.url, "standard", ["job.failed"],
                        now=engine.clock.now())
    ep = _create(engine, receiver.url)
    for verb in (lambda: webhooks.delete(engine.db, MEMBER_USER, ep.id),
                 lambda: webhooks.send_test(engine.db, MEMBER_USER, ep.id,
                                            now=engine.clock.now()),
                 lambda: webhooks.set_disabled(engine.db, MEMBER_USER, ep.id, True,
                                               now=engine.clock.now())):
        with pytest.raises(PermissionDenied):
            verb()


@pytest.mark.parametrize(("kind", "events", "threshold", "message"), [
    ("carrier-pigeon", ("job.failed",), None, "standard or slack"),
    ("standard", (), None, "at least one event"),
    ("standard", ("job.exploded",), None, "Unknown event"),
    ("standard", ("ping",), None, "Unknown event"),
    ("slack", ("budget.threshold",), 1.5, "between 1 % and 100 %"),
    ("slack", ("budget.threshold",), 0.0, "between 1 % and 100 %"),
])
def test_bad_endpoints_are_refused_with_a_message(
        engine: Engine, receiver: Receiver, kind: str, events: tuple[str, ...],
        threshold: float | None, message: str) -> None:
    with pytest.raises(webhooks.WebhookError, match=message):
        webhooks.create(engine.db, ADMIN_USER, receiver.url, kind, list(events),
                        threshold=threshold, now=engine.clock.now())


def test_a_slack_endpoint_has_no_secret_and_its_url_is_masked(
        engine: Engine, receiver: Receiver) -> None:
    url = receiver.url + "/services/T0AAA/B0BBB/abcdefghijklmnopqrstuvwx"
    ep, secret = webhooks.create(engine.db, ADMIN_USER, url, "slack", ["job.failed"],
                                 now=engine.clock.now())
    assert secret is None and ep.secret is None
    assert ep.shown_url == f"http://127.0.0.1:{receiver.server.port}/…uvwx"
    assert "abcdef" not in repr(ep) and "abcdef" not in ep.shown_url


def test_the_secret_is_returned_once_and_never_in_a_repr(engine: Engine,
                                                        receiver: Receiver) -> None:
    ep, secret = webhooks.create(engine.db, ADMIN_USER, receiver.url, "standard",
                                 ["job.failed"], now=engine.clock.now())
    assert secret is not None and secret.startswith("whsec_")
    assert secret not in repr(ep) and secret not in repr(webhooks.list_endpoints(engine.db))


def test_a_test_event_is_sent_and_a_disabled_endpoint_gets_nothing(
        engine: Engine, clock: FakeClock, dispatcher: Dispatcher, receiver: Receiver,
        register: Register) -> None:
    ep = register("job.succeeded")
    webhooks.send_test(engine.db, ADMIN_USER, ep.id, now=clock.now())
    dispatcher.run_once()
    [ping] = receiver.deliveries
    assert ping.json()["type"] == "ping" and ping.verified
    assert ping.json()["data"] == {"endpoint_id": ep.id,
                                   "message": "A test event from Promptboard."}

    receiver.script(Reply(500))
    webhooks.send_test(engine.db, ADMIN_USER, ep.id, now=clock.now())
    dispatcher.run_once()  # fails: pending for a retry
    webhooks.set_disabled(engine.db, ADMIN_USER, ep.id, True, now=clock.now())
    assert webhooks.recent(engine.db)[0].status == "failed"  # disabling ended it
    with pytest.raises(webhooks.WebhookError, match="Enable the endpoint first"):
        webhooks.send_test(engine.db, ADMIN_USER, ep.id, now=clock.now())
    jobs.submit(engine, "ann", jobs.JobSpec(prompt="x", width=64, height=64))
    run_next(engine)
    clock.advance(600)
    dispatcher.run_once()
    assert len(receiver.deliveries) == 2  # nothing new while disabled
    webhooks.set_disabled(engine.db, ADMIN_USER, ep.id, False, now=clock.now())
    webhooks.send_test(engine.db, ADMIN_USER, ep.id, now=clock.now())
    dispatcher.run_once()
    assert len(receiver.deliveries) == 3


def test_deleting_an_endpoint_deletes_its_deliveries(
        engine: Engine, dispatcher: Dispatcher, register: Register) -> None:
    ep = register("job.succeeded")
    webhooks.send_test(engine.db, ADMIN_USER, ep.id, now=engine.clock.now())
    webhooks.delete(engine.db, ADMIN_USER, ep.id)
    assert webhooks.list_endpoints(engine.db) == [] and webhooks.recent(engine.db) == []
    with pytest.raises(webhooks.WebhookError, match="no longer exists"):
        webhooks.send_test(engine.db, ADMIN_USER, ep.id, now=engine.clock.now())


def test_https_goes_to_the_checked_address_and_checks_the_certificate_for_the_host(
        engine: Engine, tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    ca, cert, key = tls_files(tmp_path, "localhost")
    server = TLSReceiver(cert, key)
    try:
        ep = _create(engine, f"https://localhost:{server.port}/hook")
        webhooks.send_test(engine.db, ADMIN_USER, ep.id, now=engine.clock.now())
        Dispatcher(engine, Policy(jitter=0.0, timeout_s=2.0, ca_bundle=str(ca))).run_once()
        [(host, sni, body)] = server.posts
        assert (host, sni) == (f"localhost:{server.port}", "localhost")
        assert b'"type":"ping"' in body

        (tmp_path / "other").mkdir()
        other_ca, _, _ = tls_files(tmp_path / "other", "localhost")  # another CA's
        webhooks.send_test(engine.db, ADMIN_USER, ep.id, now=engine.clock.now())
        Dispatcher(engine, Policy(jitter=0.0, timeout_s=2.0, ca_bundle=str(other_ca))
                   ).run_once()
        assert len(server.posts) == 1  # a certificate the client does not trust: not sent
        assert "TLS" in (webhooks.recent(engine.db)[0].last_error or "")
    finally:
        server.close()
