"""Personal API tokens: shown once, kept hashed, acting as their owner, and stopped by every
revoke there is (the token's own, a disable, a new password, a role change, sign-out
everywhere). The HTTP API that reads them comes next (#14); these are the rules it will use."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lib.auth import accounts as auth
from lib.auth import tokens
from lib.auth.accounts import AuthError, PermissionDenied, User
from lib.core.clock import FakeClock
from lib.db.database import Database
from tests.helpers import TEST_PASSWORD

pytestmark = pytest.mark.usefixtures("fast_bcrypt")


@pytest.fixture
def ann(db: Database, clock: FakeClock) -> User:
    return auth.create_user(db, "ann", "Ann", None, "member", TEST_PASSWORD, now=clock.now())


def test_a_token_is_shown_once_kept_only_hashed_and_acts_as_its_owner(
    db: Database, clock: FakeClock, ann: User
) -> None:
    token, secret = tokens.create(db, "ann", "CI pipeline", now=clock.now())
    assert secret.startswith("pb_") and len(secret) == 46 and token.hint == secret[:10]
    assert secret not in repr(db.fetchall("SELECT * FROM api_tokens"))
    found = tokens.authenticate(db, secret, now=clock.now())
    assert found is not None and found[0].username == "ann" and found[1] == "full"
    assert [t.name for t in tokens.list_for(db, "ann")] == ["CI pipeline"]


@pytest.mark.parametrize("secret", ["", "pb_", "pb_" + "A" * 43, "not-a-token", "pb_" + "x" * 200])
def test_anything_but_a_real_token_is_refused_alike(
    db: Database, clock: FakeClock, ann: User, secret: str
) -> None:
    tokens.create(db, "ann", "real", now=clock.now())
    assert tokens.authenticate(db, secret, now=clock.now()) is None


def test_a_read_only_token_says_so(db: Database, clock: FakeClock, ann: User) -> None:
    _, secret = tokens.create(db, "ann", "dashboard export", scope="read", now=clock.now())
    found = tokens.authenticate(db, secret, now=clock.now())
    assert found is not None and found[1] == "read"


def test_the_owner_role_is_read_at_use_not_when_the_token_was_made(
    db: Database, clock: FakeClock, ann: User
) -> None:
    clock.advance(60)
    auth.set_role(db, "ann", "analyst", now=clock.now())  # ends her sessions: token is older
    clock.advance(60)
    _, secret = tokens.create(db, "ann", "after the change", now=clock.now())
    found = tokens.authenticate(db, secret, now=clock.now())
    assert found is not None and found[0].role == "analyst"


@pytest.mark.parametrize("revoke", ["token", "disable", "password", "role"])
def test_every_revoke_stops_the_token_at_once(
    db: Database, clock: FakeClock, ann: User, revoke: str
) -> None:
    token, secret = tokens.create(db, "ann", "laptop", now=clock.now())
    clock.advance(5)
    if revoke == "token":
        tokens.revoke(db, ann, token.id, now=clock.now())
    elif revoke == "disable":
        auth.set_disabled(db, "ann", True, now=clock.now())
    elif revoke == "password":
        auth.set_password(db, "ann", "a brand new passphrase", now=clock.now())
    else:
        auth.set_role(db, "ann", "analyst", now=clock.now())
    assert tokens.authenticate(db, secret, now=clock.now()) is None


def test_signing_out_leaves_tokens_working(db: Database, clock: FakeClock, ann: User) -> None:
    """A sign-out ends every browser session of the user; a script's token goes on."""
    _, secret = tokens.create(db, "ann", "ci", now=clock.now())
    clock.advance(5)
    auth.revoke_sessions(db, "ann", clock.now())
    assert not auth.session_valid(db, "ann", clock.now() - timedelta(seconds=1))
    found = tokens.authenticate(db, secret, now=clock.now())
    assert found is not None and found[0].username == "ann"


def test_only_the_owner_or_an_admin_revokes_and_revoked_tokens_stay_listed(
    db: Database, clock: FakeClock, ann: User
) -> None:
    bob = auth.create_user(db, "bob", "Bob", None, "member", TEST_PASSWORD, now=clock.now())
    root = auth.create_user(db, "root", "Root", None, "admin", TEST_PASSWORD, now=clock.now())
    token, _ = tokens.create(db, "ann", "laptop", now=clock.now())
    with pytest.raises(PermissionDenied, match="No such token of yours"):
        tokens.revoke(db, bob, token.id, now=clock.now())
    with pytest.raises(PermissionDenied):
        tokens.revoke(db, bob, "no-such-id", now=clock.now())
    tokens.revoke(db, root, token.id, now=clock.now())
    tokens.revoke(db, ann, token.id, now=clock.now() + timedelta(hours=1))  # again: no change
    [listed] = tokens.list_for(db, "ann")
    assert listed.revoked_at == clock.now()


@pytest.mark.parametrize(("name", "message"), [
    ("   ", "Give the token a name"), ("x" * 61, "at most 60 characters"),
    ("bad\x00name", "The token name"),
])
def test_a_bad_name_is_refused_and_nothing_is_stored(
    db: Database, clock: FakeClock, ann: User, name: str, message: str
) -> None:
    with pytest.raises(AuthError, match=message):
        tokens.create(db, "ann", name, now=clock.now())
    assert tokens.list_for(db, "ann") == []


def test_no_token_for_a_missing_or_disabled_account_nor_past_the_limit(
    db: Database, clock: FakeClock, ann: User
) -> None:
    with pytest.raises(AuthError, match="no account"):
        tokens.create(db, "ghost", "x", now=clock.now())
    with pytest.raises(AuthError, match="full"):
        tokens.create(db, "ann", "x", scope="admin", now=clock.now())
    for i in range(tokens.MAX_TOKENS_PER_USER):
        tokens.create(db, "ann", f"t{i}", now=clock.now())
    with pytest.raises(AuthError, match="revoke one first"):
        tokens.create(db, "ann", "one too many", now=clock.now())
    auth.set_disabled(db, "ann", True, now=clock.now())
    with pytest.raises(AuthError, match="disabled"):
        tokens.create(db, "ann", "x", now=clock.now())


def test_last_use_is_recorded_at_most_once_a_minute(
    db: Database, clock: FakeClock, ann: User
) -> None:
    token, secret = tokens.create(db, "ann", "cron", now=clock.now())
    first = clock.now()
    tokens.authenticate(db, secret, now=first)
    clock.advance(30)
    tokens.authenticate(db, secret, now=clock.now())
    assert tokens.list_for(db, "ann")[0].last_used_at == first
    clock.advance(31)
    tokens.authenticate(db, secret, now=clock.now())
    assert tokens.list_for(db, "ann")[0].last_used_at == clock.now()


def test_list_all_holds_every_users_tokens_newest_first(
    db: Database, clock: FakeClock, ann: User
) -> None:
    auth.create_user(db, "bob", "Bob", None, "member", TEST_PASSWORD, now=clock.now())
    first, _ = tokens.create(db, "ann", "laptop", now=clock.now())
    clock.advance(5)
    tokens.create(db, "bob", "cron", scope="read", now=clock.now())
    tokens.revoke(db, ann, first.id, now=clock.now())
    listed = tokens.list_all(db)
    assert [(t.username, t.name, t.scope) for t in listed] == [
        ("bob", "cron", "read"), ("ann", "laptop", "full")]
    assert listed[1].revoked_at == clock.now()


@pytest.mark.parametrize(("change", "expected"), [
    (None, "active"), ("token", "revoked"), ("everywhere", "active"), ("disable", "ended"),
    ("password", "ended"),
])
def test_status_says_what_authenticate_would_make_of_the_token(
    db: Database, clock: FakeClock, ann: User, change: str | None, expected: str
) -> None:
    token, secret = tokens.create(db, "ann", "laptop", now=clock.now())
    clock.advance(5)
    if change == "token":
        tokens.revoke(db, ann, token.id, now=clock.now())
    elif change == "everywhere":
        auth.revoke_sessions(db, "ann", clock.now())
    elif change == "disable":
        auth.set_disabled(db, "ann", True, now=clock.now())
    elif change == "password":
        auth.set_password(db, "ann", "a brand new passphrase", now=clock.now())
    [listed] = tokens.list_for(db, "ann")
    assert tokens.status(db, listed) == expected
    assert (tokens.authenticate(db, secret, now=clock.now()) is not None) == (expected == "active")
