"""Library writes refuse a disabled account, or a role that changed, whatever the page does.

Defence in depth under the fragment and dialog guard (issue 12, finding 1): ``auth.require_active``
is called by gallery.set_shared / delete_images / rate / set_favourite, the comparison writes,
jobs.cancel / resubmit, style_previews.request and batches.submit_batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from lib import jobs
from lib.auth import accounts as auth
from lib.auth.access import Viewer
from lib.compare import grid as cmp
from lib.compare import store
from lib.engine import Engine
from lib.gallery import queries as gallery
from lib.jobs import batches, style_previews
from tests.helpers import TEST_PASSWORD, TickingClock, run_next

T0 = datetime(2026, 12, 1, 9, 0)
ALICE, EVE = Viewer("alice", "member"), Viewer("eve", "admin")


@dataclass
class World:
    eng: Engine
    image: str  # alice's private image
    job: str  # eve's cancelled job
    queued: str  # eve's queued job
    comparison: str  # eve's comparison, one cell cancelled


def _finish(eng: Engine) -> None:
    while eng.db.scalar("SELECT count(*) FROM jobs WHERE status = 'queued'"):
        run_next(eng)


@pytest.fixture
def world(fast_bcrypt: None) -> Iterator[World]:
    eng = Engine(clock=TickingClock(T0))
    for name, role in (("root", "admin"), ("alice", "member"), ("eve", "admin")):
        auth.create_user(eng.db, name, name.title(), None, role, TEST_PASSWORD, now=T0)
    jobs.submit(eng, "alice", jobs.JobSpec(prompt="alice's private fox", width=512, height=512))
    comparison = store.start(eng, EVE, cmp.Grid(rows=("a fox",), columns=(
        cmp.Column(seed=11), cmp.Column(seed=12))), "eve's grid")
    first = eng.db.scalar("SELECT job_id FROM comparison_cells WHERE comparison_id = ? "
                          "AND col_idx = 0", [comparison])
    jobs.cancel(eng, first, "eve")
    _finish(eng)
    job = jobs.submit(eng, "eve", jobs.JobSpec(prompt="eve's cancelled job"))
    jobs.cancel(eng, job, "eve")
    queued = jobs.submit(eng, "eve", jobs.JobSpec(prompt="eve's queued job"))
    image = eng.db.scalar("SELECT id FROM images WHERE user_id = 'alice'")
    yield World(eng, image, job, queued, comparison)
    eng.close()


def _eve() -> auth.User:
    return auth.User("eve", "Eve", None, "admin", False, T0)


WRITES: dict[str, Callable[[World], Any]] = {
    "share": lambda w: gallery.set_shared(w.eng.db, EVE, [w.image], True),
    "favourite": lambda w: gallery.set_favourite(w.eng.db, EVE, w.image, True, T0),
    "rate": lambda w: gallery.rate(w.eng.db, EVE, w.image, 5, T0),
    "delete": lambda w: gallery.delete_images(w.eng.db, w.eng.storage, EVE, [w.image]),
    "cancel": lambda w: jobs.cancel(w.eng, w.queued, "eve"),
    "cancel as admin": lambda w: jobs.cancel(w.eng, w.queued, "eve", admin=True),
    "retry": lambda w: jobs.resubmit(w.eng, "eve", w.job),
    "style preview": lambda w: style_previews.request(w.eng, _eve(), "realistic"),
    "batch": lambda w: batches.submit_batch(w.eng, "eve", jobs.JobSpec(prompt="x"), 3),
    "comparison winner": lambda w: store.set_winner(w.eng, EVE, w.comparison, 0, 1),
    "comparison share": lambda w: store.set_shared(w.eng, EVE, w.comparison, True),
    "comparison cancel": lambda w: store.cancel_active(w.eng, EVE, w.comparison),
    "comparison retry": lambda w: store.retry(w.eng, EVE, w.comparison, 0, 0),
    "comparison start": lambda w: store.start(w.eng, EVE, cmp.Grid(
        rows=("an owl",), columns=(cmp.Column(seed=1),)), "another"),
}


def _state(w: World) -> list[Any]:
    """Everything these writes could change."""
    return [sorted(w.eng.db.fetchall(f"SELECT * FROM {t}"), key=repr) for t in (
        "images", "favourites", "image_ratings", "jobs", "comparisons", "comparison_cells",
        "comparison_winners", "styles")]


def _write_ok(world: World, write: str) -> None:
    """The write works for eve while her account is as it was (the test can fail)."""
    before = _state(world)
    WRITES[write](world)
    assert _state(world) != before or write == "comparison cancel"  # nothing active to stop


@pytest.mark.parametrize("write", list(WRITES))
def test_a_disabled_account_changes_nothing_through_the_library(world: World,
                                                                write: str) -> None:
    auth.set_disabled(world.eng.db, "eve", True, now=T0)
    before = _state(world)
    with pytest.raises(Exception, match="eve is disabled"):
        WRITES[write](world)
    assert _state(world) == before


@pytest.mark.parametrize("write", ["share", "delete", "cancel as admin", "style preview",
                                   "comparison winner", "comparison retry"])
def test_an_account_whose_role_changed_changes_nothing_through_the_library(
        world: World, write: str) -> None:
    auth.create_user(world.eng.db, "deputy", "Deputy", None, "admin", TEST_PASSWORD, now=T0)
    auth.set_role(world.eng.db, "eve", "member", now=T0)  # her Viewer still says admin
    before = _state(world)
    with pytest.raises(Exception, match="role of eve is now member"):
        WRITES[write](world)
    assert _state(world) == before


@pytest.mark.parametrize("write", ["share", "cancel", "retry", "comparison winner",
                                   "style preview"])
def test_the_same_writes_work_for_an_active_account(world: World, write: str) -> None:
    _write_ok(world, write)


def test_a_name_without_an_account_passes_as_jobs_submit_allows_it(world: World) -> None:
    job = jobs.submit(world.eng, "cli", jobs.JobSpec(prompt="from the command line"))
    assert jobs.cancel(world.eng, job, "cli") == jobs.CANCELLED


def test_a_role_change_ends_the_users_sessions_and_the_same_role_does_not(
        world: World) -> None:
    db = world.eng.db
    auth.set_role(db, "alice", "member", now=T0)
    assert auth.session_valid(db, "alice", T0.replace(hour=8))
    auth.set_role(db, "alice", "analyst", now=T0)
    assert not auth.session_valid(db, "alice", T0.replace(hour=8))
    assert auth.session_valid(db, "alice", T0)
