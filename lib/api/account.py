"""``/api/v1/me`` and ``/api/v1/tokens``: who a credential acts as, and one's own tokens.

Tokens are ``lib.auth.tokens``'s: made by their owner, the secret answered once (the database
keeps only its SHA-256), listed without secrets, revoked by the owner or an admin. A revoke
stops the token's next call: every call reads the token table again (``principal``).

Making a token is a write, so it needs a full-scope credential: a read-only token is refused
before the handler (``ops._check_access``), and the handler refuses again, so a read token can
never mint a full one. The automation token (PROMPTBOARD_ADMIN_TOKEN) mints none either: a
personal token of the ``automation`` account would outlive rotating that variable.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from lib.api.errors import forbidden, not_found
from lib.api.ops import Call, Op
from lib.api.schemas import Strict, Utc, UtcOrNone
from lib.auth import accounts, tokens
from lib.auth.accounts import PermissionDenied
from lib.db.database import Database


class MeOut(BaseModel):
    """The account a credential acts as, and what the credential allows."""

    username: str
    name: str
    email: str | None
    role: str = Field(description="admin, member or analyst, read now")
    scope: str = Field(description="full, or read (GET only)")
    via: str = Field(description="token, admin-token (PROMPTBOARD_ADMIN_TOKEN) or cookie")
    pages: list[str] = Field(description="the dashboard pages this role opens")


class TokenOut(BaseModel):
    """A personal API token, never its secret: ``hint`` is its first characters."""

    id: str
    username: str
    name: str
    scope: str
    hint: str
    status: str = Field(description="active; revoked; or ended (its owner was disabled, or "
                        "their sessions ended after it was made: a new password, a role "
                        "change, sign out everywhere)")
    created_at: Utc
    last_used_at: UtcOrNone = Field(description="to the minute")
    revoked_at: UtcOrNone


class TokenList(BaseModel):
    """Tokens, newest first, revoked ones included."""

    tokens: list[TokenOut]


class TokenIn(Strict):
    """A new token of yours: a name to tell it apart, and its scope."""

    name: str = Field(max_length=1000, examples=["nightly report"])
    scope: Literal["full", "read"] = Field("full", description="read: GET only")


class TokenCreated(BaseModel):
    """The new token and its secret. The secret is shown this once and kept nowhere: store
    it now. Send it as ``Authorization: Bearer <secret>``."""

    token: TokenOut
    secret: str


def token_out(db: Database, token: tokens.Token) -> TokenOut:
    """A token as the API lists it, with its status now."""
    return TokenOut(id=token.id, username=token.username, name=token.name, scope=token.scope,
                    hint=token.hint, status=tokens.status(db, token),
                    created_at=token.created_at, last_used_at=token.last_used_at,
                    revoked_at=token.revoked_at)


def revoke(call: Call, token_id: str) -> TokenOut:
    """Revoke a token the caller may revoke (their own; an admin's: any), else 404."""
    db = call.svc.db
    try:
        tokens.revoke(db, call.who.user, token_id, now=call.svc.clock.now())
    except PermissionDenied:
        raise not_found("No such token of yours.") from None
    found = next((t for t in tokens.list_all(db) if t.id == token_id), None)
    if found is None:  # revoked a moment ago: it cannot have gone
        raise not_found("No such token of yours.")
    return token_out(db, found)


def me(call: Call) -> MeOut:
    """The account this credential acts as (its role now), the credential's scope and how it
    was sent."""
    user = call.who.user
    return MeOut(username=user.username, name=user.name, email=user.email, role=user.role,
                 scope=call.who.scope, via=call.who.via,
                 pages=accounts.allowed_pages(user.role))


def list_tokens(call: Call) -> TokenList:
    """Your tokens, newest first (revoked ones too), without their secrets."""
    db = call.svc.db
    return TokenList(tokens=[token_out(db, t)
                             for t in tokens.list_for(db, call.who.user.username)])


def create_token(call: Call) -> TokenCreated:
    """Make a token of yours; the answer holds its secret, shown once. Needs a full-scope
    credential: a read-only token cannot make tokens, so it cannot widen itself."""
    body: TokenIn = call.body
    if call.who.scope != "full" or call.who.via != "token":
        raise forbidden("Only a full-scope personal token makes tokens: the automation token "
                        "(PROMPTBOARD_ADMIN_TOKEN) and read-only tokens can't."
                        if call.who.via != "cookie" else
                        "Make tokens on your Account page, or with a full-scope token.")
    token, secret = tokens.create(call.svc.db, call.who.user.username, body.name,
                                  scope=body.scope, now=call.svc.clock.now())
    return TokenCreated(token=token_out(call.svc.db, token), secret=secret)


def revoke_token(call: Call) -> TokenOut:
    """Revoke one of your tokens (admins: anyone's); its next call is refused. Revoking a
    revoked token is fine. Another's token is 404, as if it did not exist."""
    return revoke(call, call.path["token_id"])


def ops() -> list[Op]:
    """The account routes: every role, for their own account."""
    return [
        Op("GET", "/me", "getMe", "Who this credential acts as", me, out=MeOut),
        Op("GET", "/tokens", "listTokens", "Your API tokens (never their secrets)",
           list_tokens, out=TokenList),
        Op("POST", "/tokens", "createToken", "Make a token (its secret is answered once)",
           create_token, out=TokenCreated, body=TokenIn, status=201, errors=(422,)),
        Op("DELETE", "/tokens/{token_id}", "revokeToken", "Revoke a token", revoke_token,
           out=TokenOut, errors=(404,)),
    ]
