"""Sending: retries on the injected clock, Retry-After, giving up, 410 Gone, a restart in the
middle, the engine's own thread, and receivers that misbehave (slow, huge, redirecting)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

import pytest

from lib import jobs, webhooks
from lib.core import config
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.webhooks import Dispatcher, Policy
from lib.webhooks.sender import unix
from tests.builders import ADMIN_USER
from tests.fakes.server import Reply
from tests.fakes.webhooks import Receiver
from tests.helpers import run_next, wait_until

Register = Callable[..., webhooks.Endpoint]
POLICY = Policy(jitter=0.0, timeout_s=1.0, tick_s=0.05)


def _succeed_a_job(engine: Engine, prompt: str = "a red fox") -> str:
    job_id = jobs.submit(engine, "ann", jobs.JobSpec(prompt=prompt, width=64, height=64))
    assert run_next(engine) == "succeeded"
    return job_id


def _delivery(engine: Engine) -> webhooks.Delivery:
    [row] = webhooks.recent(engine.db)
    return row


def test_a_failing_receiver_is_retried_on_the_schedule_with_the_same_id(
        engine: Engine, clock: FakeClock, dispatcher: Dispatcher, receiver: Receiver,
        register: Register) -> None:
    register("job.succeeded")
    receiver.script(Reply(500, "down"), Reply(503, "still down"))
    _succeed_a_job(engine)
    dispatcher.run_once()
    first = _delivery(engine)
    assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, 500)
    assert first.next_attempt_at == clock.now() + timedelta(seconds=5)
    assert first.last_error == "HTTP 500 Internal Server Error: down"
    clock.advance(4)
    assert dispatcher.run_once() == (0, 0)  # not due yet
    clock.advance(1)
    dispatcher.run_once()
    assert _delivery(engine).next_attempt_at == clock.now() + timedelta(seconds=30)
    clock.advance(30)
    dispatcher.run_once()
    done = _delivery(engine)
    assert (done.status, done.attempts, done.delivered_at) == ("delivered", 3, clock.now())
    got = receiver.deliveries
    assert len(got) == 3 and all(d.verified for d in got)
    assert len({d.headers["webhook-id"] for d in got}) == 1  # the receiver's idempotency key
    assert [int(d.headers["webhook-timestamp"]) for d in got] == [
        unix(clock.now()) - 35, unix(clock.now()) - 30, unix(clock.now())]  # each attempt's
    assert len({d.body for d in got}) == 1  # the same bytes every time
    ep = webhooks.list_endpoints(engine.db)[0]
    assert (ep.last_status, ep.last_error, ep.last_delivery_at) == ("HTTP 200", None,
                                                                    clock.now())


def test_the_wait_grows_and_jitters_within_a_fifth() -> None:
    policy, rng = Policy(), random.Random(7)
    assert policy.max_attempts == 8
    for attempts, base in enumerate(policy.schedule, start=1):
        waits = [policy.wait_s(attempts, rng) for _ in range(50)]
        assert all(w is not None and 0.8 * base <= w <= 1.2 * base for w in waits)
        assert len(set(waits)) > 1
    assert policy.wait_s(8, rng) is None


def test_it_gives_up_after_the_last_attempt(
        engine: Engine, clock: FakeClock, dispatcher: Dispatcher, receiver: Receiver,
        register: Register) -> None:
    register("job.succeeded")
    receiver.script(*[Reply(500)] * 10)
    _succeed_a_job(engine)
    for wait in (0, *POLICY.schedule):
        clock.advance(wait)
        dispatcher.run_once()
    row = _delivery(engine)
    assert (row.status, row.attempts) == ("gave_up", 8)
    assert row.last_error is not None and row.last_error.endswith("gave up after 8 attempts")
    clock.advance(24 * 3600)
    dispatcher.run_once()
    assert len(receiver.deliveries) == 8


@pytest.mark.parametrize(("status", "header", "wait_s"), [
    (429, "120", 120), (503, "7", 7), (429, "0", 1), (429, "9999999", 24 * 3600),
    (500, "120", 5),  # Retry-After counts on 429 and 503 only
])
def test_retry_after_is_honoured_on_429_and_503(
        engine: Engine, clock: FakeClock, dispatcher: Dispatcher, receiver: Receiver,
        register: Register, status: int, header: str, wait_s: int) -> None:
    register("job.succeeded")
    receiver.script(Reply(status, headers={"Retry-After": header}))
    _succeed_a_job(engine)
    dispatcher.run_once()
    assert _delivery(engine).next_attempt_at == clock.now() + timedelta(seconds=wait_s)


def test_410_gone_disables_the_endpoint_and_ends_what_was_pending(
        engine: Engine, clock: FakeClock, dispatcher: Dispatcher, receiver: Receiver,
        register: Register) -> None:
    ep = register("job.succeeded")
    receiver.script(Reply(410, "gone"))
    _succeed_a_job(engine)
    _succeed_a_job(engine)
    dispatcher.run_once()
    assert len(receiver.deliveries) == 1  # the second was not tried after the first failed
    assert [d.status for d in webhooks.recent(engine.db)] == ["failed", "failed"]
    gone = webhooks.get(engine.db, ep.id)
    assert gone is not None and gone.disabled and gone.last_status == "HTTP 410"
    _succeed_a_job(engine)
    clock.advance(3600)
    dispatcher.run_once()
    assert len(receiver.deliveries) == 1 and len(webhooks.recent(engine.db)) == 2


def test_a_pending_delivery_survives_a_restart_and_the_next_engine_sends_it(
        clock: FakeClock, receiver: Receiver) -> None:
    first = Engine(config.load(), clock=clock, webhook_policy=POLICY)
    _, secret = webhooks.create(first.db, ADMIN_USER, receiver.url, "standard",
                                ["job.succeeded"], now=clock.now())
    receiver.secret = secret
    receiver.script(Reply(500))
    _succeed_a_job(first)
    Dispatcher(first, POLICY).run_once()
    assert _delivery(first).status == "pending"
    first.close()  # the "restart"

    clock.advance(60)
    second = Engine(config.load(), clock=clock, webhook_policy=POLICY)
    try:
        second.start_workers(threads=1)  # the dispatcher thread starts with the workers
        wait_until(lambda: len(receiver.deliveries) == 2, what="the retry after the restart")
        wait_until(lambda: _delivery(second).status == "delivered")
        one, two = receiver.deliveries
        assert one.headers["webhook-id"] == two.headers["webhook-id"] and two.verified
        assert second.webhooks is not None and not second.internal_errors
    finally:
        second.close()
    assert second.webhooks is None  # stopped with the engine


def test_the_engines_dispatcher_sends_by_itself(
        engine: Engine, receiver: Receiver, register: Register) -> None:
    register("job.succeeded", "job.failed")
    engine.start_workers(threads=1)
    jobs.submit(engine, "ann", jobs.JobSpec(prompt="a fox [[fail:rejected]]", width=64,
                                            height=64))
    wait_until(lambda: receiver.deliveries, what="job.failed from the engine's own thread")
    [got] = receiver.deliveries
    assert got.json()["type"] == "job.failed" and got.json()["data"]["error_type"] == "rejected"
    assert b"fox" not in got.body and got.verified


def test_a_wake_runs_a_round_before_the_next_tick(clock: FakeClock, receiver: Receiver) -> None:
    eng = Engine(config.load(), clock=clock, webhook_policy=Policy(tick_s=3600))
    try:
        ep, _ = webhooks.create(eng.db, ADMIN_USER, receiver.url, "standard", ["job.failed"],
                                now=clock.now())
        eng.start_workers(threads=1)
        assert eng.webhooks is not None
        wait_until(lambda: eng.webhooks is not None and eng.webhooks.rounds >= 1,
                   what="the first round, at start")
        webhooks.send_test(eng.db, ADMIN_USER, ep.id, now=clock.now())
        assert receiver.deliveries == []  # the next tick is an hour away
        eng.webhooks.wake()  # what "Send test event" does
        wait_until(lambda: receiver.deliveries, what="the ping after the wake")
    finally:
        eng.close()
    assert not eng.internal_errors


# --------------------------------------------------------------------------- hostile receivers


def test_a_slow_receiver_times_out_and_is_retried(
        engine: Engine, dispatcher: Dispatcher, receiver: Receiver, register: Register) -> None:
    register("job.succeeded")
    receiver.script(Reply(200, delay=4))  # it would say 200, but after the 1 s timeout
    _succeed_a_job(engine)
    dispatcher.run_once()
    row = _delivery(engine)
    assert (row.status, row.last_status_code, row.last_error) == ("pending", None,
                                                                  "no answer within 1 s")


def test_a_huge_answer_is_not_read(engine: Engine, clock: FakeClock, dispatcher: Dispatcher,
                                   receiver: Receiver, register: Register) -> None:
    register("job.succeeded")
    receiver.script(Reply(500, b"x" * 30_000_000), Reply(200, b"y" * 30_000_000))
    _succeed_a_job(engine)
    _succeed_a_job(engine)
    dispatcher.run_once()  # the 500 ends the round for this endpoint
    first = [d for d in webhooks.recent(engine.db) if d.attempts][0]
    assert first.last_error is not None and len(first.last_error) < 300
    clock.advance(5)
    dispatcher.run_once()
    assert {d.status for d in webhooks.recent(engine.db)} == {"delivered"}


def test_a_redirect_is_not_followed(engine: Engine, dispatcher: Dispatcher,
                                    receiver: Receiver, register: Register) -> None:
    elsewhere = Receiver()
    try:
        register("job.succeeded")
        receiver.script(Reply(307, headers={"Location": elsewhere.url}))
        _succeed_a_job(engine)
        dispatcher.run_once()
        row = _delivery(engine)
        assert (row.status, row.last_status_code) == ("pending", 307)
        assert row.last_error == "HTTP 307: a redirect, not followed"
        assert elsewhere.deliveries == []
    finally:
        elsewhere.close()


def test_a_reset_connection_is_a_failure_to_retry(
        engine: Engine, dispatcher: Dispatcher, receiver: Receiver, register: Register) -> None:
    register("job.succeeded")
    receiver.script(Reply(reset=True))
    _succeed_a_job(engine)
    dispatcher.run_once()
    row = _delivery(engine)
    assert (row.status, row.last_error) == ("pending", "the connection failed (refused or reset)")


def test_an_error_page_echoing_the_url_does_not_leak_it(
        engine: Engine, dispatcher: Dispatcher, receiver: Receiver, register: Register) -> None:
    slack_url = receiver.url + "/services/T000/B000/XXXXsecretXXXX"
    register("job.succeeded", kind="slack", url=slack_url)
    receiver.script(Reply(500, f"no route for {slack_url} (path /hook/services/T000/B000/"
                               "XXXXsecretXXXX)"))
    _succeed_a_job(engine)
    dispatcher.run_once()
    row = _delivery(engine)
    assert row.last_error is not None and "secret" not in row.last_error
    ep = webhooks.list_endpoints(engine.db)[0]
    assert "secret" not in (ep.last_error or "") and "secret" not in ep.shown_url


def test_two_dispatchers_seeing_one_delivery_due_send_it_once(
        engine: Engine, clock: FakeClock, dispatcher: Dispatcher, receiver: Receiver,
        register: Register) -> None:
    """Each process on a shared database runs a dispatcher: the one that takes a due delivery
    holds it while sending; the other passes it over. A holder killed mid-send leaves it to
    be sent again once the hold runs out."""
    from lib.webhooks import sender
    from lib.webhooks.outbox import Outbox

    register("job.succeeded")
    _succeed_a_job(engine)
    Outbox(engine).scan()
    mine, theirs = (sender.due(engine.db, clock.now(), 10) for _ in range(2))
    assert len(mine) == len(theirs) == 1
    assert sender.take(engine.db, POLICY, mine[0], clock.now())
    assert not sender.take(engine.db, POLICY, theirs[0], clock.now())
    assert dispatcher.run_once() == (0, 0)  # held: the taker "died" before sending
    assert receiver.deliveries == []
    clock.advance(3 * POLICY.timeout_s + 0.01)
    dispatcher.run_once()
    assert len(receiver.deliveries) == 1 and _delivery(engine).status == "delivered"
