"""Sign-in with an identity provider (OIDC, ``st.login``): who may come in, with which role.

No Streamlit here: ``lib/ui/signin.py`` reads the lists from the environment and asks
:func:`refusal` about each person the identity provider vouches for. It fails closed:

- nothing configured (no PROMPTBOARD_OIDC_DOMAINS, _ADMINS or _ANALYSTS): everyone is refused,
  and the log tells the admin what to set;
- a new person: admin / analyst if listed, member if the domain is allowed, else refused;
- an existing password account with that e-mail (an admin's included): linked only when the
  provider says ``email_verified`` is true; a missing claim is not enough.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from lib.auth.accounts import EMAIL_RE, User

log = logging.getLogger(__name__)

NOT_CONFIGURED_LOG = (
    "OIDC sign-in refused: no e-mail or domain is allowed yet. Set PROMPTBOARD_OIDC_DOMAINS "
    "(e.g. @example.com) and/or list people in PROMPTBOARD_OIDC_ADMINS / "
    "PROMPTBOARD_OIDC_ANALYSTS, then restart the dashboard.")
NOT_CONFIGURED_MESSAGE = (
    "Sign-in with your identity provider isn't set up yet: ask an admin to allow your e-mail "
    "domain, or sign in with a Promptboard password.")


@dataclass(frozen=True)
class RoleMapping:
    """Which e-mails get which role; entries are addresses or '@domain' suffixes."""

    admins: tuple[str, ...] = ()
    analysts: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()  # empty: nobody becomes a member (fail closed)

    def configured(self) -> bool:
        """Has an admin allowed anyone at all?"""
        return bool(self.admins or self.analysts or self.domains)


def _matches(email: str, entries: tuple[str, ...]) -> bool:
    return any(email.endswith(e) if e.startswith("@") else email == e for e in entries)


def role_for_email(email: str | None, mapping: RoleMapping) -> str | None:
    """admin / analyst if listed, else member if the domain is allowed, else None (refuse)."""
    clean = (email or "").strip().lower()
    if not EMAIL_RE.fullmatch(clean):
        return None
    for role, entries in (("admin", mapping.admins), ("analyst", mapping.analysts)):
        if _matches(clean, entries):
            return role
    return "member" if _matches(clean, mapping.domains) else None


def refusal(email: str, email_verified: object, account: User | None,
            mapping: RoleMapping) -> str | None:
    """Why this identity-provider sign-in is refused (shown as is), or None to let it in.

    ``account``: the Promptboard account that already has this e-mail (it would be linked).
    A password account is linked only on ``email_verified is True``; an account the identity
    provider itself created earlier follows the same rule as creating one."""
    if not mapping.configured():
        log.error(NOT_CONFIGURED_LOG)
        return NOT_CONFIGURED_MESSAGE
    shown = email or "your e-mail address"
    takes_over = account is not None and account.has_password
    if email_verified is False or (takes_over and email_verified is not True):
        return (f"Your identity provider hasn't confirmed that {shown} is verified: sign in "
                "with your Promptboard password, or ask an admin.")
    if account is None and role_for_email(email, mapping) is None:
        return f"{email or 'This account'} has no access to Promptboard: ask an admin to allow it."
    return None
