"""Users, roles and the sign-in rules. No Streamlit here: the glue is ``lib/ui/signin.py``.

One account's sign-in states::

    open --5th wrong password in a row--> locked --LOCKOUT passes--> open (count starts over)
    open --right password--> open, count reset to 0 (but see "Bursts" below)
    locked --any password, even the right one--> locked (the attempt is not counted)

Bursts: an attempt is counted, and the 5th one sets the lock, in one write transaction *before*
bcrypt runs, so forty guesses sent at once get five judged, not forty (``lib/auth/lockout.py``).

Every failure (unknown, disabled, locked, wrong password) returns None after the same bcrypt
work; the page shows ``LOGIN_FAILED_MESSAGE``. Sessions carry their issue time: a sign-out,
a new password, a disable or a role change stamps ``users.sessions_valid_after`` and
``session_valid`` refuses anything issued before it, so a cookie that outlives its sign-out is
dead on the server. ``require_active`` lets library writes refuse a disabled account too.
Errors, their messages shown as is: ``AuthError(ValueError)`` (fixable input), ``PermissionDenied``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import bcrypt

from lib.audit import Action, record
from lib.auth.access import ROLES
from lib.auth.lockout import (  # noqa: F401 - re-exported: auth.LOCKOUT, auth.LOGIN_FAILED_MESSAGE...
    LOCKOUT,
    LOGIN_FAILED_MESSAGE,
    LOGIN_LOCKED_MESSAGE,
    MAX_FAILED_LOGINS,
    login_failed_message,
    reserve_attempt,
    settle_success,
)
from lib.core.errors import PromptboardError
from lib.core.text import bad_character
from lib.db.database import Cursor, Database, one_row

log = logging.getLogger(__name__)

BCRYPT_ROUNDS = 12
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_BYTES = 72  # bcrypt reads no further, and bcrypt 5 raises beyond it
_USERNAME_RE = re.compile(r"[a-z0-9_.-]{3,32}")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# bcrypt (cost 12) of a random string nobody kept: unknown users cost the same time as real ones.
_DUMMY_HASH = b"$2b$12$vOWPRxXp1eXZskSeSPzQE.rDr7skj5iYSz5YM3qDvGPDwWo6w4IiG"
_COLUMNS = ("username, name, email, role, disabled, created_at, failed_logins, locked_until, "
            "password_hash IS NOT NULL, last_login_at")  # = User's fields, in order

_ALL, _MAKERS = frozenset(ROLES), frozenset({"admin", "member"})
# page id -> roles allowed to open it, in menu order. Deny by default: unknown pages are closed.
PAGES: dict[str, frozenset[str]] = {
    "home": _ALL,
    "generate": _MAKERS,
    "history": _MAKERS,
    "queue": _ALL,  # members and analysts see others' jobs without prompts (the page's business)
    "gallery": _ALL,
    "boards": _ALL,  # analysts look at the boards they may view; they never change one
    "styles": _MAKERS,  # the library; admins curate it on the Admin page
    "analytics": _ALL,  # members see only themselves there
    "compare": _MAKERS,
    "admin": frozenset({"admin"}),
    "account": _ALL,  # who you are, your API tokens
}


class AuthError(PromptboardError, ValueError):
    """Input a person can fix; the message is shown as is."""


class PermissionDenied(PromptboardError):
    """This role may not open that page; the message is shown as is."""


@dataclass(frozen=True)
class User:
    """One account, without its password hash."""

    username: str
    name: str
    email: str | None
    role: str
    disabled: bool
    created_at: datetime
    failed_logins: int = 0
    locked_until: datetime | None = None
    has_password: bool = True
    last_login_at: datetime | None = None

    def is_locked(self, now: datetime) -> bool:
        """True while a lockout is cooling down."""
        return self.locked_until is not None and now < self.locked_until


def can(role: str, page: str) -> bool:
    """May this role open this page?"""
    return role in PAGES.get(page, frozenset())


def allowed_pages(role: str) -> list[str]:
    """Page ids this role may open, in menu order."""
    return [page for page, roles in PAGES.items() if role in roles]


def require(user: User | None, page: str) -> User:
    """Return the user if they may open the page, else raise PermissionDenied."""
    if user is None or user.disabled:
        raise PermissionDenied("Sign in to open this page.")
    if not can(user.role, page):
        raise PermissionDenied(f"Your role ({user.role}) can't open this page.")
    return user


def normalize_username(username: str) -> str:
    """Usernames are compared trimmed and lower-case."""
    return username.strip().lower()


def validate_username(username: str) -> str:
    """The normalized username, or AuthError."""
    name = normalize_username(username)
    if not _USERNAME_RE.fullmatch(name):
        raise AuthError("A username is 3–32 characters: letters a–z, digits, '.', '_' or '-'.")
    return name


def validate_role(role: str) -> str:
    """The role, or AuthError naming the valid ones."""
    if role in ROLES:
        return role
    raise AuthError(f"Unknown role {role!r}: choose one of {', '.join(ROLES)}.")


def validate_password(password: str, username: str) -> None:
    """Raise AuthError unless the password meets the policy."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise AuthError(f"A password can be at most {MAX_PASSWORD_BYTES} bytes long.")
    if password.strip().lower() == normalize_username(username):
        raise AuthError("The password can't be the username.")


def _clean_name(name: str) -> str:
    """A display name without characters we can't store."""
    if why := bad_character(name):
        raise AuthError(f"The name {why}.")
    return name.strip()


def _clean_email(email: str | None) -> str | None:
    value = (email or "").strip().lower()
    if value and not EMAIL_RE.fullmatch(value):
        raise AuthError(f"{email!r} doesn't look like an e-mail address.")
    return value or None


def hash_password(password: str) -> str:
    """A bcrypt hash string (cost BCRYPT_ROUNDS) of a password that passed the policy."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()


def _check(password: str, hashed: bytes) -> bool:
    """bcrypt's verdict; always does the bcrypt work, never raises."""
    raw = password.encode()
    try:
        ok = bcrypt.checkpw(raw[:MAX_PASSWORD_BYTES], hashed)  # bcrypt 5 refuses longer input
    except ValueError:
        log.error("a stored password hash is not a valid bcrypt hash")
        return False
    return ok and len(raw) <= MAX_PASSWORD_BYTES  # a longer one was never a stored password


def _select(db: Database, where: str, params: list[Any]) -> list[User]:
    return [User(*r) for r in db.fetchall(f"SELECT {_COLUMNS} FROM users {where}", params)]


def _accounts(db: Database) -> dict[str, tuple[User, datetime | None, datetime | None]]:
    """Every account, its sessions_valid_after and credentials_changed_at, re-read only after
    the users table changes."""
    return db.cached("auth.accounts", lambda: {
        r[0]: (User(*r[:-2]), r[-2], r[-1])
        for r in db.fetchall(f"SELECT {_COLUMNS}, sessions_valid_after, credentials_changed_at "
                             "FROM users")
    }, ("users",))


def get_user(db: Database, username: str) -> User | None:
    """One user, or None."""
    found = _accounts(db).get(normalize_username(username))
    return found[0] if found else None


def get_user_by_email(db: Database, email: str) -> User | None:
    """The oldest user with this e-mail address, or None."""
    found = _select(db, "WHERE email = ? ORDER BY created_at", [email.strip().lower()])
    return next(iter(found), None)


def list_users(db: Database) -> list[User]:
    """Every user, by username."""
    return _select(db, "ORDER BY username", [])


def count_users(db: Database) -> int:
    """How many accounts exist, disabled ones included."""
    return int(db.scalar("SELECT count(*) FROM users"))


_REAL_USERS = "SELECT count(*) FROM users WHERE NOT disabled OR password_hash IS NOT NULL"


def needs_first_admin(db: Database) -> bool:
    """True on first run: no one can sign in yet (disabled, passwordless demo users don't count)."""
    return not db.cached("auth.real_users", lambda: db.scalar(_REAL_USERS), ("users",))


def credentials(db: Database) -> dict[str, Any]:
    """Enabled password users in streamlit-authenticator's shape: hashes only, never plaintext."""
    rows = db.fetchall("SELECT username, name, email, role, password_hash FROM users "
                       "WHERE NOT disabled AND password_hash IS NOT NULL ORDER BY username")
    return {"usernames": {u: {"first_name": n, "last_name": "", "email": e, "roles": [r],
                              "password": h} for u, n, e, r, h in rows}}


def _insert(db: Database, username: str, name: str, email: str | None, role: str,
            password_hash: str | None, now: datetime, *, only_if_empty: bool) -> User:
    name = _clean_name(name) or username  # both paths: an identity provider's name is untrusted
    with db.write() as cur:
        if only_if_empty and one_row(cur.execute(_REAL_USERS))[0]:
            raise AuthError("Promptboard already has an account: sign in instead.")
        if cur.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
            raise AuthError(f"The username {username!r} is taken.")
        cur.execute("INSERT INTO users (username, name, email, role, password_hash, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)", [username, name, email, role, password_hash, now])
        record(cur, Action.USER_CREATE, username, {"role": role, "can_sign_in": password_hash
                                                   is not None}, at=now)
    log.info("created user %s (%s)", username, role)
    return User(username, name, email, role, False, now, has_password=password_hash is not None)


def create_user(db: Database, username: str, name: str, email: str | None, role: str,
                password: str | None, *, now: datetime, only_if_empty: bool = False) -> User:
    """Validate and add an account; AuthError says what to fix. ``password=None``: an account
    nobody signs in to with a password (the API's ``automation`` admin)."""
    username = validate_username(username)
    validate_role(role)
    if password is not None:
        validate_password(password, username)
    return _insert(db, username, name, _clean_email(email), role,
                   None if password is None else hash_password(password), now,
                   only_if_empty=only_if_empty)


def create_external_user(db: Database, email: str, name: str, role: str, *,
                         now: datetime) -> User:
    """An identity-provider account (no password); the username is derived from the e-mail."""
    if (clean := _clean_email(email)) is None:
        raise AuthError("The identity provider sent no e-mail address.")
    validate_role(role)
    base = re.sub(r"[^a-z0-9_.-]", "-", clean.split("@")[0])[:28].ljust(3, "_")
    taken = {u.username for u in _select(db, "WHERE username LIKE ?", [f"{base}%"])}
    username, i = base, 1
    while username in taken:
        username, i = f"{base}-{i + 1}", i + 1
    return _insert(db, username, name, clean, role, None, now,
                   only_if_empty=False)


def _check_target(cur: Cursor, username: str, *, keep_admin: bool) -> None:
    """AuthError if the user is missing, or (keep_admin) is the last enabled admin."""
    row = cur.execute("SELECT role = 'admin' AND NOT disabled, (SELECT count(*) FROM users "
                      "WHERE role = 'admin' AND NOT disabled AND username <> ?) FROM users "
                      "WHERE username = ?", [username, username]).fetchone()
    if row is None:
        raise AuthError(f"There is no user {username!r}.")
    if keep_admin and row[0] and row[1] == 0:
        raise AuthError(f"{username} is the last admin: make someone else an admin first.")


def set_role(db: Database, username: str, role: str, *, now: datetime) -> None:
    """Change a role (ends every session: signed in again, the user gets the new role's pages);
    the last enabled admin keeps theirs."""
    username, role = normalize_username(username), validate_role(role)
    with db.write() as cur:
        _check_target(cur, username, keep_admin=role != "admin")
        old = one_row(cur.execute("SELECT role FROM users WHERE username = ?", [username]))[0]
        cur.execute("UPDATE users SET role = ?, sessions_valid_after = ?, "
                    "credentials_changed_at = ? WHERE username = ? AND role <> ?",
                    [role, now, now, username, role])
        if old != role:  # asking for the role a user has changes nothing
            record(cur, Action.USER_ROLE, username, {"from": old, "to": role}, at=now)


def set_password(db: Database, username: str, password: str, *, now: datetime) -> None:
    """A new password: clears any lockout and ends every existing session."""
    username = normalize_username(username)
    validate_password(password, username)
    hashed = hash_password(password)
    with db.write() as cur:
        _check_target(cur, username, keep_admin=False)
        cur.execute("UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL, "
                    "sessions_valid_after = ?, credentials_changed_at = ? WHERE username = ?",
                    [hashed, now, now, username])
        record(cur, Action.USER_PASSWORD, username, at=now)


def set_disabled(db: Database, username: str, disabled: bool, *, now: datetime) -> None:
    """Disable (ends every session; never the last enabled admin) or enable (clears a lockout)."""
    username = normalize_username(username)
    with db.write() as cur:
        _check_target(cur, username, keep_admin=disabled)
        if disabled:
            cur.execute("UPDATE users SET disabled = true, sessions_valid_after = ?, "
                        "credentials_changed_at = ? WHERE username = ?", [now, now, username])
        else:
            cur.execute("UPDATE users SET disabled = false, failed_logins = 0, "
                        "locked_until = NULL WHERE username = ?", [username])
        record(cur, Action.USER_DISABLE if disabled else Action.USER_ENABLE, username, at=now)


def authenticate(db: Database, username: str, password: str, now: datetime) -> User | None:
    """The user if the password is right and the account open; None for any failure.

    The attempt is counted *before* bcrypt (``lockout.reserve_attempt``), so a burst of guesses
    sent at once gets MAX_FAILED_LOGINS judged against the hash, not one per request; the
    success is settled afterwards (``lockout.settle_success``)."""
    name = normalize_username(username)
    if bad_character(name) or bad_character(password):  # can't be an account's; don't crash
        _check("", _DUMMY_HASH)
        return None
    reserved = reserve_attempt(db, name, now)
    if reserved is None:  # unknown, passwordless, disabled or locked
        _check(password, _DUMMY_HASH)  # the same work as a real check: no username oracle
        return None
    hashed, seen = reserved
    if not _check(password, hashed.encode()):
        return None  # already counted
    return get_user(db, name) if settle_success(db, name, hashed, seen, now) else None


def revoke_sessions(db: Database, username: str, now: datetime) -> None:
    """Sign out: end every session and re-login cookie of this user issued up to now."""
    with db.write() as cur:
        cur.execute("UPDATE users SET sessions_valid_after = ? WHERE username = ?",
                    [now, name := normalize_username(username)])
        record(cur, Action.SIGN_OUT, name, at=now)


def session_valid(db: Database, username: str, issued_at: datetime) -> bool:
    """Does a session issued at ``issued_at`` still count (user exists, enabled, not revoked)?"""
    found = _accounts(db).get(normalize_username(username))
    if found is None:
        return False
    user, valid_after, _ = found
    return not user.disabled and (valid_after is None or issued_at >= valid_after)


def credentials_valid(db: Database, username: str, made_at: datetime) -> bool:
    """Does an API token made at ``made_at`` still count? Its owner exists and is enabled, and
    neither their password nor their role changed and they were not disabled since. A
    sign-out does not end it (a token is not a session: a script keeps working)."""
    found = _accounts(db).get(normalize_username(username))
    if found is None:
        return False
    user, _, changed_at = found
    return not user.disabled and (changed_at is None or made_at >= changed_at)


def require_active(db: Database | Cursor, username: str, role: str | None = None, *,
                   error: type[Exception] = PermissionDenied) -> None:
    """Raise ``error`` if the account is disabled, or no longer has ``role`` (when given).
    Defence in depth for library writes, below the pages' session check (lib/ui/guard.py);
    pass the write's cursor to read the row under its lock (else: the accounts cache). A
    name with no account passes, as in ``jobs.submit`` (the CLI's default user)."""
    name = normalize_username(username)
    if isinstance(db, Database):
        row = None if (user := get_user(db, name)) is None else (user.disabled, user.role)
    else:
        row = db.execute("SELECT disabled, role FROM users WHERE username = ?", [name]).fetchone()
    if row is not None and row[0]:
        raise error(f"The account {name} is disabled, so nothing was changed: ask an admin.")
    if row is not None and role is not None and row[1] != role:
        raise error(f"The role of {name} is now {row[1]}, so nothing was changed: sign in "
                    "again to go on.")
