"""Who is calling: a bearer token, the automation admin token, or the signed-in browser.

The same rules as the pages, read on every request (nothing is cached, so a revoke, a
disable, a password or role change, or "sign out everywhere" stops the next call):

- ``Authorization: Bearer pb_…``: a personal token (``lib.auth.tokens``), with its owner's
  role *now* and its scope (``full`` or ``read``).
- ``Authorization: Bearer <PROMPTBOARD_ADMIN_TOKEN>``: the built-in ``automation`` account,
  an admin that cannot sign in to the pages; it is made on first use, and disabling it on the
  Admin page stops the token.
- The sign-in cookie, for safe methods only (GET/HEAD). A write with a cookie alone is
  refused, so another site can't make a signed-in browser act (it is SameSite=Strict too).
- A signed image link (``lib.auth.links``), on the file routes only: what the dashboard's own
  ``<img>`` tags use, bound to one session and one path.

Any failure is the same 401, which never says which part was wrong.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

from lib.audit import Actor
from lib.auth import accounts, cookies, links, tokens
from lib.auth.access import Viewer
from lib.auth.accounts import AuthError, User
from lib.core.context import Services

AUTOMATION = "automation"  # the account PROMPTBOARD_ADMIN_TOKEN acts as
MIN_ADMIN_TOKEN = 32
SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the account, what the credential allows, and its limit key."""

    user: User
    scope: str  # "full" or "read"
    key: str  # the rate limit's bucket: one per token, one per browser user
    via: str  # "token", "admin-token", "cookie" or "link"
    token_id: str = ""  # a personal token's id (never its secret)

    @property
    def viewer(self) -> Viewer:
        """The caller as the gallery and reports see them."""
        return Viewer(self.user.username, self.user.role)

    @property
    def actor(self) -> Actor:
        """The caller as the audit log names them: ``token:<id>`` for a personal token."""
        return Actor(self.user.username, f"token:{self.token_id}" if self.token_id else self.via)

    @property
    def is_admin(self) -> bool:
        """An admin with a full-scope credential."""
        return self.user.role == "admin"


def admin_token() -> str | None:
    """PROMPTBOARD_ADMIN_TOKEN if set and long enough to be a secret."""
    value = os.environ.get("PROMPTBOARD_ADMIN_TOKEN", "").strip()
    if value and len(value) < MIN_ADMIN_TOKEN:
        raise AuthError(f"PROMPTBOARD_ADMIN_TOKEN is too short: use at least {MIN_ADMIN_TOKEN} "
                        "random characters.")
    return value or None


def _automation(svc: Services) -> User | None:
    user = accounts.get_user(svc.db, AUTOMATION)
    if user is None:
        try:
            user = accounts.create_user(svc.db, AUTOMATION, "Automation (API admin token)",
                                        None, "admin", None, now=svc.clock.now())
        except AuthError:  # made by a concurrent first call
            user = accounts.get_user(svc.db, AUTOMATION)
    if user is None or user.disabled or user.role != "admin":
        return None  # an admin disabled it, or demoted it: the token stops
    return user


def bearer(header: str) -> str | None:
    """The credential of an ``Authorization: Bearer …`` header, or None."""
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


def identify(svc: Services, method: str, authorization: str | None,
             cookie: str | None, link: tuple[str, Mapping[str, str]] | None = None
             ) -> Principal | None:
    """The caller, or None (then: 401). ``link``: the path and query of a signed image link."""
    if authorization:
        secret = bearer(authorization)
        if secret is None:
            return None
        wanted = admin_token()
        if wanted is not None and hmac.compare_digest(secret.encode(), wanted.encode()):
            user = _automation(svc)
            return None if user is None else Principal(user, "full", "admin-token",
                                                       "admin-token")
        found = tokens.authenticate(svc.db, secret, now=svc.clock.now())
        if found is None:
            return None
        user, scope, token_id = found
        return Principal(user, scope, "token:" + tokens.fingerprint(secret), "token", token_id)
    if link is not None and method in SAFE_METHODS:
        found_user = links.verify(svc.db, cookies.cookie_key(svc.settings), link[0], link[1],
                                  time.time())
        return None if found_user is None else Principal(
            found_user, "read", "user:" + found_user.username, "link")
    if cookie and method in SAFE_METHODS:
        signed = cookies.cookie_user(svc.db, cookies.cookie_key(svc.settings), cookie,
                                     time.time())
        if signed is not None:
            return Principal(signed[0], "read", "user:" + signed[0].username, "cookie")
    return None
