"""What is announced, and how often: budget alerts once per month and level, price changes,
finished batches once, the Slack text, and nothing from before an endpoint or from demo jobs."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from lib import jobs, webhooks
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.jobs import batches, store
from lib.jobs import repricing as pricing
from lib.money import budgets
from lib.webhooks import Dispatcher, events
from tests.builders import add_job
from tests.fakes.webhooks import Receiver
from tests.helpers import run_next

Register = Callable[..., webhooks.Endpoint]


def _spend(engine: Engine, job_id: str, usd: str, at: datetime) -> None:
    """A finished job that cost ``usd`` this month (written as history: no job event)."""
    add_job(engine.db, job_id, "ann", cost=usd, created=at)


def _types(receiver: Receiver) -> list[str]:
    return [d.json()["type"] for d in receiver.deliveries]


def test_a_budget_alert_fires_once_at_its_threshold_and_once_at_the_limit(
        engine: Engine, clock: FakeClock, dispatcher: Dispatcher, receiver: Receiver,
        register: Register) -> None:
    register("budget.threshold", "budget.exceeded")
    budgets.set_budget(engine.db, "team", "team", Decimal("10"), "root", clock.now(), 0.8)
    now = clock.now()
    _spend(engine, "j1", "5.00", now)
    dispatcher.run_once()
    assert receiver.deliveries == []  # 50 %
    _spend(engine, "j2", "3.00", now)
    dispatcher.run_once()
    assert _types(receiver) == ["budget.threshold"]  # 80 %: reaching it counts
    _spend(engine, "j3", "1.00", now)
    dispatcher.run_once()
    dispatcher.run_once()
    assert _types(receiver) == ["budget.threshold"]  # 90 %: already told this month
    _spend(engine, "j4", "1.00", now)
    dispatcher.run_once()
    _spend(engine, "j5", "0.50", now)  # an admin's override takes it past the limit
    dispatcher.run_once()
    assert _types(receiver) == ["budget.threshold", "budget.exceeded"]
    threshold, exceeded = (d.json() for d in receiver.deliveries)
    assert threshold["data"] == {"scope": "team", "subject": "team", "month": "2026-11",
                                 "limit_usd": "10", "used_usd": "8", "fraction": 0.8,
                                 "threshold": 0.8}
    assert exceeded["data"]["used_usd"] == "10" and exceeded["data"]["threshold"] == 1.0
    assert all(d.verified for d in receiver.deliveries)

    clock.advance(30 * 86400)  # December: a new month, told again when it gets there
    dispatcher.run_once()
    assert len(receiver.deliveries) == 2
    _spend(engine, "d1", "8.50", clock.now())
    dispatcher.run_once()
    assert _types(receiver)[2:] == ["budget.threshold"]
    assert receiver.deliveries[2].json()["data"]["month"] == "2026-12"


def test_an_endpoint_may_watch_its_own_level_and_a_users_budget(
        engine: Engine, clock: FakeClock, dispatcher: Dispatcher, receiver: Receiver,
        register: Register) -> None:
    register("budget.threshold", kind="slack", threshold=0.5)
    budgets.set_budget(engine.db, "user", "ann", Decimal("2"), "root", clock.now(), 0.9)
    _spend(engine, "j1", "1.10", clock.now())
    dispatcher.run_once()
    [got] = receiver.deliveries
    assert got.json() == {"text": ":warning: ann's monthly budget passed 50%: $1.10 of $2.00 "
                                  "used in 2026-11 (55%)."}


def test_budget_alerts_need_a_listener_and_look_again_only_after_a_write(
        engine: Engine, clock: FakeClock, dispatcher: Dispatcher, receiver: Receiver,
        register: Register) -> None:
    budgets.set_budget(engine.db, "team", "team", Decimal("1"), "root", clock.now())
    _spend(engine, "j1", "0.90", clock.now())
    dispatcher.run_once()
    assert engine.db.scalar("SELECT count(*) FROM webhook_announced") == 0
    register("budget.threshold")  # an endpoint added when the team is past 80 % is told once
    dispatcher.run_once()
    dispatcher.run_once()
    assert _types(receiver) == ["budget.threshold"]


def test_a_price_change_is_announced_and_a_recompute_is_not(
        engine: Engine, clock: FakeClock, dispatcher: Dispatcher, receiver: Receiver,
        register: Register) -> None:
    register("price.changed")
    price_id = pricing.add_price(engine.db, "root", "openai", "gpt-image-2", "1024x1024/high",
                                 "images", Decimal("0.167"), date(2026, 12, 1),
                                 "the pricing page", clock.now())
    pricing.recompute(engine.db, "root", date(2026, 11, 1), date(2026, 11, 30), clock.now())
    dispatcher.run_once()
    [got] = receiver.deliveries
    assert got.json() == {"type": "price.changed", "timestamp": "2026-11-02T09:00:00Z",
                          "data": {"price_id": price_id, "provider": "openai",
                                   "model": "gpt-image-2", "variant": "1024x1024/high",
                                   "unit": "images", "usd_per_unit": "0.167",
                                   "effective_from": "2026-12-01"}}
    assert got.verified


def test_a_batch_is_announced_once_when_its_last_job_ends(
        engine: Engine, dispatcher: Dispatcher, receiver: Receiver, register: Register) -> None:
    register("batch.finished")
    spec = jobs.JobSpec(prompt="a fox", width=64, height=64)
    ids = batches.submit_batch(engine, "ann", spec, 3)
    assert run_next(engine) == "succeeded"
    dispatcher.run_once()
    assert receiver.deliveries == []  # two still queued
    queued = [i for i in ids if jobs.get(engine, i).status == "queued"]  # type: ignore[union-attr]
    assert jobs.cancel(engine, queued[0], "ann") == "cancelled"  # a cancelled job ends too
    assert run_next(engine) == "succeeded"
    dispatcher.run_once()
    dispatcher.run_once()
    [got] = receiver.deliveries
    assert got.json()["type"] == "batch.finished" and got.verified
    data = got.json()["data"]
    assert (data["jobs"], data["succeeded"], data["failed"], data["cancelled"]) == (3, 2, 0, 1)
    assert sorted(data["job_ids"]) == sorted(ids) and data["cost_usd"] == "0"
    assert data["id"] == jobs.get(engine, ids[0]).batch_id  # type: ignore[union-attr]


def test_one_event_goes_to_every_endpoint_that_wants_it_and_no_other(
        engine: Engine, dispatcher: Dispatcher, receiver: Receiver, register: Register) -> None:
    register("job.failed")
    register("job.succeeded", kind="slack", url=receiver.url + "/slack")
    register("job.succeeded", "job.failed", url=receiver.url + "/both")
    job_id = jobs.submit(engine, "ann", jobs.JobSpec(prompt="ok", width=64, height=64))
    run_next(engine)
    dispatcher.run_once()
    assert sorted(d.path for d in receiver.deliveries) == ["/hook/both", "/hook/slack"]
    slack = next(d for d in receiver.deliveries if d.path == "/hook/slack")
    assert list(slack.json()) == ["text"] and job_id in slack.json()["text"]
    assert not {h for h in slack.headers if h.startswith("webhook-")}
    assert slack.headers["content-type"] == "application/json"


def test_what_happened_before_an_endpoint_existed_is_not_sent(
        engine: Engine, dispatcher: Dispatcher, receiver: Receiver, register: Register) -> None:
    jobs.submit(engine, "ann", jobs.JobSpec(prompt="before", width=64, height=64))
    run_next(engine)
    dispatcher.run_once()  # no endpoint yet: the cursor moves on all the same
    register()
    dispatcher.run_once()
    assert receiver.deliveries == []


def test_a_cursor_starts_at_the_end_of_history_and_demo_jobs_say_nothing(
        engine: Engine, dispatcher: Dispatcher, receiver: Receiver, register: Register) -> None:
    register("job.succeeded")
    jobs_before = engine.db.scalar("SELECT count(*) FROM job_events")
    add_job(engine.db, "demo1", "ann", demo=True)  # a demo job's history, as lib.demo writes
    with engine.db.write() as cur:
        store.event(cur, "demo1", engine.clock.now(), "running", "succeeded", "demo")
    dispatcher.run_once()
    assert receiver.deliveries == [] and jobs_before == 0
    assert engine.db.scalar("SELECT position FROM webhook_cursors WHERE name = 'job_events'") \
        == engine.db.scalar("SELECT max(id) FROM job_events")


def test_slack_text_escapes_names_so_they_cannot_draw_links_or_mentions() -> None:
    event = events.job_event(events.JOB_FAILED, {
        "id": "j1", "status": "failed", "user_id": "<!channel>", "provider": "sandbox",
        "model": "<http://evil.example|click> & more", "batch_id": None, "images": 0,
        "cost_usd": None, "error_type": "rejected", "duration_ms": 5}, datetime(2026, 11, 2))
    body = json.loads(events.slack_body(event))
    assert body == {"text": ":x: Job `j1` by &lt;!channel&gt; (sandbox &lt;http://evil.example"
                            "|click&gt; &amp; more) failed (rejected)."}
