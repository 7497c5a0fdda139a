"""Attacks on sign-in and on other people's data: every one refused.

Password guessing until lockout and recovery after the cool-down; forged, tampered, expired and
revoked re-login cookies; a member changing ids (URL ``?image=``, bulk actions, analytics
filters, queue cancel and retry) to reach another member's images, costs or jobs; an analyst
trying to queue a job through the page and through the library.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import jwt
import pytest
import streamlit as st
import streamlit.runtime.context as st_context
from streamlit.testing.v1 import AppTest

from lib import jobs, ui
from lib.auth import accounts as auth
from lib.auth.cookies import cookie_key
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.gallery import downloads as gallery_zip
from lib.gallery import queries as gallery
from lib.reporting import analytics, ledger
from lib.ui import signin as auth_ui
from tests.helpers import APP, TEST_PASSWORD, app_as, ensure_user, sign_in
from tests.reliability._hostile_helpers import (
    finish_all,
)

WRONG = "not the password at all"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 2, 9, 0))


@pytest.fixture
def engine(clock: FakeClock, fast_bcrypt: None) -> Iterator[Engine]:
    eng = Engine(clock=clock)
    for name, role in (("root", "admin"), ("ann", "member"), ("bob", "member"),
                       ("ana", "analyst")):
        auth.create_user(eng.db, name, name.title(), None, role, TEST_PASSWORD,
                         now=clock.now())
    yield eng
    eng.close()


# --------------------------------------------------------------------------- passwords


def test_guessing_locks_the_account_and_it_opens_again_after_the_cool_down(
    engine: Engine, clock: FakeClock
) -> None:
    for _ in range(auth.MAX_FAILED_LOGINS):
        assert auth.authenticate(engine.db, "ann", WRONG, clock.now()) is None
    locked_at = clock.now()
    # While locked: the right password fails too, and more guesses don't extend the lock.
    for _ in range(20):
        clock.advance(10)
        assert auth.authenticate(engine.db, "ann", TEST_PASSWORD, clock.now()) is None
        assert auth.authenticate(engine.db, " ANN ", WRONG, clock.now()) is None
    user = auth.get_user(engine.db, "ann")
    assert user is not None and user.locked_until == locked_at + auth.LOCKOUT
    clock.advance((locked_at + auth.LOCKOUT - clock.now()).total_seconds() - 1)
    assert auth.authenticate(engine.db, "ann", TEST_PASSWORD, clock.now()) is None
    clock.advance(1)  # the cool-down is over: the right password works and the count restarts
    assert auth.authenticate(engine.db, "ann", TEST_PASSWORD, clock.now()) is not None
    assert auth.get_user(engine.db, "ann").failed_logins == 0  # type: ignore[union-attr]
    # Other accounts were never affected, and guessing unknown names locks nobody.
    for name in ("bob", "nobody", "root'--", "r" * 5000):
        assert auth.authenticate(engine.db, name, WRONG, clock.now()) is None
    assert auth.authenticate(engine.db, "bob", TEST_PASSWORD, clock.now()) is not None


def test_a_cooled_down_account_locks_again_after_five_more_guesses(
    engine: Engine, clock: FakeClock
) -> None:
    for _ in range(auth.MAX_FAILED_LOGINS):
        auth.authenticate(engine.db, "ann", WRONG, clock.now())
    clock.advance(auth.LOCKOUT.total_seconds())
    for _ in range(auth.MAX_FAILED_LOGINS - 1):
        auth.authenticate(engine.db, "ann", WRONG, clock.now())
    assert not auth.get_user(engine.db, "ann").is_locked(clock.now())  # type: ignore[union-attr]
    auth.authenticate(engine.db, "ann", WRONG, clock.now())
    assert auth.get_user(engine.db, "ann").is_locked(clock.now())  # type: ignore[union-attr]


# --------------------------------------------------------------------------- cookies


@pytest.fixture
def _app_env(fast_bcrypt: None) -> Iterator[None]:
    """The real sign-in path, a fresh engine, quick bcrypt."""
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def _send_cookie(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    client = SimpleNamespace(cookies={auth_ui.COOKIE_NAME: token})
    monkeypatch.setattr(st_context, "_get_client_context", lambda: client)


def _claims(username: str, issued: datetime, **extra: object) -> dict[str, object]:
    exp = (issued + timedelta(days=auth_ui.COOKIE_EXPIRY_DAYS)).timestamp()
    return {"username": username, "exp_date": exp, **extra}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(kind: str, key: str) -> str:
    now = datetime.now()
    if kind == "wrong key":
        return jwt.encode(_claims("root", now), "k" * 64, algorithm="HS256")
    if kind == "alg none":
        head = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return f"{head}.{_b64(json.dumps(_claims('root', now)).encode())}."
    if kind == "swapped username":  # ann's genuine token with the payload edited to root
        head, _, sig = jwt.encode(_claims("ann", now), key, algorithm="HS256").split(".")
        return f"{head}.{_b64(json.dumps(_claims('root', now)).encode())}.{sig}"
    if kind == "expired":
        return jwt.encode(_claims("root", now - timedelta(days=30)), key, algorithm="HS256")
    if kind == "revoked":  # genuine, but issued before root signed out everywhere
        return jwt.encode(_claims("root", now - timedelta(hours=1)), key, algorithm="HS256")
    if kind == "garbage":
        return "not-a-jwt" + "\x00" * 3 + "é" * 10
    raise AssertionError(kind)


@pytest.mark.usefixtures("_app_env")
@pytest.mark.parametrize("kind", ["wrong key", "alg none", "swapped username", "expired",
                                  "revoked", "garbage"])
def test_a_forged_or_stale_cookie_signs_nobody_in(monkeypatch: pytest.MonkeyPatch,
                                                  kind: str) -> None:
    eng = ui.engine()
    ensure_user("root", "admin")
    ensure_user("ann", "member")
    auth.revoke_sessions(eng.db, "root", eng.clock.now() - timedelta(minutes=30))
    _send_cookie(monkeypatch, _forge(kind, cookie_key(eng.settings)))
    at = app_as(None)
    assert not at.exception
    assert at.title[0].value == "Sign in"
    assert at.session_state["user"] is None if "user" in at.session_state else True


@pytest.mark.usefixtures("_app_env")
@pytest.mark.parametrize("forged", ["old test seam", "no such account", "revoked", "disabled"])
def test_a_session_entry_without_a_live_server_side_session_signs_nobody_in(forged: str) -> None:
    """Session state is kept on the server, but should a bug let a client write it (a widget
    given an ``_auth_*`` key), a name alone signs nobody in: only a session record that the
    users table still honours does, re-checked on every run."""
    eng = ui.engine()
    for name, role in (("root", "admin"), ("ann", "member"), ("bob", "member")):
        ensure_user(name, role)
    now = eng.clock.now()
    at = AppTest.from_file(APP, default_timeout=30)
    if forged == "old test seam":  # what PROMPTBOARD_TESTING=1 used to honour
        at.session_state["_test_user"] = "root"
    elif forged == "no such account":
        sign_in(at, "mallory")
    elif forged == "revoked":  # issued before root signed out everywhere
        auth.revoke_sessions(eng.db, "root", now - timedelta(minutes=30))
        sign_in(at, "root", issued_at=now - timedelta(hours=1))
    else:
        auth.set_disabled(eng.db, "ann", True, now=now - timedelta(minutes=30))
        sign_in(at, "ann")
    at.run()
    assert not at.exception
    assert at.title[0].value == "Sign in"
    assert at.session_state["user"] is None if "user" in at.session_state else True
    assert "_auth_session" not in at.session_state
    genuine = sign_in(AppTest.from_file(APP, default_timeout=30), "bob").run()
    assert genuine.session_state["user"].username == "bob"  # the same record, honoured


@pytest.mark.usefixtures("_app_env")
def test_a_role_claim_smuggled_into_a_genuine_cookie_is_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    eng = ui.engine()
    ensure_user("root", "admin")
    ensure_user("ann", "member")
    token = jwt.encode(_claims("ann", datetime.now(), roles=["admin"], role="admin"),
                       cookie_key(eng.settings), algorithm="HS256")
    _send_cookie(monkeypatch, token)
    at = app_as(None)
    assert not at.exception
    assert at.session_state["user"].role == "member"  # from the users table, not the cookie
    nav = at.get("navigation") if hasattr(at, "get") else []
    assert "Admin" not in str([n.proto for n in nav])


# --------------------------------------------------------------------------- other people's data


def _image(engine: Engine, user: str, prompt: str) -> tuple[str, str]:
    job_id = jobs.submit(engine, user, jobs.JobSpec(prompt=prompt, width=64, height=64))
    finish_all(engine)
    return job_id, str(engine.db.scalar("SELECT id FROM images WHERE job_id = ?", [job_id]))


def test_a_member_cannot_reach_another_members_image_by_changing_ids(engine: Engine) -> None:
    _, mine = _image(engine, "ann", "ann's fox")
    _, theirs = _image(engine, "bob", "bob's private boat")
    ann = gallery.Viewer("ann", "member")
    for probe in (theirs, theirs.upper(), f" {theirs}", f"{theirs}' OR '1'='1", "%", "*", ""):
        assert gallery.get_image(engine.db, ann, probe) is None
    now = engine.clock.now()
    attempts = [
        lambda: gallery.set_shared(engine.db, ann, [mine, theirs], True),
        lambda: gallery.delete_images(engine.db, engine.storage, ann, [theirs]),
        lambda: gallery.rate(engine.db, ann, theirs, 5, now),
        lambda: gallery.set_favourite(engine.db, ann, theirs, True, now),
        lambda: gallery_zip.zip_images(engine.db, engine.storage, ann, [theirs]),
    ]
    for attempt in attempts:
        with pytest.raises(gallery.GalleryError, match="not found, or you cannot see it"):
            attempt()
    assert engine.db.fetchone("SELECT shared FROM images WHERE id = ?", [theirs]) == (False,)
    assert engine.db.fetchone("SELECT shared FROM images WHERE id = ?", [mine]) == (False,)
    texts = [c.prompt for c in gallery.search(engine.db, ann, gallery.GalleryFilter(
        users=["bob"], text="boat")).rows]
    assert texts == []


def test_a_member_cannot_read_another_members_costs(engine: Engine) -> None:
    _image(engine, "ann", "ann's fox")
    _image(engine, "bob", "bob's boat")
    today = engine.clock.now().date()
    ann = analytics.Viewer("ann", "member")
    for users in ((), ("bob",), ("bob", "ann"), ("bob' OR 1=1 --",)):
        f = analytics.Filters(today - timedelta(days=1), today, users=users)
        rows, _ = ledger.ledger(engine.db, ann, f)
        assert set(rows["user"]) <= {"ann"}
        assert "bob" not in set(analytics.top_users(engine.db, ann, f).get("user", []))
    assert analytics.scope(ann, analytics.Filters(date(2026, 1, 1), today,
                                                  users=("bob",))).users == ("ann",)


def test_a_member_cannot_cancel_or_retry_another_members_job(engine: Engine) -> None:
    bobs = jobs.submit(engine, "bob", jobs.JobSpec(prompt="bob's boat", width=64, height=64))
    with pytest.raises(jobs.IllegalTransition, match="No such job of yours"):
        jobs.cancel(engine, bobs, "ann")
    assert jobs.get(engine, bobs).status == jobs.QUEUED  # type: ignore[union-attr]
    jobs.cancel(engine, bobs, "bob")
    with pytest.raises(jobs.SubmitError, match="No such job of yours"):
        jobs.resubmit(engine, "ann", bobs)


@pytest.mark.usefixtures("page_engine")
def test_a_member_opening_another_members_image_by_url_sees_only_a_refusal() -> None:
    eng = ui.engine()
    ensure_user("bob", "member")
    _, theirs = _image(eng, "bob", "bob's private boat")
    at = app_as("ann", "member", page="screens/gallery.py")
    for probe in (theirs, f"{theirs}' OR '1'='1"):
        at.query_params["image"] = probe
        at.run()
        assert not at.exception
        assert any("not yours to see" in e.value for e in at.error)
        shown = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
        assert "boat" not in shown


# --------------------------------------------------------------------------- analysts


@pytest.mark.usefixtures("page_engine")
@pytest.mark.parametrize("page", ["generate.py", "history.py"])
def test_an_analyst_running_the_generate_page_directly_gets_no_form(page: str) -> None:
    """The menu leaves these pages out for analysts; the page itself checks again."""
    ensure_user("ana", "analyst")
    at = AppTest.from_file(str(Path(APP).parent / "screens" / page), default_timeout=30)
    sign_in(at, "ana")
    at.run()
    assert not at.exception
    assert any("not available to your role" in e.value for e in at.error)
    assert not at.text_area and not [b for b in at.button if b.key == "gen_submit"]


def test_an_analyst_or_disabled_account_cannot_queue_through_the_library(
    engine: Engine, clock: FakeClock
) -> None:
    spec = jobs.JobSpec(prompt="a fox", width=64, height=64)
    with pytest.raises(jobs.SubmitError, match=r"ana, analyst\) may not generate"):
        jobs.submit(engine, "ana", spec)
    anns = jobs.submit(engine, "ann", spec)
    jobs.cancel(engine, anns, "ann")
    auth.set_disabled(engine.db, "ann", True, now=clock.now())
    with pytest.raises(jobs.SubmitError, match="ann is disabled, so nothing was changed"):
        jobs.resubmit(engine, "ann", anns)  # the library's own check comes first
    assert engine.db.scalar("SELECT count(*) FROM jobs") == 1
    assert jobs.submit(engine, "root", spec)  # admins and members still can
    assert jobs.submit(engine, "bob", spec)
