"""Data builders shared by test modules: rows inserted directly with known values, and the
viewers and accounts they belong to.

A test module takes what it shares from here (data) or from ``tests/conftest.py`` (fixtures)
and ``tests/helpers.py`` (drivers), never from another test module (``tests/test_tests.py``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from lib.auth.accounts import User
from lib.db.database import Database
from lib.engine import Engine
from lib.gallery.queries import Viewer
from lib.money import costs
from lib.reporting.analytics import Filters
from lib.storage.keys import image_keys

# Viewers of the gallery and the analytics (one Viewer class for both).
ADMIN, ANALYST = Viewer("root", "admin"), Viewer("finn", "analyst")
ALICE, BOB = Viewer("alice", "member"), Viewer("bob", "member")

# -- Analytics: the November 2026 history tabled in tests/reporting/test_analytics.py's docstring.

NOV = Filters(date(2026, 11, 1), date(2026, 11, 30))
HISTORY_NOW = datetime(2026, 11, 20, 12)  # the clock of the engines that hold it


def add_job(db: Database, job_id: str, user: str, *, provider: str = "openai",
            model: str = "gpt-image-2", status: str = "succeeded", cost: str | None = "0.04",
            n: int = 1, images: int | None = None, duration: int | None = 1000,
            created: datetime = datetime(2026, 11, 2, 10), image_created: datetime | None = None,
            error_type: str | None = None, demo: bool = False, prompt: str = "a red fox",
            quality: str | None = "high") -> None:
    """Insert one job and its images (its cost split exactly, as the pipeline does)."""
    count = (n if status == "succeeded" else 0) if images is None else images
    total = None if cost is None else Decimal(cost)
    later = image_created or created + timedelta(seconds=5)
    with db.write() as cur:
        cur.execute(
            "INSERT INTO jobs (id, user_id, provider, model, prompt, quality, width, height, n, "
            "status, attempts, next_run_at, error_type, cost_usd, duration_ms, created_at, "
            "started_at, finished_at, request_id, demo, updated_at, images) "
            "VALUES (?,?,?,?,?,?,1024,1024,?,?,1,?,?,?,?,?,?,?,?,?,?,?)",
            [job_id, user, provider, model, prompt, quality, n, status, created, error_type,
             total, duration if status != "cancelled" else None, created, created, later,
             f"req-{job_id}", demo, later, count])
        for idx, part in enumerate(costs.split(total, count)):
            cur.execute(
                "INSERT INTO images (id, job_id, idx, user_id, provider, model, prompt, quality, "
                "width, height, original_key, thumb_key, bytes, cost_usd, duration_ms, "
                "request_id, demo, created_at) "
                "VALUES (?,?,?,?,?,?,?,?,1024,1024,'o','t',1,?,?,?,?,?)",
                [f"{job_id}-{idx}", job_id, idx, user, provider, model, prompt, quality, part,
                 duration, f"req-{job_id}", demo, later])


def add_history(db: Database) -> None:
    """The jobs tabled in tests/reporting/test_analytics.py's docstring."""
    nov = datetime(2026, 11, 2, 10)
    add_job(db, "j1", "alice", cost="0.04", duration=1000, created=nov)
    add_job(db, "j2", "alice", cost="0.12", n=3, duration=3000, created=nov + timedelta(hours=1))
    gem = {"provider": "gemini", "model": "flash", "created": nov + timedelta(days=1)}
    add_job(db, "j3", "bob", status="failed", cost=None, duration=500,
            error_type="rate_limited", **gem)
    add_job(db, "j4", "bob", status="failed", cost="0.039", duration=800,
            error_type="bad_response", **gem)
    stab = {"provider": "stability", "model": "core", "quality": None}
    add_job(db, "j5", "bob", status="cancelled", cost=None, created=nov + timedelta(days=2),
            error_type="cancelled", **stab)
    add_job(db, "j6", "carol", cost=None, n=2, duration=2000, created=nov + timedelta(days=3),
            **stab)
    add_job(db, "j7", "alice", cost="0.05", duration=4000, created=datetime(2026, 11, 20, 9))
    add_job(db, "j8", "alice", cost="0.10", n=2, duration=2000, created=datetime(2026, 10, 15))


def analytics_history() -> None:
    """In the dashboard's engine (a page test), relative to its clock: ann one image at $0.04
    two days ago; bob three at $0.12 (and a private prompt), plus a failed job; carol one
    image ten days ago at $1.00."""
    from lib import ui

    eng = ui.engine()
    now = eng.clock.now()
    add_job(eng.db, "a1", "ann", cost="0.04", created=now - timedelta(days=2),
            prompt="ann's red fox")
    add_job(eng.db, "b1", "bob", provider="gemini", model="flash", cost="0.12", n=3,
            created=now - timedelta(days=2), prompt="bob's secret boat")
    add_job(eng.db, "b2", "bob", provider="gemini", model="flash", status="failed", cost=None,
            error_type="rate_limited", created=now - timedelta(days=1), prompt="bob again")
    add_job(eng.db, "c1", "carol", provider="stability", model="core", cost="1.00",
            created=now - timedelta(days=10), prompt="carol's castle")


# -- Gallery: succeeded images, one job each.

T0 = datetime(2026, 11, 1, 12, 0, 0)  # the clock of the conftest ``engine`` fixture


def add_image(engine: Engine, image_id: str, user: str, *, shared: bool = False,
              prompt: str = "a red fox", provider: str = "sandbox", model: str = "sandbox-v1",
              style: str | None = None, cost: str | None = "0.01", duration: int | None = 1000,
              created: datetime = T0, demo: bool = False,
              keys: tuple[str, str | None, str] | None = None) -> tuple[str, str | None, str]:
    """Insert a succeeded job and one image row directly, with its objects stored."""
    job_id = f"job-{image_id}"
    keys = keys or image_keys(job_id, image_id)
    for key in filter(None, keys):
        if not engine.storage.exists(key):
            engine.storage.put(key, f"bytes of {key}".encode(), "image/png")
    same = [user, provider, model, prompt, style, cost, demo, created]
    cols = "user_id, provider, model, prompt, style, cost_usd, demo, created_at, width, height"
    with engine.db.write() as cur:
        cur.execute(f"INSERT INTO jobs (id, batch_id, {cols}, n, status, attempts, next_run_at, "
                    "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,64,64,1,'succeeded',1,?,?)",
                    [job_id, f"batch-{image_id}", *same, created, created])
        cur.execute(f"INSERT INTO images (id, job_id, {cols}, idx, seed, bytes, original_key, "
                    "watermarked_key, thumb_key, duration_ms, shared) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,64,64,0,1,10,?,?,?,?,?)",
                    [image_id, job_id, *same, *keys, duration, shared])
    return keys


# -- Styles: accounts as the styles library sees them.

STYLES_NOW = datetime(2026, 11, 2, 9, 0, 0)


def account(name: str, role: str, disabled: bool = False) -> User:
    """A user row as read back, created at STYLES_NOW."""
    return User(name, name.title(), None, role, disabled, STYLES_NOW)


ADMIN_USER, MEMBER_USER = account("root", "admin"), account("ann", "member")
ANALYST_USER = account("al", "analyst")
