"""Personal API tokens: made, listed and revoked by their owner, checked on every API call.

A token reads ``pb_`` + 43 URL-safe characters (256 random bits). It is shown once, when made;
the database keeps only its SHA-256 and a hint (its first characters) to tell tokens apart.
A token acts as its owner, with the owner's role *now* (a role change applies at once),
optionally narrowed to ``read`` (no queueing, no edits). It stops working when:

- its owner revokes it (or an admin does);
- the owner is disabled or deleted, or their password or role changes
  (``users.credentials_changed_at``; ``accounts.credentials_valid``).

Signing out does not stop it: a sign-out ends every browser session of the user (the cookie
cannot be revoked alone), and a token is a script's credential, not a session.

:func:`authenticate` answers only "this user, this scope" or None, never why: a caller
refuses every None alike (401), so a probe learns nothing about which tokens exist.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lib.audit import Action, record
from lib.auth import accounts
from lib.auth.accounts import AuthError, PermissionDenied, User
from lib.core.text import bad_character
from lib.db.database import Database

PREFIX = "pb_"
SCOPES = ("full", "read")
MAX_TOKENS_PER_USER = 20
MAX_NAME = 60
LAST_USED_EVERY = timedelta(minutes=1)  # write last_used_at at most this often per token


@dataclass(frozen=True)
class Token:
    """A token as its owner sees it in the list (never the secret)."""

    id: str
    username: str
    name: str
    scope: str
    hint: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


_COLUMNS = "id, username, name, scope, hint, created_at, last_used_at, revoked_at"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def fingerprint(secret: str) -> str:
    """A short public id of a secret (its digest's head): a rate limit's key, never the secret."""
    return _digest(secret)[:16]


def _clean_name(name: str) -> str:
    text = " ".join(str(name).split())
    if not text:
        raise AuthError("Give the token a name, so you can tell it apart later.")
    if len(text) > MAX_NAME:
        raise AuthError(f"A token name has at most {MAX_NAME} characters.")
    if (why := bad_character(text)) is not None:
        raise AuthError(f"The token name {why}.")
    return text


def create(db: Database, username: str, name: str, *, scope: str = "full",
           now: datetime) -> tuple[Token, str]:
    """Make a token for an active user; returns it and its secret (shown once, kept nowhere)."""
    if scope not in SCOPES:
        raise AuthError(f"A token's scope is one of: {', '.join(SCOPES)}.")
    clean = _clean_name(name)
    secret = PREFIX + secrets.token_urlsafe(32)
    token = Token(uuid.uuid4().hex, username, clean, scope, secret[:10], now, None, None)
    if accounts.get_user(db, username) is None:
        raise AuthError(f"There is no account {username!r}.")
    with db.write() as cur:
        accounts.require_active(cur, username, error=AuthError)
        live = cur.execute("SELECT count(*) FROM api_tokens WHERE username = ? AND "
                           "revoked_at IS NULL", [username]).fetchone()
        if live is not None and live[0] >= MAX_TOKENS_PER_USER:
            raise AuthError(f"You have {MAX_TOKENS_PER_USER} tokens already: revoke one first.")
        cur.execute("INSERT INTO api_tokens (id, username, name, scope, token_hash, hint, "
                    "created_at) VALUES (?,?,?,?,?,?,?)",
                    [token.id, username, clean, scope, _digest(secret), token.hint, now])
        record(cur, Action.TOKEN_CREATE, token.id, {"owner": username, "name": clean,
                                                    "scope": scope}, at=now)
    return token, secret


def list_for(db: Database, username: str) -> list[Token]:
    """A user's tokens, newest first, revoked ones included (they show when they ended)."""
    rows = db.fetchall(f"SELECT {_COLUMNS} FROM api_tokens WHERE username = ? "
                       "ORDER BY created_at DESC, id", [username])
    return [Token(*r) for r in rows]


def list_all(db: Database) -> list[Token]:
    """Every user's tokens (for admins), newest first, revoked ones included."""
    rows = db.fetchall(f"SELECT {_COLUMNS} FROM api_tokens ORDER BY created_at DESC, id")
    return [Token(*r) for r in rows]


def status(db: Database, token: Token) -> str:
    """What :func:`authenticate` would make of this token now: ``"revoked"``; ``"ended"``
    when its owner is disabled or gone, or their password or role changed after it was made;
    else ``"active"``. An ended token still counts towards MAX_TOKENS_PER_USER until it is
    revoked."""
    if token.revoked_at is not None:
        return "revoked"
    return ("active" if accounts.credentials_valid(db, token.username, token.created_at)
            else "ended")


def revoke(db: Database, actor: User, token_id: str, *, now: datetime) -> None:
    """Revoke a token: its owner's own, or anyone's for an admin. Revoking twice is fine."""
    with db.write() as cur:
        row = cur.execute("SELECT username FROM api_tokens WHERE id = ?", [token_id]).fetchone()
        if row is None or (row[0] != actor.username and actor.role != "admin"):
            raise PermissionDenied("No such token of yours.")
        cur.execute("UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
                    [now, token_id])
        record(cur, Action.TOKEN_REVOKE, token_id, {"owner": row[0]}, at=now)


def _by_digest(db: Database) -> dict[str, tuple[Any, ...]]:
    """Every token row by its digest, re-read only after a write to ``api_tokens`` (a create,
    a revoke, a last-use stamp): a revoke is seen by the very next call, with no query per
    call in between."""
    return db.cached("auth.tokens", lambda: {
        r[3]: tuple(r) for r in db.fetchall(
            "SELECT id, username, scope, token_hash, created_at, last_used_at, revoked_at "
            "FROM api_tokens")}, ("api_tokens",))


def authenticate(db: Database, secret: str, *, now: datetime) -> tuple[User, str, str] | None:
    """The token's owner, scope and id if the token is good now; None otherwise (for any
    reason)."""
    if not secret.startswith(PREFIX) or len(secret) > 100:
        return None
    digest = _digest(secret)
    row = _by_digest(db).get(digest)
    if row is None:
        return None
    token_id, username, scope, stored, created_at, last_used, revoked_at = row
    if not hmac.compare_digest(stored, digest) or revoked_at is not None:
        return None
    user = accounts.get_user(db, username)
    if user is None or not accounts.credentials_valid(db, username, created_at):
        return None
    if last_used is None or now - last_used >= LAST_USED_EVERY:
        with db.write() as cur:
            cur.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [now, token_id])
    return user, scope, token_id
