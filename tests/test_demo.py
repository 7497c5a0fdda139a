"""Synthetic demo history: marked as demo, consistent totals, searchable, removable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from lib import demo, jobs
from lib.core import config
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.gallery import queries as g
from tests.helpers import run_next

END = datetime(2026, 11, 2, 9, 0, 0)
ADMIN = g.Viewer("root", "admin")


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine(config.load(), clock=FakeClock(END))
    yield eng
    eng.close()


@pytest.fixture
def small(engine: Engine) -> demo.DemoSummary:
    """2,000 demo images over 30 days for 5 members."""
    return demo.generate(engine, images=2000, days=30, users=5, seed=3)


def test_generate_writes_exactly_the_images_asked_for_all_marked_demo(
        engine: Engine, small: demo.DemoSummary) -> None:
    db = engine.db
    assert small.images == 2000 == db.scalar("SELECT count(*) FROM images WHERE demo")
    assert small.jobs == db.scalar("SELECT count(*) FROM jobs WHERE demo") > 1000
    assert db.scalar("SELECT count(*) FROM images WHERE NOT demo OR id NOT LIKE 'di%'") == 0
    assert db.scalar("SELECT count(*) FROM jobs WHERE NOT demo OR id NOT LIKE 'dm%' "
                     "OR params <> '{\"demo\": true}'") == 0
    assert small.events == small.jobs == db.scalar("SELECT count(DISTINCT job_id) FROM job_events")
    assert small.ratings == db.scalar("SELECT count(*) FROM image_ratings") > 0
    assert small.favourites == db.scalar("SELECT count(*) FROM favourites") > 0
    assert 0.05 < db.scalar("SELECT avg(shared::INT) FROM images") < 0.15


def test_every_jobs_cost_is_exactly_the_sum_of_its_images(
        engine: Engine, small: demo.DemoSummary) -> None:
    db = engine.db
    mismatched = db.scalar(
        "SELECT count(*) FROM jobs j LEFT JOIN (SELECT job_id, sum(cost_usd) AS total, "
        "count(*) AS made FROM images GROUP BY job_id) i ON i.job_id = j.id "
        "WHERE j.cost_usd <> coalesce(i.total, 0) "
        "OR (j.status = 'succeeded' AND i.made <> j.n) OR (j.status <> 'succeeded' AND i.made > 0)")
    assert mismatched == 0
    assert small.cost_usd == db.scalar("SELECT sum(cost_usd) FROM jobs") > 0
    assert small.cost_usd == db.scalar("SELECT sum(cost_usd) FROM images")
    for status, error_types in (("failed", {"rate_limited", "safety", "unavailable", "quota",
                                            "bad_response"}), ("cancelled", {"cancelled"})):
        rows = db.fetchall("SELECT error_type, error_message, cost_usd, usage FROM jobs "
                           "WHERE status = ?", [status])
        assert rows and {r[0] for r in rows} <= error_types
        assert all(r[1] and r[2] == 0 and r[3] is None for r in rows)
    assert small.failed == db.scalar("SELECT count(*) FROM jobs WHERE status = 'failed'")
    assert 0.03 < small.failed / small.jobs < 0.10
    assert small.cancelled == db.scalar("SELECT count(*) FROM jobs WHERE status = 'cancelled'")


def test_costs_follow_the_price_table(engine: Engine, small: demo.DemoSummary) -> None:
    per_image = dict(engine.db.fetchall(
        "SELECT provider || '/' || model || '/' || coalesce(quality, '-'), "
        "min(cost_usd) FROM images GROUP BY provider, model, quality "
        "HAVING count(DISTINCT cost_usd) = 1"))
    assert per_image["stability/core/-"] == Decimal("0.03")
    assert per_image["stability/ultra/-"] == Decimal("0.08")
    assert per_image["gemini/gemini-2.5-flash-image/1K"] == Decimal("0.039")
    assert per_image["replicate/black-forest-labs/flux-schnell/-"] == Decimal("0.003")
    assert per_image["sandbox/sandbox-v1/standard"] == 0
    assert per_image["a1111/default/-"] == 0
    usage = engine.db.fetchall("SELECT provider, usage FROM jobs "
                               "WHERE status = 'succeeded' AND n = 2")
    assert usage and all(json.loads(u) == {"images": 2} for p, u in usage if p != "a1111")
    assert all(set(json.loads(u)) == {"gpu_seconds"} for p, u in usage if p == "a1111")


def test_history_spans_the_days_asked_with_quieter_weekends(
        engine: Engine, small: demo.DemoSummary) -> None:
    first, last, late = engine.db.fetchone(
        "SELECT min(created_at), max(finished_at), max(started_at) FROM jobs")
    assert END - timedelta(days=30) <= first < END - timedelta(days=28)
    assert END - timedelta(days=2) < last <= END and late <= END
    weekday, weekend = engine.db.fetchone(
        "SELECT avg(CASE WHEN extract(isodow FROM created_at) <= 5 THEN 1.0 ELSE 0 END), "
        "avg(CASE WHEN extract(isodow FROM created_at) > 5 THEN 1.0 ELSE 0 END) FROM jobs")
    assert weekend < 0.2 < 0.8 < weekday + 0.05
    assert engine.db.scalar("SELECT count(DISTINCT provider) FROM images") == 6
    assert engine.db.scalar("SELECT max(n) FROM jobs") == 4
    assert engine.db.scalar("SELECT avg((n = 1)::INT) FROM jobs") > 0.6


def test_demo_users_cannot_sign_in_and_pictures_come_from_the_pool(
        engine: Engine, small: demo.DemoSummary) -> None:
    users = engine.db.fetchall("SELECT username, role, password_hash, disabled, email "
                               "FROM users ORDER BY 1")
    assert len(users) == small.users == 6
    assert all(u[0].startswith("demo-") and u[2] is None and u[3] and
               u[4].endswith("@demo.invalid") for u in users)
    assert {u[1] for u in users} == {"member", "analyst"}
    keys = {k for row in engine.db.fetchall(
        "SELECT DISTINCT original_key, thumb_key FROM images") for k in row}
    assert keys <= set(engine.storage.list_keys("demo/"))
    assert len(engine.storage.list_keys("demo/")) == 48


def test_the_same_seed_gives_the_same_history(engine: Engine) -> None:
    first = demo.generate(engine, images=300, days=10, users=3, seed=11)
    rows = engine.db.fetchall("SELECT * FROM images ORDER BY id")
    again = demo.generate(engine, images=300, days=10, users=3, seed=11)  # replaces the first
    assert engine.db.fetchall("SELECT * FROM images ORDER BY id") == rows
    assert (again.jobs, again.cost_usd) == (first.jobs, first.cost_usd)
    other = demo.generate(engine, images=300, days=10, users=3, seed=12)
    assert engine.db.scalar("SELECT count(*) FROM images") == 300
    assert other.cost_usd != first.cost_usd


def test_the_gallery_searches_demo_data(engine: Engine, small: demo.DemoSummary) -> None:
    page = g.search(engine.db, ADMIN, g.GalleryFilter(text="FOX", per_page=96))
    assert page.total > 0 and all("fox" in c.prompt for c in page.rows)
    assert all(c.demo for c in page.rows)
    alice = g.Viewer("demo-alice", "member")
    everything = g.search(engine.db, alice, g.GalleryFilter(per_page=96, sort="cost"))
    assert 0 < everything.total < 2000
    assert all(c.user_id == "demo-alice" or c.shared for c in everything.rows)
    assert g.search(engine.db, ADMIN, g.GalleryFilter(include_demo=False)).total == 0
    assert g.facets(engine.db, ADMIN)["users"] == [f"demo-{n}" for n in
                                                   ("alice", "bob", "carol", "dan", "erin")]


def test_remove_takes_out_all_demo_data_and_leaves_real_data(engine: Engine) -> None:
    with engine.db.write() as cur:
        cur.execute("INSERT INTO users (username, name, role, password_hash, created_at) "
                    "VALUES ('ann', 'Ann', 'member', 'hash', ?), "
                    "('demo-alice', 'Real Alice', 'admin', 'hash', ?)", [END, END])
    job_id = jobs.submit(engine, "ann", jobs.JobSpec(prompt="a real fox", width=64, height=64))
    assert run_next(engine) == jobs.SUCCEEDED
    real_image = engine.db.scalar("SELECT id FROM images")
    real_keys = engine.storage.list_keys("img/")
    ann = g.Viewer("ann", "member")
    g.rate(engine.db, ann, real_image, 5, END)
    real = [engine.db.fetchall(f"SELECT * FROM {t} ORDER BY id") for t in ("jobs", "images")]
    assert not demo.has_demo(engine)
    for _ in range(2):  # the second run replaces the first, and neither touches real rows
        summary = demo.generate(engine, images=500, days=7, users=2)
        assert [engine.db.fetchall(f"SELECT * FROM {t} WHERE NOT demo ORDER BY id")
                for t in ("jobs", "images")] == real
    assert demo.has_demo(engine)
    demo_image = engine.db.scalar("SELECT id FROM images WHERE demo AND shared LIMIT 1")
    g.rate(engine.db, ann, demo_image, 4, END)
    g.set_favourite(engine.db, ann, demo_image, True, END)

    assert demo.remove(engine) == summary.images == 500
    assert not demo.has_demo(engine)
    assert [engine.db.fetchall(f"SELECT * FROM {t} ORDER BY id")
            for t in ("jobs", "images")] == real
    assert engine.db.fetchall("SELECT image_id, user_id FROM image_ratings") == [
        (real_image, "ann")]
    assert engine.db.scalar("SELECT count(*) FROM favourites") == 0
    assert [e[2] for e in jobs.events(engine, job_id)] == ["queued", "running", "succeeded"]
    assert engine.db.scalar("SELECT count(*) FROM job_events WHERE job_id LIKE 'dm%'") == 0
    assert engine.db.fetchall("SELECT username, name FROM users ORDER BY 1") == [
        ("ann", "Ann"), ("demo-alice", "Real Alice")]  # a real user with a demo-like name
    assert engine.storage.list_keys("demo/") == []
    assert engine.storage.list_keys("img/") == real_keys
    assert demo.remove(engine) == 0


def test_zero_images_and_bad_arguments(engine: Engine) -> None:
    empty = demo.generate(engine, images=0, days=1, users=1)
    assert (empty.images, empty.jobs, empty.cost_usd) == (0, 0, 0)
    assert engine.db.scalar("SELECT count(*) FROM images") == 0
    for bad in ({"images": -1}, {"days": 0}, {"users": 0}):
        with pytest.raises(ValueError, match="at least"):
            demo.generate(engine, **bad)  # type: ignore[arg-type]


def test_demo_users_do_not_hide_the_first_admin_setup() -> None:
    from lib.auth import accounts as auth
    from lib.core.clock import utcnow

    eng = Engine(config.load())
    try:
        assert auth.needs_first_admin(eng.db)
        demo.generate(eng, images=50, days=3, users=3)
        assert auth.needs_first_admin(eng.db)  # only disabled, passwordless demo users exist
        auth.create_user(eng.db, "boss", "Boss", None, "admin", "a-long-password-1",
                         now=utcnow(), only_if_empty=True)
        assert not auth.needs_first_admin(eng.db)
    finally:
        eng.close()
