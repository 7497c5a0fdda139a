"""``/api/v1/admin``: the Admin page's users, tokens and prices over HTTP, for admins only.

Every change goes through the verb the page calls, so its checks and its words are the
page's: ``auth.accounts`` for users (the last enabled admin keeps the role and stays enabled;
a role change, a new password or a disable ends the user's sessions and so their tokens at
once), ``auth.tokens`` for tokens, ``jobs.repricing.add_price`` for prices (a dated row and
its ``price_audit`` entry; as on the page, adding a price reprices nothing already stored:
recomputing a range is a separate, deliberate act). The library's refusals map through
``errors.from_exception``: ``AuthError`` and a bad price are 422, ``PermissionDenied`` 403.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, JsonValue

from lib.api.account import TokenList, TokenOut, revoke, token_out
from lib.api.catalog import PriceOut
from lib.api.errors import ApiError, forbidden, not_found
from lib.api.ops import Call, Op
from lib.api.schemas import Strict, Utc, UtcOrNone
from lib.auth import accounts, tokens
from lib.auth.access import ROLES
from lib.db import backup
from lib.jobs import repricing as pricing
from lib.providers import registry

ADMINS = frozenset({"admin"})
ROLE_ENUM: dict[str, JsonValue] = {"enum": list[JsonValue](ROLES)}
# USD per unit, as a decimal string (or a JSON number); the column keeps ten decimal places.
PriceUsd = Annotated[Decimal, Field(decimal_places=10, examples=["0.04"])]


class UserOut(BaseModel):
    """An account, never its password hash."""

    username: str
    name: str
    email: str | None
    role: str
    disabled: bool
    status: str = Field(description="active, disabled, or locked (wrong passwords; "
                        "locked_until says until when)")
    has_password: bool = Field(description="false: signs in through the identity provider "
                               "(or is the API's automation account)")
    created_at: Utc
    last_login_at: UtcOrNone
    locked_until: UtcOrNone


class UserList(BaseModel):
    """Every account, by username."""

    users: list[UserOut]


class UserIn(Strict):
    """A new password account; the policy's refusals come back as the page shows them."""

    username: str = Field(description="3-32 characters: a-z, digits, '.', '_' or '-'")
    name: str = Field("", description="the full name (default: the username)")
    email: str | None = None
    role: str = Field("member", json_schema_extra=ROLE_ENUM)
    password: str = Field(description=f"at least {accounts.MIN_PASSWORD_LENGTH} characters; "
                          "share it privately")


class RoleIn(Strict):
    """The user's new role."""

    role: str = Field(json_schema_extra=ROLE_ENUM)


class DisabledIn(Strict):
    """Disable the account (its sessions and tokens end) or enable it again."""

    disabled: bool


class PasswordIn(Strict):
    """A new password for the user (their sessions and tokens end)."""

    password: str


class PriceIn(Strict):
    """A dated price row, as the Admin page's "Add a price" form takes it."""

    provider: str = Field(description="a provider id (see /providers)")
    model: str = Field("*", description="* means any model of this provider")
    variant: str = Field("*", description="WxH/quality, WxH, quality or *")
    unit: str = Field("images", description="a usage key: images, output_image_tokens, "
                      "credits, ...")
    usd_per_unit: PriceUsd
    effective_from: date = Field(description="in effect from the start of this UTC day")
    source: str = Field(description="where the price comes from, e.g. the pricing page")


def _status(user: accounts.User, call: Call) -> str:
    if user.disabled:
        return "disabled"
    return "locked" if user.is_locked(call.svc.clock.now()) else "active"


def user_out(call: Call, user: accounts.User) -> UserOut:
    """An account as the API shows it."""
    return UserOut(username=user.username, name=user.name, email=user.email, role=user.role,
                   disabled=user.disabled, status=_status(user, call),
                   has_password=user.has_password, created_at=user.created_at,
                   last_login_at=user.last_login_at, locked_until=user.locked_until)


def _target(call: Call) -> accounts.User:
    user = accounts.get_user(call.svc.db, call.path["username"])
    if user is None:
        raise not_found("There is no such user.")
    return user


def _reread(call: Call, username: str) -> UserOut:
    user = accounts.get_user(call.svc.db, username)
    if user is None:  # changed a moment ago: accounts are never deleted
        raise not_found("There is no such user.")
    return user_out(call, user)


def list_users(call: Call) -> UserList:
    """Every account with its role, status and sign-in method; no password hashes."""
    return UserList(users=[user_out(call, u) for u in accounts.list_users(call.svc.db)])


def create_user(call: Call) -> UserOut:
    """Add a password account (the Admin page's "Add a user"): the username, role and
    password policy refuse with the page's words (422)."""
    body: UserIn = call.body
    user = accounts.create_user(call.svc.db, body.username, body.name, body.email, body.role,
                                body.password, now=call.svc.clock.now())
    return _reread(call, user.username)


def set_role(call: Call) -> UserOut:
    """Change a user's role. Their sessions and tokens end at once (signed in again, they get
    the new role's pages); the last enabled admin keeps the role (422)."""
    body: RoleIn = call.body
    user = _target(call)
    accounts.set_role(call.svc.db, user.username, body.role, now=call.svc.clock.now())
    return _reread(call, user.username)


def set_disabled(call: Call) -> UserOut:
    """Disable a user (their sessions and tokens end at once; never the last enabled admin,
    never yourself) or enable them again (which also clears a lockout)."""
    body: DisabledIn = call.body
    user = _target(call)
    if body.disabled and user.username == call.who.user.username:
        raise forbidden("Not your own account: another admin can disable it.")
    accounts.set_disabled(call.svc.db, user.username, body.disabled, now=call.svc.clock.now())
    return _reread(call, user.username)


def set_password(call: Call) -> UserOut:
    """Reset a user's password (the page's "Reset password"): it clears a lockout and ends
    their sessions and tokens at once. The password policy refuses with the page's words."""
    body: PasswordIn = call.body
    user = _target(call)
    accounts.set_password(call.svc.db, user.username, body.password, now=call.svc.clock.now())
    return _reread(call, user.username)


def list_all_tokens(call: Call) -> TokenList:
    """Every user's tokens, newest first, revoked ones included; never a secret."""
    db = call.svc.db
    return TokenList(tokens=[token_out(db, t) for t in tokens.list_all(db)])


def revoke_any_token(call: Call) -> TokenOut:
    """Revoke anyone's token; its next call is refused."""
    return revoke(call, call.path["token_id"])


def add_price(call: Call) -> PriceOut:
    """Add a dated price row, as the Admin page does, with its checks and an audit entry.
    Stored job and image costs do not move (reports stay stable): recompute a date range on
    the Admin page after a correction."""
    body: PriceIn = call.body
    registry.get(body.provider)  # the page offers only known providers; 422 names them
    try:
        price_id = pricing.add_price(call.svc.db, call.who.user.username, body.provider,
                                     body.model, body.variant, body.unit, body.usd_per_unit,
                                     body.effective_from, body.source, call.svc.clock.now())
    except ValueError as exc:  # the page shows these as is; plain ValueErrors, not ours
        raise ApiError(422, "invalid", str(exc)) from None
    row = next(r for r in pricing.list_prices(call.svc.db) if r.id == price_id)
    return PriceOut(id=row.id, provider=row.provider, model=row.model, variant=row.variant,
                    unit=row.unit, usd_per_unit=row.usd_per_unit,
                    effective_from=row.effective_from.date(), source=row.source)


class BackupOut(BaseModel):
    """A checked backup file of the embedded database, on the server's disk."""

    path: str = Field(description="where the server wrote it")
    bytes: int
    tables: int
    rows: int = Field(description="rows in all tables, as checked in the file")
    took_ms: int


def make_backup(call: Call) -> BackupOut:
    """Back up the embedded DuckDB database now, while the server runs (Admin → Storage →
    "Back up now"): a checked file under data/backups/. On PostgreSQL: 409, use pg_dump."""
    svc = call.svc
    try:
        made = backup.backup(svc.db, backup.folder(svc.settings.data_dir), svc.clock.now())
    except backup.BackupError as exc:
        raise ApiError(409, "backup_failed", str(exc)) from None
    return BackupOut(path=str(made.path), bytes=made.bytes, tables=len(made.rows),
                     rows=sum(made.rows.values()), took_ms=round(made.took_s * 1000))


def ops() -> list[Op]:
    """The admin routes: the admin role only (PROMPTBOARD_ADMIN_TOKEN's account is one)."""
    one = "/admin/users/{username}"
    return [
        Op("GET", "/admin/users", "adminListUsers", "Every account", list_users,
           out=UserList, roles=ADMINS),
        Op("POST", "/admin/users", "adminCreateUser", "Add a password account", create_user,
           out=UserOut, body=UserIn, status=201, roles=ADMINS, errors=(422,)),
        Op("PUT", one + "/role", "adminSetRole", "Change a user's role", set_role,
           out=UserOut, body=RoleIn, roles=ADMINS, errors=(404, 422)),
        Op("PUT", one + "/disabled", "adminSetDisabled", "Disable or enable a user",
           set_disabled, out=UserOut, body=DisabledIn, roles=ADMINS, errors=(404, 422)),
        Op("PUT", one + "/password", "adminSetPassword", "Reset a user's password",
           set_password, out=UserOut, body=PasswordIn, roles=ADMINS, errors=(404, 422)),
        Op("GET", "/admin/tokens", "adminListTokens", "Every user's API tokens",
           list_all_tokens, out=TokenList, roles=ADMINS),
        Op("DELETE", "/admin/tokens/{token_id}", "adminRevokeToken", "Revoke anyone's token",
           revoke_any_token, out=TokenOut, roles=ADMINS, errors=(404,)),
        Op("POST", "/admin/prices", "adminAddPrice", "Add a dated price row", add_price,
           out=PriceOut, body=PriceIn, status=201, roles=ADMINS, idempotent=True,
           errors=(400, 409, 422)),
        Op("POST", "/admin/backup", "adminBackup", "Back up the embedded database now",
           make_backup, out=BackupOut, status=201, roles=ADMINS, errors=(409,)),
    ]
