"""Users, passwords, lockout, sessions, the cookie key and roles: lib.auth without Streamlit."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable
from datetime import datetime, timedelta

import bcrypt
import pytest

from lib.auth import accounts as auth
from lib.auth import oidc as auth_oidc
from lib.auth.accounts import User
from lib.auth.bootstrap import bootstrap_admin_from_env
from lib.auth.cookies import cookie_key
from lib.core import config
from lib.core.clock import FakeClock
from lib.db.database import Database
from tests.helpers import TEST_PASSWORD as PASSWORD

pytestmark = pytest.mark.usefixtures("fast_bcrypt")  # one test checks the real cost


@pytest.fixture
def alice(db: Database, clock: FakeClock) -> User:
    return auth.create_user(db, "alice", "Alice", "alice@example.com", "member", PASSWORD,
                            now=clock.now())


@pytest.fixture
def checkpw_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Spy on bcrypt.checkpw: the hashes it was asked to check."""
    calls: list[bytes] = []
    real: Callable[[bytes, bytes], bool] = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda pw, h: calls.append(h) or real(pw, h))
    return calls


def test_password_is_stored_as_a_cost_12_bcrypt_hash_and_never_in_plaintext(
    db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(auth, "BCRYPT_ROUNDS", 12)
    caplog.set_level(logging.DEBUG)
    auth.create_user(db, "alice", "Alice", None, "member", PASSWORD, now=clock.now())
    row = db.dicts("SELECT * FROM users")[0]
    assert row["password_hash"].startswith("$2b$12$")
    assert bcrypt.checkpw(PASSWORD.encode(), row["password_hash"].encode())
    assert PASSWORD not in repr(row) and PASSWORD not in caplog.text
    assert PASSWORD not in repr(auth.get_user(db, "alice"))
    assert PASSWORD not in repr(auth.credentials(db))


def test_created_user_reads_back_with_normalized_username_and_email(
    db: Database, clock: FakeClock
) -> None:
    auth.create_user(db, "  Bob.Smith ", "", " Bob@Example.COM ", "analyst", PASSWORD,
                     now=clock.now())
    bob = auth.get_user(db, "bob.smith")
    assert bob is not None
    assert (bob.username, bob.name, bob.email, bob.role) == (
        "bob.smith", "bob.smith", "bob@example.com", "analyst")
    assert not bob.disabled and bob.has_password and bob.created_at == clock.now()
    assert auth.get_user_by_email(db, "BOB@example.com") == bob
    assert auth.count_users(db) == 1 and not auth.needs_first_admin(db)


@pytest.mark.parametrize(("username", "role", "password", "email", "message"), [
        ("ab", "member", PASSWORD, None, "3–32 characters"),
        ("a" * 33, "member", PASSWORD, None, "3–32 characters"),
        ("al ice", "member", PASSWORD, None, "3–32 characters"),
        ("al@ice", "member", PASSWORD, None, "3–32 characters"),
        ("alice", "owner", PASSWORD, None, "Unknown role 'owner'"),
        ("alice", "member", "short", None, "at least 10 characters"),
        ("alice12345", "member", "Alice12345", None, "can't be the username"),
        ("alice", "member", "x" * 73, None, "at most 72 bytes"),
        ("alice", "member", "é" * 40, None, "at most 72 bytes"),
        ("alice", "member", PASSWORD, "not-an-email", "doesn't look like an e-mail"),
])
def test_invalid_users_are_refused_with_a_clear_message(
    db: Database, clock: FakeClock, username: str, role: str, password: str,
    email: str | None, message: str,
) -> None:
    with pytest.raises(auth.AuthError, match=message):
        auth.create_user(db, username, "Alice", email, role, password, now=clock.now())
    assert auth.count_users(db) == 0


def test_a_taken_username_and_a_late_first_admin_are_refused(
    db: Database, clock: FakeClock, alice: User
) -> None:
    with pytest.raises(auth.AuthError, match="'alice' is taken"):
        auth.create_user(db, "ALICE", "Other", None, "admin", PASSWORD, now=clock.now())
    assert auth.get_user(db, "alice") == alice
    with pytest.raises(auth.AuthError, match="already has an account"):
        auth.create_user(db, "mallory", "M", None, "admin", PASSWORD, now=clock.now(),
                         only_if_empty=True)
    assert auth.get_user(db, "mallory") is None


def test_identity_provider_users_get_a_free_username_and_no_password(
    db: Database, clock: FakeClock, alice: User
) -> None:
    first = auth.create_external_user(db, "Alice@corp.example", "Alice C", "analyst",
                                      now=clock.now())
    second = auth.create_external_user(db, "alice@other.example", "", "member", now=clock.now())
    assert (first.username, first.role, first.has_password) == ("alice-2", "analyst", False)
    assert second.username == "alice-3"
    assert "alice-2" not in auth.credentials(db)["usernames"]


def test_credentials_for_the_library_hold_hashes_of_enabled_users_only(
    db: Database, clock: FakeClock, alice: User
) -> None:
    auth.create_user(db, "root", "Root", None, "admin", PASSWORD, now=clock.now())
    auth.create_user(db, "carol", "Carol", None, "member", PASSWORD, now=clock.now())
    auth.set_disabled(db, "carol", True, now=clock.now())
    creds = auth.credentials(db)["usernames"]
    assert sorted(creds) == ["alice", "root"]
    assert creds["alice"]["roles"] == ["member"]
    assert all(c["password"].startswith("$2b$") for c in creds.values())


def test_the_right_password_signs_in_and_records_the_time(
    db: Database, clock: FakeClock, alice: User
) -> None:
    user = auth.authenticate(db, " Alice ", PASSWORD, clock.now())
    assert user is not None and user.username == "alice"
    assert user.last_login_at == clock.now()
    assert auth.authenticate(db, "alice", PASSWORD + "x", clock.now()) is None


def _fail(db: Database, clock: FakeClock, times: int = auth.MAX_FAILED_LOGINS) -> None:
    for _ in range(times):
        assert auth.authenticate(db, "alice", "wrong password!", clock.now()) is None


def test_five_failures_lock_even_the_right_password_until_the_cool_down_ends(
    db: Database, clock: FakeClock, alice: User
) -> None:
    _fail(db, clock)
    locked = auth.get_user(db, "alice")
    assert locked is not None and locked.is_locked(clock.now())
    assert auth.authenticate(db, "alice", PASSWORD, clock.now()) is None
    clock.advance(60)
    _fail(db, clock, 1)  # attempts during the lock don't extend it
    clock.advance(auth.LOCKOUT.total_seconds() - 61)
    assert auth.authenticate(db, "alice", PASSWORD, clock.now()) is None
    clock.advance(1)
    _fail(db, clock, auth.MAX_FAILED_LOGINS - 1)  # after the cool-down the count starts over
    assert auth.authenticate(db, "alice", PASSWORD, clock.now()) is not None
    after = auth.get_user(db, "alice")
    assert after is not None and after.failed_logins == 0 and after.locked_until is None


def test_a_success_resets_the_failure_count(db: Database, clock: FakeClock, alice: User) -> None:
    _fail(db, clock, auth.MAX_FAILED_LOGINS - 1)
    assert auth.authenticate(db, "alice", PASSWORD, clock.now()) is not None
    _fail(db, clock, auth.MAX_FAILED_LOGINS - 1)
    assert auth.authenticate(db, "alice", PASSWORD, clock.now()) is not None


def test_unknown_and_disabled_users_fail_alike_and_both_pay_for_bcrypt(
    db: Database, clock: FakeClock, alice: User, checkpw_calls: list[bytes]
) -> None:
    auth.create_user(db, "root", "Root", None, "admin", PASSWORD, now=clock.now())
    auth.set_disabled(db, "alice", True, now=clock.now())
    unknown = auth.authenticate(db, "nobody", PASSWORD, clock.now())
    disabled = auth.authenticate(db, "alice", PASSWORD, clock.now())
    assert unknown is None and disabled is None
    assert len(checkpw_calls) == 2
    assert all(h.startswith(b"$2b$12$") for h in checkpw_calls)  # the dummy hash, real cost


def test_a_password_longer_than_bcrypt_reads_fails_without_raising(
    db: Database, clock: FakeClock, alice: User, checkpw_calls: list[bytes]
) -> None:
    assert auth.authenticate(db, "alice", PASSWORD + "x" * 100, clock.now()) is None
    assert auth.authenticate(db, "nobody", "y" * 200, clock.now()) is None
    assert len(checkpw_calls) == 2


def test_a_new_password_works_and_clears_the_lock(
    db: Database, clock: FakeClock, alice: User
) -> None:
    _fail(db, clock)
    auth.set_password(db, "alice", "a brand new secret", now=clock.now())
    assert auth.authenticate(db, "alice", PASSWORD, clock.now()) is None
    assert auth.authenticate(db, "alice", "a brand new secret", clock.now()) is not None


def test_the_last_admin_can_be_neither_demoted_nor_disabled(db: Database, clock: FakeClock) -> None:
    auth.create_user(db, "root", "Root", None, "admin", PASSWORD, now=clock.now())
    with pytest.raises(auth.AuthError, match="last admin"):
        auth.set_role(db, "root", "member", now=clock.now())
    with pytest.raises(auth.AuthError, match="last admin"):
        auth.set_disabled(db, "root", True, now=clock.now())
    root = auth.get_user(db, "root")
    assert root is not None and root.role == "admin" and not root.disabled


def test_a_disabled_second_admin_does_not_count_but_an_enabled_one_does(
    db: Database, clock: FakeClock
) -> None:
    auth.create_user(db, "root", "Root", None, "admin", PASSWORD, now=clock.now())
    auth.create_user(db, "deputy", "Deputy", None, "admin", PASSWORD, now=clock.now())
    auth.set_disabled(db, "deputy", True, now=clock.now())
    with pytest.raises(auth.AuthError, match="last admin"):
        auth.set_role(db, "root", "analyst", now=clock.now())
    auth.set_disabled(db, "deputy", False, now=clock.now())
    auth.set_role(db, "root", "analyst", now=clock.now())
    assert auth.get_user(db, "root").role == "analyst"  # type: ignore[union-attr]


def test_changing_an_unknown_user_names_it(db: Database, clock: FakeClock) -> None:
    with pytest.raises(auth.AuthError, match="no user 'ghost'"):
        auth.set_role(db, "ghost", "member", now=clock.now())
    with pytest.raises(auth.AuthError, match="Unknown role"):
        auth.set_role(db, "ghost", "owner", now=clock.now())


def test_bootstrap_creates_the_admin_once(
    db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTBOARD_ADMIN_USER", "Root")
    monkeypatch.setenv("PROMPTBOARD_ADMIN_PASSWORD", PASSWORD)
    created = bootstrap_admin_from_env(db, clock.now())
    assert created is not None and (created.username, created.role) == ("root", "admin")
    monkeypatch.setenv("PROMPTBOARD_ADMIN_PASSWORD", "another password")
    assert bootstrap_admin_from_env(db, clock.now()) is None
    assert auth.count_users(db) == 1
    assert auth.authenticate(db, "root", PASSWORD, clock.now()) is not None


def test_bootstrap_does_nothing_when_users_exist_or_a_variable_is_missing(
    db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTBOARD_ADMIN_USER", "root")
    monkeypatch.delenv("PROMPTBOARD_ADMIN_PASSWORD", raising=False)
    assert bootstrap_admin_from_env(db, clock.now()) is None
    assert auth.needs_first_admin(db)
    auth.create_user(db, "alice", "Alice", None, "member", PASSWORD, now=clock.now())
    monkeypatch.setenv("PROMPTBOARD_ADMIN_PASSWORD", PASSWORD)
    assert bootstrap_admin_from_env(db, clock.now()) is None
    assert auth.get_user(db, "root") is None


def test_bootstrap_with_a_weak_password_names_the_variables(
    db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTBOARD_ADMIN_USER", "root")
    monkeypatch.setenv("PROMPTBOARD_ADMIN_PASSWORD", "short")
    with pytest.raises(auth.AuthError, match="PROMPTBOARD_ADMIN_PASSWORD: .*10 characters"):
        bootstrap_admin_from_env(db, clock.now())
    assert auth.needs_first_admin(db)


def test_cookie_key_is_generated_once_into_a_private_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTBOARD_COOKIE_KEY", raising=False)
    settings = config.load()
    key = cookie_key(settings)
    path = settings.data_dir / "cookie_key"
    assert len(key) >= 60 and path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert cookie_key(settings) == key
    assert [p.name for p in settings.data_dir.iterdir() if "cookie_key" in p.name] == [
        "cookie_key"]  # no temp file left behind


def test_a_key_file_readable_by_others_is_made_private(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTBOARD_COOKIE_KEY", raising=False)
    settings = config.load()
    path = settings.data_dir / "cookie_key"
    path.write_text("k" * 64)
    os.chmod(path, 0o644)
    assert cookie_key(settings) == "k" * 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_unusable_key_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTBOARD_COOKIE_KEY", raising=False)
    settings = config.load()
    (settings.data_dir / "cookie_key").write_text("tiny")
    os.chmod(settings.data_dir / "cookie_key", 0o600)
    with pytest.raises(auth.AuthError, match="delete it"):
        cookie_key(settings)


def test_the_environment_overrides_the_key_file_but_must_be_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMPTBOARD_COOKIE_KEY", "e" * 40)
    settings = config.load()
    assert cookie_key(settings) == "e" * 40
    assert not (settings.data_dir / "cookie_key").exists()
    monkeypatch.setenv("PROMPTBOARD_COOKIE_KEY", "too-short")
    with pytest.raises(auth.AuthError, match="PROMPTBOARD_COOKIE_KEY is too short"):
        cookie_key(settings)


def test_a_session_issued_before_sign_out_is_dead_and_a_later_one_lives(
    db: Database, clock: FakeClock, alice: User
) -> None:
    issued = clock.now()
    assert auth.session_valid(db, "alice", issued)
    clock.advance(60)
    auth.revoke_sessions(db, "alice", clock.now())
    assert not auth.session_valid(db, "alice", issued)
    assert auth.session_valid(db, "alice", clock.now())
    assert auth.session_valid(db, "alice", clock.now() + timedelta(seconds=1))


def test_a_new_password_or_a_disable_ends_sessions_and_unknown_users_have_none(
    db: Database, clock: FakeClock, alice: User
) -> None:
    auth.create_user(db, "root", "Root", None, "admin", PASSWORD, now=clock.now())
    issued = clock.now()
    clock.advance(1)
    auth.set_password(db, "alice", "a brand new secret", now=clock.now())
    assert not auth.session_valid(db, "alice", issued)
    later = clock.now()
    auth.set_disabled(db, "alice", True, now=clock.now())
    assert not auth.session_valid(db, "alice", later + timedelta(hours=1))
    assert not auth.session_valid(db, "ghost", later)


MAPPING = auth_oidc.RoleMapping(admins=("boss@corp.example",), analysts=("@finance.corp.example",),
                                domains=("@corp.example",))
CLOSED = auth_oidc.RoleMapping(admins=("boss@gmail.com",), domains=("@corp.example",))


@pytest.mark.parametrize(("email", "mapping", "role"), [
        ("boss@corp.example", MAPPING, "admin"),
        (" BOSS@corp.example ", MAPPING, "admin"),
        ("ann@finance.corp.example", MAPPING, "analyst"),
        ("ann@corp.example", MAPPING, "member"),
        ("anyone@elsewhere.example", MAPPING, None),
        ("anyone@elsewhere.example", auth_oidc.RoleMapping(), None),  # nothing set: closed
        ("boss@corp.example", auth_oidc.RoleMapping(admins=("boss@corp.example",)), "admin"),
        ("ann@corp.example", auth_oidc.RoleMapping(admins=("boss@corp.example",)), None),
        ("ann@corp.example", CLOSED, "member"),
        ("ann@evilcorp.example", CLOSED, None),
        ("ann@corp.example.evil.test", CLOSED, None),
        ("boss@gmail.com", CLOSED, "admin"),
        ("", MAPPING, None),
        (None, MAPPING, None),
        ("not-an-address", MAPPING, None),
])
def test_role_for_email(email: str | None, mapping: auth_oidc.RoleMapping,
                        role: str | None) -> None:
    assert auth_oidc.role_for_email(email, mapping) == role


def test_oidc_with_nothing_configured_refuses_everyone_and_tells_the_admin_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    for account in (None, _account(has_password=True)):
        why = auth_oidc.refusal("boss@corp.example", True, account, auth_oidc.RoleMapping())
        assert why == auth_oidc.NOT_CONFIGURED_MESSAGE
    assert "set PROMPTBOARD_OIDC_DOMAINS" in caplog.text.replace("Set", "set")


def _account(*, has_password: bool) -> auth.User:
    return auth.User("ann", "Ann", "ann@corp.example", "member", False, datetime(2026, 1, 1),
                     has_password=has_password)


@pytest.mark.parametrize(("verified", "account", "refused"), [
    (True, "password", False),
    (None, "password", True),  # a missing claim doesn't take over a password account
    ("true", "password", True),  # only the boolean counts
    (False, "password", True),
    (False, None, True),
    (None, None, False),  # a new member of an allowed domain (providers that omit the claim)
    (None, "external", False),  # ...who signs in again
    (False, "external", True),
])
def test_oidc_links_to_an_existing_password_account_only_with_a_verified_email(
    verified: object, account: str | None, refused: bool
) -> None:
    existing = None if account is None else _account(has_password=account == "password")
    why = auth_oidc.refusal("ann@corp.example", verified, existing, MAPPING)
    assert (why is not None) == refused
    if refused:
        assert "verified" in str(why)


def test_the_permission_table() -> None:
    assert not auth.can("analyst", "generate") and not auth.can("analyst", "compare")
    assert auth.can("analyst", "analytics") and auth.can("member", "generate")
    assert [p for p in auth.PAGES if auth.can("member", p) or auth.can("analyst", p)] == [
        p for p in auth.PAGES if p != "admin"]
    assert all("admin" in roles for roles in auth.PAGES.values())
    assert not auth.can("admin", "no-such-page") and not auth.can("owner", "home")


def test_allowed_pages_follow_menu_order() -> None:
    assert auth.allowed_pages("admin") == list(auth.PAGES)
    assert auth.allowed_pages("analyst") == ["home", "queue", "gallery", "boards", "analytics",
                                             "account"]
    assert auth.allowed_pages("nobody") == []


def test_require_refuses_wrong_roles_and_nobody(alice: User) -> None:
    assert auth.require(alice, "generate") is alice
    with pytest.raises(auth.PermissionDenied, match=r"Your role \(member\)"):
        auth.require(alice, "admin")
    with pytest.raises(auth.PermissionDenied, match="Sign in"):
        auth.require(None, "home")
