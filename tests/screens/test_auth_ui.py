"""Sign-in, sign-out, the re-login cookie and the setup page under Streamlit's AppTest."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import jwt
import pytest
import streamlit as st
import streamlit.runtime.context as st_context
from streamlit.testing.v1 import AppTest

from lib import ui
from lib.auth import accounts as auth
from lib.auth import oidc as auth_oidc
from lib.auth.cookies import cookie_key
from lib.core.clock import utcnow
from lib.core.text import plain
from lib.engine import Engine
from lib.ui import signin as auth_ui
from tests.helpers import TEST_PASSWORD as PASSWORD
from tests.helpers import sign_in

SETUP_PAGE = str(Path(__file__).resolve().parents[2] / "screens" / "setup.py")


def _login_app() -> None:
    """A page behind sign_in, with the account menu; current_user twice, as pages will."""
    import streamlit as st

    from lib import ui
    from lib.ui import signin as auth_ui

    eng = ui.engine()
    auth_ui.current_user(eng, frame=True)  # as app.py does first: the cookie's actions
    user = auth_ui.sign_in(eng)
    assert auth_ui.current_user(eng) == user  # no second Authenticate (DuplicateWidgetID)
    st.markdown(f"signed in as {user.username} ({user.role})")
    with st.sidebar:
        auth_ui.account_menu(eng, user)


@pytest.fixture(autouse=True)
def _fresh_engine(monkeypatch: pytest.MonkeyPatch, fast_bcrypt: None) -> Iterator[None]:
    """Each test gets an engine on its own data dir and quick bcrypt."""
    st.cache_resource.clear()
    for name in ("PROMPTBOARD_COOKIE_KEY", "PROMPTBOARD_OIDC_ADMINS",
                 "PROMPTBOARD_OIDC_ANALYSTS", "PROMPTBOARD_OIDC_DOMAINS"):
        monkeypatch.delenv(name, raising=False)
    yield
    st.cache_resource.clear()


@pytest.fixture
def eng() -> Engine:
    engine = ui.engine()
    return engine


@pytest.fixture
def alice(eng: Engine) -> auth.User:
    auth.create_user(eng.db, "root", "Root", None, "admin", PASSWORD, now=eng.clock.now())
    return auth.create_user(eng.db, "alice", "Alice", None, "member", PASSWORD,
                            now=eng.clock.now())


def _app() -> AppTest:
    return AppTest.from_function(_login_app, default_timeout=30)


def _sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="auth_login_username").input(username)
    at.text_input(key="auth_login_password").input(password)
    next(b for b in at.button if b.label == "Sign in").click()
    return at.run()


def _signed_in_as(at: AppTest) -> str | None:
    texts = [m.value for m in at.markdown if m.value.startswith("signed in as ")]
    return texts[0].removeprefix("signed in as ") if texts else None


def _component_keys(at: AppTest) -> list[str | None]:
    """Keys of the hidden cookie components rendered in the last run ("init", "set", "delete")."""
    return [e.key for e in at.get("component_instance")]


def _send_cookie(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    """Make st.context.cookies carry our cookie, as the browser's first request would."""
    client = SimpleNamespace(cookies={auth_ui.COOKIE_NAME: token})
    monkeypatch.setattr(st_context, "_get_client_context", lambda: client)


def _token(eng: Engine, username: str, issued: datetime, key: str | None = None) -> str:
    """A cookie exactly as streamlit-authenticator's CookieModel makes it (local naive time)."""
    exp = (issued + timedelta(days=auth_ui.COOKIE_EXPIRY_DAYS)).timestamp()
    return jwt.encode({"username": username, "exp_date": exp},
                      key or cookie_key(eng.settings), algorithm="HS256")


def test_the_sign_in_form_renders(alice: auth.User) -> None:
    at = _app().run()
    assert not at.exception
    assert at.title[0].value == "Sign in"
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert _signed_in_as(at) is None
    assert "init" in _component_keys(at)  # the one cookie check of this session


@pytest.mark.parametrize(("username", "password"), [
    ("alice", "not the password"),
    ("nobody", PASSWORD),
])
def test_a_wrong_password_or_unknown_user_shows_the_one_generic_message(
    alice: auth.User, username: str, password: str
) -> None:
    at = _sign_in(_app().run(), username, password)
    assert not at.exception
    assert [e.value for e in at.error] == [auth.LOGIN_FAILED_MESSAGE]
    assert "lock" not in auth.LOGIN_FAILED_MESSAGE  # one slip is not a lock-out
    assert _signed_in_as(at) is None and "_auth_session" not in at.session_state


def test_the_right_password_signs_in_and_sets_the_cookie(alice: auth.User) -> None:
    at = _sign_in(_app().run(), "Alice", PASSWORD)
    assert not at.exception
    assert _signed_in_as(at) == "alice (member)"
    assert at.session_state["username"] == "alice" and at.session_state["user"].role == "member"
    assert at.session_state["_auth_session"]["via"] == "password"
    assert "set" in _component_keys(at)
    at.run()  # the browser has not said it stored the cookie yet: the write is drawn again
    assert _signed_in_as(at) == "alice (member)" and _component_keys(at).count("set") == 1
    at.session_state["set"] = True  # the component's answer once the browser has stored it
    at.run()
    # That very run draws neither the write nor the reader: nothing would rerun to remove
    # them, and a browser test waiting for the page to settle waited forever (CI, session 4).
    assert _signed_in_as(at) == "alice (member)"
    assert not {"set", "init"} & set(_component_keys(at))
    at.run()
    assert not {"set", "init"} & set(_component_keys(at))


def test_an_unconfirmed_cookie_write_is_retried_a_few_runs_then_given_up(
        alice: auth.User, caplog: pytest.LogCaptureFixture) -> None:
    """A rerun can unmount the write's component before its iframe stores the cookie (the
    reader component's answer triggers one): so it is drawn on each run until confirmed."""
    at = _sign_in(_app().run(), "alice", PASSWORD)
    drawn = 1
    for _ in range(10):
        at.run()
        assert not at.exception
        drawn += "set" in _component_keys(at)
    assert drawn == auth_ui._MAX_COOKIE_TRIES
    assert "did not confirm the re-login cookie" in caplog.text


def test_a_locked_account_gets_the_same_message_even_with_the_right_password(
    alice: auth.User,
) -> None:
    at = _app().run()
    for _ in range(auth.MAX_FAILED_LOGINS):
        at = _sign_in(at, "alice", "not the password")
    at = _sign_in(at, "alice", PASSWORD)
    assert [e.value for e in at.error] == [auth.LOGIN_LOCKED_MESSAGE]
    assert _signed_in_as(at) is None


def test_the_first_wrong_password_does_not_talk_of_a_lock_and_the_fifth_explains_it(
    alice: auth.User,
) -> None:
    at = _sign_in(_app().run(), "alice", "not the password")
    assert [e.value for e in at.error] == [auth.LOGIN_FAILED_MESSAGE]
    assert "lock" not in auth.LOGIN_FAILED_MESSAGE
    for _ in range(auth.MAX_FAILED_LOGINS - 1):
        at = _sign_in(at, "nobody", "not the password")  # an unknown name counts the same
    assert [e.value for e in at.error] == [auth.LOGIN_LOCKED_MESSAGE]


def test_empty_fields_ask_for_both(alice: auth.User) -> None:
    at = _sign_in(_app().run(), "", "")
    assert [e.value for e in at.error] == ["Enter your username and password."]


def test_a_session_record_signs_in_until_its_account_signs_out_everywhere(
    eng: Engine, alice: auth.User
) -> None:
    at = sign_in(_app(), "alice").run()
    assert not at.exception and _signed_in_as(at) == "alice (member)"
    auth.revoke_sessions(eng.db, "alice", eng.clock.now())
    at.run()
    assert _signed_in_as(at) is None and at.title[0].value == "Sign in"
    assert "_auth_session" not in at.session_state  # ended, not just skipped


def test_sign_out_ends_the_session_revokes_it_and_deletes_the_cookie(
    eng: Engine, alice: auth.User, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _sign_in(_app().run(), "alice", PASSWORD)
    cookie = _token(eng, "alice", datetime.now())  # the cookie this sign-in set
    at.button(key="auth_sign_out").click().run()
    assert not at.exception
    assert at.title[0].value == "Sign in" and _signed_in_as(at) is None
    assert "delete" in _component_keys(at)
    assert eng.db.scalar("SELECT sessions_valid_after FROM users WHERE username = 'alice'")
    _send_cookie(monkeypatch, cookie)  # a refresh that still sends the old cookie
    fresh = _app().run()
    assert _signed_in_as(fresh) is None and "delete" in _component_keys(fresh)


def test_a_valid_cookie_signs_in_a_new_session(
    eng: Engine, alice: auth.User, monkeypatch: pytest.MonkeyPatch
) -> None:
    _send_cookie(monkeypatch, _token(eng, "alice", datetime.now()))
    at = _app().run()
    assert not at.exception
    assert _signed_in_as(at) == "alice (member)"
    assert at.session_state["_auth_session"]["via"] == "cookie"


@pytest.mark.parametrize("what", ["revoked", "disabled", "deleted", "forged", "expired"])
def test_a_cookie_that_no_longer_counts_is_refused_and_deleted(
    eng: Engine, alice: auth.User, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    issued, key = datetime.now() - timedelta(minutes=5), None
    if what == "revoked":
        auth.revoke_sessions(eng.db, "alice", eng.clock.now())
    elif what == "disabled":
        auth.set_disabled(eng.db, "alice", True, now=eng.clock.now())
    elif what == "deleted":
        with eng.db.write() as cur:
            cur.execute("DELETE FROM users WHERE username = 'alice'")
    elif what == "forged":
        key = "f" * 64
    else:
        issued -= timedelta(days=auth_ui.COOKIE_EXPIRY_DAYS + 1)
    _send_cookie(monkeypatch, _token(eng, "alice", issued, key))
    at = _app().run()
    assert not at.exception
    assert _signed_in_as(at) is None and at.title[0].value == "Sign in"
    if what in ("revoked", "disabled", "deleted"):  # signature fine: we refused it ourselves
        assert "delete" in _component_keys(at)


def test_a_user_disabled_while_signed_in_is_signed_out_on_the_next_run(
    eng: Engine, alice: auth.User
) -> None:
    at = _sign_in(_app().run(), "alice", PASSWORD)
    assert _signed_in_as(at) == "alice (member)"
    auth.set_disabled(eng.db, "alice", True, now=eng.clock.now())
    at.run()
    assert _signed_in_as(at) is None and at.session_state["user"] is None


def test_the_cookie_issue_time_is_read_back_from_its_expiry() -> None:
    exp = (datetime.now() + timedelta(days=auth_ui.COOKIE_EXPIRY_DAYS)).timestamp()
    assert abs(auth_ui.cookie_issued_at(exp) - utcnow()) < timedelta(seconds=5)


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="time.tzset is POSIX-only")
def test_the_cookie_issue_time_is_exact_across_a_daylight_saving_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    try:
        with monkeypatch.context() as patch:
            patch.setenv("TZ", "Europe/Berlin")
            time.tzset()
            issued_local = datetime(2026, 3, 25, 12, 0)  # CET; 7 days later it is CEST
            exp = (issued_local + timedelta(days=auth_ui.COOKIE_EXPIRY_DAYS)).timestamp()
            assert auth_ui.cookie_issued_at(exp) == datetime(2026, 3, 25, 11, 0)  # UTC
    finally:
        time.tzset()  # back to the process's own zone


# -- identity provider (OIDC) ---------------------------------------------------------------

AUTH_SECRETS = {"redirect_uri": "http://localhost:8501/oauth2callback",
                "cookie_secret": "c" * 32, "client_id": "promptboard", "client_secret": "s",
                "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}


def _oidc_app(email: str, **claims: object) -> AppTest:
    at = _app()
    at.secrets["auth"] = AUTH_SECRETS
    at.user = {"is_logged_in": True, "email": email, "name": "Bea Boss", **claims}
    return at


def test_the_identity_provider_button_shows_when_auth_is_configured(alice: auth.User) -> None:
    at = _app()
    at.secrets["auth"] = AUTH_SECRETS
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception
    assert "Sign in with your identity provider" in [b.label for b in at.button]


def test_a_first_oidc_sign_in_creates_the_user_with_the_mapped_role(
    eng: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTBOARD_OIDC_ADMINS", "bea@corp.example")
    at = _oidc_app("Bea@corp.example").run()
    assert not at.exception
    assert _signed_in_as(at) == "bea (admin)"
    bea = auth.get_user(eng.db, "bea")
    assert bea is not None and not bea.has_password and bea.name == "Bea Boss"
    at.run()
    assert _signed_in_as(at) == "bea (admin)" and auth.count_users(eng.db) == 1


def test_an_oidc_address_outside_the_allowed_domains_is_refused(
    eng: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTBOARD_OIDC_DOMAINS", "corp.example")
    at = _oidc_app("eve@gmail.com").run()
    assert not at.exception
    assert _signed_in_as(at) is None
    assert any("eve@gmail.com has no access" in e.value for e in at.error)
    assert auth.count_users(eng.db) == 0


# -- the first-run setup page ---------------------------------------------------------------


def _setup(at: AppTest, username: str, password: str, confirm: str) -> AppTest:
    at.text_input(key="setup_username").input(username)
    at.text_input(key="setup_name").input("Root Admin")
    at.text_input(key="setup_password").input(password)
    at.text_input(key="setup_confirm").input(confirm)
    at.button[0].click()
    return at.run()


def test_the_setup_page_creates_the_first_admin_and_signs_them_in(eng: Engine) -> None:
    at = AppTest.from_file(SETUP_PAGE, default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "Create the first admin account"
    at = _setup(at, "root", PASSWORD, PASSWORD)
    assert not at.exception
    root = auth.get_user(eng.db, "root")
    assert root is not None and root.role == "admin" and root.name == "Root Admin"
    assert at.session_state["_auth_session"]["username"] == "root"
    assert any("already set up" in i.value for i in at.info)  # the rerun after creation
    assert root.last_login_at is not None  # Admin → Users said "Last sign-in: never"


@pytest.mark.parametrize(("password", "confirm", "message"), [
    (PASSWORD, PASSWORD + "!", "two passwords are different"),
    ("short", "short", "at least 10 characters"),
])
def test_the_setup_page_explains_what_to_fix(
    eng: Engine, password: str, confirm: str, message: str
) -> None:
    at = _setup(AppTest.from_file(SETUP_PAGE, default_timeout=30).run(), "root", password,
                confirm)
    assert not at.exception
    assert any(message in e.value for e in at.error)
    assert auth.needs_first_admin(eng.db) and "_auth_session" not in at.session_state


def test_oidc_with_no_allowed_domain_refuses_with_a_message_for_the_user_and_the_admin(
    eng: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    at = _oidc_app("anyone@gmail.com", email_verified=True).run()
    assert not at.exception
    assert _signed_in_as(at) is None and auth.count_users(eng.db) == 0
    assert [e.value for e in at.error] == [plain(auth_oidc.NOT_CONFIGURED_MESSAGE)]  # as drawn
    assert "PROMPTBOARD_OIDC_DOMAINS" in caplog.text


@pytest.mark.parametrize("claims", [{}, {"email_verified": False}])
def test_oidc_without_a_verified_email_does_not_take_over_a_password_account(
    eng: Engine, monkeypatch: pytest.MonkeyPatch, claims: dict[str, object]
) -> None:
    auth.create_user(eng.db, "root", "Root", "root@corp.example", "admin", PASSWORD,
                     now=eng.clock.now())
    monkeypatch.setenv("PROMPTBOARD_OIDC_DOMAINS", "corp.example")
    at = _oidc_app("root@corp.example", **claims).run()
    assert not at.exception
    assert _signed_in_as(at) is None
    assert any("verified" in e.value for e in at.error)


def test_oidc_with_a_verified_email_signs_in_to_the_existing_account(
    eng: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth.create_user(eng.db, "root", "Root", "root@corp.example", "admin", PASSWORD,
                     now=eng.clock.now())
    monkeypatch.setenv("PROMPTBOARD_OIDC_DOMAINS", "corp.example")
    at = _oidc_app("root@corp.example", email_verified=True).run()
    assert not at.exception
    assert _signed_in_as(at) == "root (admin)" and auth.count_users(eng.db) == 1
    root = auth.get_user(eng.db, "root")
    assert root is not None and root.last_login_at is not None  # an OIDC sign-in counts too
