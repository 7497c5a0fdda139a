"""Who may use which models, and how many images a day: allow-lists per role and per user
(a user's own list replaces the role's; ``*`` is any model, typed ids included; an empty list
allows nothing) and the daily cap, enforced at submit under the write lock, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lib import jobs
from lib.auth import accounts as auth
from lib.engine import Engine
from lib.grants import caps as daily
from lib.grants import rules
from lib.jobs import batches
from lib.jobs.model import NotAllowed, SubmitError
from tests.builders import T0
from tests.helpers import run_next

PRO, FLASH = "gemini-3-pro-image", "gemini-3.1-flash-image"


@pytest.fixture
def team(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-test-key-never-called")
    monkeypatch.setenv("GEMINI_BASE_URL", "http://127.0.0.1:9")
    for name, role in (("ada", "admin"), ("ann", "member"), ("bob", "member")):
        auth.create_user(engine.db, name, name.title(), None, role, "pw-Long-enough-1", now=T0)
    return engine


def _submit(engine: Engine, user: str, provider: str = "sandbox", model: str | None = None,
            n: int = 1) -> str:
    return jobs.submit(engine, user, jobs.JobSpec(prompt="a fox", provider=provider,
                                                  model=model, n=n))


def test_nobody_is_limited_until_a_list_exists(team: Engine) -> None:
    assert rules.grant_for(team.db, "ann", "member") is rules.EVERYTHING
    assert _submit(team, "ann", "gemini", FLASH)


def test_a_role_list_applies_and_a_users_own_list_replaces_it(team: Engine) -> None:
    rules.set_list(team.db, "ada", "role", "member", [("gemini", PRO)], T0)
    with pytest.raises(NotAllowed) as refused:
        _submit(team, "ann", "gemini", FLASH)
    assert str(refused.value) == (
        "Google Gemini gemini-3.1-flash-image is not on the member role's list. You may use: "
        "Google Gemini gemini-3-pro-image. Ask an admin to change it on Admin → Access.")
    with pytest.raises(NotAllowed, match="not on the member role's list"):
        _submit(team, "bob", "sandbox")
    assert _submit(team, "ann", "gemini", PRO)
    rules.set_list(team.db, "ada", "user", "bob", [("sandbox", rules.ANY)], T0)
    assert _submit(team, "bob", "sandbox")  # bob's own list replaces the role's
    with pytest.raises(NotAllowed, match="not on bob's own list"):
        _submit(team, "bob", "gemini", PRO)
    rules.set_list(team.db, "ada", "role", "member", None, T0)  # removed: every model again
    assert _submit(team, "ann", "gemini", FLASH)


def test_an_empty_list_allows_nothing_and_any_covers_typed_ids(team: Engine) -> None:
    rules.set_list(team.db, "ada", "user", "ann", [], T0)
    with pytest.raises(NotAllowed, match="It allows no model"):
        _submit(team, "ann")
    rules.set_list(team.db, "ada", "user", "ann", [("replicate", rules.ANY)], T0)
    grant = rules.grant_for(team.db, "ann", "member")
    assert grant.allows("replicate", "someone/any-model:abc") and grant.any_model("replicate")
    assert not grant.allows_provider("sandbox")


def test_a_batch_off_the_list_is_refused_whole(team: Engine) -> None:
    rules.set_list(team.db, "ada", "user", "ann", [("gemini", PRO)], T0)
    spec = jobs.JobSpec(prompt="a fox", provider="gemini", model=FLASH)
    with pytest.raises(NotAllowed):
        batches.submit_batch(team, "ann", spec, 3, batches.RANDOM)
    assert team.db.scalar("SELECT count(*) FROM jobs") == 0


@pytest.mark.parametrize(("scope", "subject", "pairs", "said"), [
    ("team", "ann", [], "for a role or a user"),
    ("role", "wizard", [], "There is no role 'wizard'"),
    ("user", "nobody", [], "There is no user 'nobody'"),
    ("user", "ann", [("nope", "x")], "There is no provider 'nope'"),
    ("user", "ann", [("gemini", "gemini-9")], "Gemini has no model 'gemini-9'"),
])
def test_a_list_that_names_nothing_real_is_refused_and_nothing_changes(
        team: Engine, scope: str, subject: str, pairs: list[tuple[str, str]], said: str) -> None:
    with pytest.raises(rules.GrantError, match=said):
        rules.set_list(team.db, "ada", scope, subject, pairs, T0)
    assert rules.lists(team.db) == []


def test_the_filtered_catalog_offers_only_the_grant_and_moves_the_default(team: Engine) -> None:
    rules.set_list(team.db, "ada", "user", "ann", [("gemini", FLASH)], T0)
    book = rules.book_for(team.models(), rules.grant_for(team.db, "ann", "member"))
    assert book.live("gemini", T0.date()) == (FLASH,)
    assert book.default("gemini", T0.date()) == FLASH
    assert book.live("sandbox", T0.date()) == ()


def test_a_daily_cap_counts_todays_images_and_refuses_past_it(team: Engine) -> None:
    daily.set_cap(team.db, "ada", "ann", 3, T0)
    first = _submit(team, "ann", n=2)
    with pytest.raises(SubmitError, match=r"daily cap is 3 images and 2 have been asked for "
                                          r"today, so 2 more would pass it \(1 left\)"):
        _submit(team, "ann", n=2)
    assert _submit(team, "ann", n=1)
    assert daily.used_today(team.db, "ann", team.clock.now()) == 3
    assert run_next(team) == jobs.SUCCEEDED  # made 2: still counts 2
    assert daily.used_today(team.db, "ann", team.clock.now()) == 3
    jobs.cancel(team, first, "ann")  # a finished job keeps what it made
    team.clock.advance(86400)  # type: ignore[attr-defined]
    assert daily.used_today(team.db, "ann", team.clock.now()) == 0
    assert _submit(team, "ann", n=3)
    [use] = daily.uses(team.db, team.clock.now())
    assert (use.username, use.daily_images, use.used_today, use.left) == ("ann", 3, 3, 0)


def test_a_batch_past_the_cap_is_refused_whole_and_others_are_not_capped(team: Engine) -> None:
    daily.set_cap(team.db, "ada", "ann", 4, T0)
    spec = jobs.JobSpec(prompt="a fox", provider="sandbox", n=2)
    with pytest.raises(SubmitError, match="daily cap is 4"):
        batches.submit_batch(team, "ann", spec, 3, batches.RANDOM)
    assert team.db.scalar("SELECT count(*) FROM jobs") == 0
    assert len(batches.submit_batch(team, "bob", spec, 3, batches.RANDOM)) == 3


def test_a_cancelled_queued_job_gives_its_images_back(team: Engine) -> None:
    daily.set_cap(team.db, "ada", "ann", 2, T0)
    job = _submit(team, "ann", n=2)
    jobs.cancel(team, job, "ann")
    assert daily.used_today(team.db, "ann", team.clock.now() + timedelta(seconds=1)) == 0
    assert _submit(team, "ann", n=2)


@pytest.mark.parametrize(("who", "cap", "said"), [
    ("nobody", 5, "There is no user"), ("ann", -1, "from 0 to 100,000"),
    ("ann", 100_001, "from 0 to 100,000")])
def test_a_cap_that_cannot_be_is_refused(team: Engine, who: str, cap: int, said: str) -> None:
    with pytest.raises(rules.GrantError, match=said):
        daily.set_cap(team.db, "ada", who, cap, T0)
    assert daily.uses(team.db, T0) == []


def test_a_cap_of_zero_stops_generating(team: Engine) -> None:
    daily.set_cap(team.db, "ada", "ann", 0, T0)
    with pytest.raises(SubmitError, match="daily cap is 0 images"):
        _submit(team, "ann")
    daily.set_cap(team.db, "ada", "ann", None, T0)
    assert _submit(team, "ann")
