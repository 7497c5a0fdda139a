"""Sign-in for the dashboard: our users table judges, streamlit-authenticator keeps the cookie.

``current_user`` resolves who is behind a run; the first match wins:

1. This session's sign-in, ``st.session_state["_auth_session"]`` (username, issue time, how),
   re-checked against the users table on every run: disabled, deleted or revoked ends it.
   (Tests under AppTest, which has no cookies, place this record: ``tests.helpers.sign_in``.)
2. Streamlit's own OIDC sign-in (``st.user``) when secrets have an ``[auth]`` section. The first
   sign-in creates the user row, its role mapped from the e-mail (PROMPTBOARD_OIDC_*).
3. streamlit-authenticator's re-login cookie, read once per browser session. It is an HS256 JWT
   of ``{username, exp_date}`` only, so its issue time is ``exp_date - COOKIE_EXPIRY_DAYS``;
   ``auth.session_valid`` refuses it after a sign-out, a new password or a disable.

Passwords never reach the library. Its ``login()`` judges passwords itself (a lockout that is
permanent and lives in memory), sleeps 0.7 s on every signed-out run and accepts any unexpired
cookie, so our own form calls ``auth.authenticate`` and we drive the library's cookie controller
directly. Writing or deleting the cookie renders a hidden component, which a following
``st.rerun()`` would drop, so sign-in and sign-out leave a pending action that the next run
performs from app.py (``current_user(frame=True)``); a write is drawn again on each run until
the browser confirms it. ``Authenticate`` (whose CookieManager mounts with the fixed key
"init") is built only when a cookie check or action is pending, at most once per run.

Never give a widget one of this module's ``_auth_*`` keys: widget values are client-controlled.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import jwt
import streamlit as st
import streamlit_authenticator as stauth

from lib import audit
from lib.auth import accounts as auth
from lib.auth import lockout
from lib.auth import oidc as auth_oidc
from lib.auth.accounts import User
from lib.auth.bootstrap import bootstrap_admin_from_env
from lib.auth.cookies import COOKIE_EXPIRY_DAYS, COOKIE_NAME, cookie_key
from lib.auth.cookies import issued_at as cookie_issued_at
from lib.core.context import Services
from lib.core.text import plain

log = logging.getLogger(__name__)

SESSION_KEY = "_auth_session"  # {"username", "issued_at" (ISO, naive UTC), "via", "sid"}
_COOKIE_ACTION = "_auth_cookie_action"  # "set" | "delete", done by the next run
_COOKIE_TRIES = "_auth_cookie_tries"  # runs that have rendered a pending "set" so far
_SET_KEY = "set"  # CookieManager.set's component key: True once the browser stored the cookie
_MAX_COOKIE_TRIES = 6
_COOKIE_CHECKED = "_auth_cookie_checked"  # the request's cookies don't change within a session
_NOTICE = "_auth_notice"  # why an identity-provider sign-in was refused
_FAILURES = "_auth_failures"  # failed password sign-ins in this browser session


def _mirror(user: User | None) -> None:
    """Keep the keys pages (``user``, ``username``) and the library read in step with ours."""
    ss = st.session_state
    ss["user"] = user  # refreshed from the users table by every current_user() that finds one
    ss["username"] = user.username if user else None
    ss["name"] = user.name if user else None
    ss["email"] = user.email if user else None
    ss["roles"] = [user.role] if user else None
    ss["authentication_status"] = True if user else None


def session_record(username: str, issued: datetime, via: str = "password") -> dict[str, str]:
    """What a signed-in browser session keeps server-side under ``SESSION_KEY``: who, since
    when (checked against the account's sign-out-everywhere time on every run), how, and a
    random id the audit log names it by (``session:<sid>``)."""
    return {"username": username, "issued_at": issued.isoformat(), "via": via,
            "sid": secrets.token_hex(8)}


def _actor(user: User | None) -> audit.Actor | None:
    """This session's user as the audit log names them (and who acts in this run)."""
    sess = st.session_state.get(SESSION_KEY) or {}
    if user is None or sess.get("username") != user.username:
        return None
    return audit.Actor(user.username, f"session:{sess.get('sid') or 'unnamed'}")


def start_session(eng: Services, user: User, *, via: str = "password",
                  issued_at: datetime | None = None, record: bool = False) -> None:
    """Sign this user in for this browser session; a password sign-in sets the cookie next run.

    ``record`` stamps the account's last sign-in (a password check stamps it itself)."""
    issued = issued_at or eng.clock.now()
    if record:
        lockout.record_sign_in(eng.db, user.username, issued)
    st.session_state[SESSION_KEY] = session_record(user.username, issued, via)
    audit.set_actor(_actor(user))  # this run's actor from now on: the new session
    audit.record_now(eng.db, audit.Action.SIGN_IN, user.username, {"how": via},
                     at=eng.clock.now())
    if via == "password":
        st.session_state[_COOKIE_ACTION] = "set"
        st.session_state[_COOKIE_TRIES] = 0
        st.session_state.pop(_SET_KEY, None)  # a True from an earlier sign-in confirms nothing
    st.session_state.pop(_NOTICE, None)
    _mirror(user)


def _end_session() -> dict[str, Any]:
    """Forget this session's sign-in; return what it was."""
    _mirror(None)
    return st.session_state.pop(SESSION_KEY, None) or {}


def _session_user(eng: Services) -> User | None:
    sess = st.session_state.get(SESSION_KEY)
    if not sess:
        return None
    issued = datetime.fromisoformat(sess["issued_at"])
    if auth.session_valid(eng.db, sess["username"], issued):
        user = auth.get_user(eng.db, sess["username"])
        _mirror(user)  # a role changed by an admin shows at once
        return user
    log.info("session of %s ended: signed out elsewhere, disabled or deleted", sess["username"])
    _end_session()
    if sess.get("via") == "oidc":
        st.logout()  # else Streamlit's identity cookie would sign them straight back in
    else:
        st.session_state[_COOKIE_ACTION] = "delete"
    return None


def oidc_providers() -> list[str | None] | None:
    """Identity providers configured under ``[auth]`` in secrets (None = the default one)."""
    try:
        section = st.secrets["auth"]
    except (FileNotFoundError, KeyError):  # no secrets file, or no [auth]: both normal
        return None
    named: list[str | None] = [k for k, v in section.items() if isinstance(v, Mapping)]
    return named or [None]


def oidc_mapping() -> auth_oidc.RoleMapping:
    """PROMPTBOARD_OIDC_ADMINS / _ANALYSTS / _DOMAINS: comma-separated e-mails or @domains."""
    def entries(name: str) -> tuple[str, ...]:
        return tuple(e.strip().lower() for e in os.environ.get(name, "").split(",") if e.strip())

    domains = tuple(d if d.startswith("@") else f"@{d}"
                    for d in entries("PROMPTBOARD_OIDC_DOMAINS"))
    return auth_oidc.RoleMapping(entries("PROMPTBOARD_OIDC_ADMINS"),
                                 entries("PROMPTBOARD_OIDC_ANALYSTS"), domains)


def _oidc_user(eng: Services) -> User | None:
    if oidc_providers() is None or not st.user.get("is_logged_in"):
        return None
    email = str(st.user.get("email") or "").strip().lower()
    mapping = oidc_mapping()
    user = auth.get_user_by_email(eng.db, email) if email else None
    refusal = auth_oidc.refusal(email, st.user.get("email_verified"), user, mapping)
    if refusal is None and user is None:
        if (role := auth_oidc.role_for_email(email, mapping)) is None:  # refusal() checked it
            refusal = auth_oidc.NOT_CONFIGURED_MESSAGE
        else:
            user = auth.create_external_user(eng.db, email, str(st.user.get("name") or ""),
                                             role, now=eng.clock.now())
    if user is not None and user.disabled:
        refusal = "This account is disabled: ask an admin."
    if refusal or user is None:
        st.session_state[_NOTICE] = refusal
        return None
    start_session(eng, user, via="oidc", record=True)
    return user


def _authenticator(eng: Services) -> stauth.Authenticate:
    """The library object; its cookie key is ours and its credentials are hashes only."""
    try:
        key = cookie_key(eng.settings)
    except auth.AuthError as exc:
        st.error(plain(exc), icon=":material/key:")
        st.stop()
    return stauth.Authenticate(auth.credentials(eng.db), cookie_name=COOKIE_NAME,
                               cookie_key=key, cookie_expiry_days=COOKIE_EXPIRY_DAYS,
                               auto_hash=False)


def _cookie_user(eng: Services, authenticator: stauth.Authenticate) -> User | None:
    try:
        token = authenticator.cookie_controller.get_cookie()  # checks the signature and expiry
    except jwt.PyJWTError:  # the library lets some forgeries through as exceptions ("alg": "none")
        token = {}
    if token is None:
        return None
    try:
        username, issued = str(token["username"]), cookie_issued_at(float(token["exp_date"]))
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        username, issued = "", None
    user = None
    if issued is not None and auth.session_valid(eng.db, username, issued):
        user = auth.get_user(eng.db, username)
    if user is None or issued is None:
        log.info("refused a re-login cookie (revoked, disabled, deleted or malformed)")
        st.session_state[_COOKIE_ACTION] = "delete"
        return None
    start_session(eng, user, via="cookie", issued_at=issued)
    return user


def current_user(eng: Services, *, frame: bool = False) -> User | None:
    """The signed-in user for this run, or None. Cheap to call again in the same run.

    ``frame``: this is app.py's call, the first of every run; only it writes or deletes the
    re-login cookie (a component, which must be drawn once a run at most)."""
    user = _session_user(eng) or _oidc_user(eng)
    audit.set_actor(_actor(user))  # who acts in this run (lib/audit), on every run and rerun
    authenticator = None
    if user is None and not st.session_state.get(_COOKIE_CHECKED):
        st.session_state[_COOKIE_CHECKED] = True
        authenticator = _authenticator(eng)
        user = _cookie_user(eng, authenticator)
    action = st.session_state.pop(_COOKIE_ACTION, None) if frame else None
    if action == "set" and st.session_state.get(_SET_KEY) is True:
        st.session_state.pop(_COOKIE_TRIES, None)  # stored: draw nothing more
        action = None
    if action == "delete" or (action == "set" and user is not None):
        controller = (authenticator or _authenticator(eng)).cookie_controller
        if action == "set":
            controller.set_cookie()  # signs st.session_state["username"], set by _mirror
            _keep_setting_until_stored()
        else:
            controller.delete_cookie()
    return user


def _keep_setting_until_stored() -> None:
    """Render the cookie write again next run until its component reports it done.

    The write is a component that stores the cookie once its iframe has loaded. The library's
    cookie reader, a second component in the same run, makes Streamlit rerun as soon as it
    reports; if that rerun no longer drew the write, its iframe went before it stored
    anything, and the next visit asked for the password again (seen now and then in the
    browser tests). So the write is drawn on each run until it says True, a few runs at most;
    the run that sees the True draws neither component (``current_user``), else the last one
    would stay on the page with nothing left to rerun it away.
    """
    tries = int(st.session_state.get(_COOKIE_TRIES, 0)) + 1
    if tries < _MAX_COOKIE_TRIES:
        st.session_state[_COOKIE_TRIES] = tries
        st.session_state[_COOKIE_ACTION] = "set"
    else:
        st.session_state.pop(_COOKIE_TRIES, None)
        log.warning("the browser did not confirm the re-login cookie after %d runs", tries)


def needs_setup(eng: Services) -> bool:
    """True while there is no account: create PROMPTBOARD_ADMIN_USER first if it is set."""
    try:
        bootstrap_admin_from_env(eng.db, eng.clock.now())
    except auth.AuthError as exc:
        st.error(plain(exc), icon=":material/error:")
        st.stop()
    return auth.needs_first_admin(eng.db)


def sign_in(eng: Services) -> User:
    """The signed-in user; otherwise draw the sign-in screen and stop this run."""
    user = current_user(eng)
    if user is not None:
        return user
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        _sign_in_screen(eng)
    st.stop()


def _sign_in_screen(eng: Services) -> None:
    st.title("Sign in")
    st.write("Promptboard keeps your team's generated images and what they cost.")
    if notice := st.session_state.get(_NOTICE):
        st.error(plain(notice), icon=":material/block:")  # may quote the e-mail address
        if st.button("Use another account", key="auth_oidc_switch"):
            st.logout()
    providers = oidc_providers() or []
    for provider in providers:
        label = ("Sign in with your identity provider" if provider is None or len(providers) == 1
                 else f"Sign in with {provider}")
        if st.button(label, key=f"auth_oidc_{provider or 'default'}", type="primary",
                     icon=":material/badge:"):
            st.login(provider)
    if providers:
        st.caption("Or with a Promptboard password:")
    with st.form("auth_login", border=True, clear_on_submit=True):
        username = st.text_input("Username", key="auth_login_username", autocomplete="username")
        password = st.text_input("Password", key="auth_login_password", type="password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
    if not submitted:
        return
    if not username.strip() or not password:
        st.error("Enter your username and password.")
        return
    user = auth.authenticate(eng.db, username, password, eng.clock.now())
    if user is None:
        with audit.acting(audit.ANONYMOUS):  # the name typed, never the password
            audit.record_now(eng.db, audit.Action.SIGN_IN_FAILED,
                             auth.normalize_username(username), at=eng.clock.now())
        failures = int(st.session_state.get(_FAILURES, 0)) + 1
        st.session_state[_FAILURES] = failures
        st.error(lockout.login_failed_message(failures), icon=":material/lock:")
        return
    st.session_state.pop(_FAILURES, None)
    start_session(eng, user)
    st.rerun()


def sign_out(eng: Services, user: User) -> None:
    """End this session and every other one of this user, drop the cookie, then rerun."""
    auth.revoke_sessions(eng.db, user.username, eng.clock.now())
    if _end_session().get("via") == "oidc":
        st.logout()  # clears Streamlit's identity cookie too
    st.session_state[_COOKIE_ACTION] = "delete"
    st.rerun()


def account_menu(eng: Services, user: User) -> None:
    """Who is signed in, and the sign-out button (for the sidebar)."""
    st.caption(f"Signed in as {plain(user.name)} · {user.role}")  # a name, never formatted
    if st.button("Sign out", key="auth_sign_out", icon=":material/logout:"):
        sign_out(eng, user)


def session_issued_at() -> datetime | None:
    """When this browser session signed in (naive UTC), or None (no sign-in record)."""
    sess = st.session_state.get(SESSION_KEY) or {}
    return datetime.fromisoformat(sess["issued_at"]) if sess.get("issued_at") else None
