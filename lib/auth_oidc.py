"""Sign-in with an identity provider (OIDC, ``st.login``): which e-mails get which role.

No Streamlit here: ``lib/ui/signin.py`` reads the lists from the environment and calls
:func:`role_for_email` for each person the identity provider vouches for.
"""

from __future__ import annotations

from dataclasses import dataclass

from lib.auth import EMAIL_RE


@dataclass(frozen=True)
class RoleMapping:
    """Which e-mails get which role; entries are addresses or '@domain' suffixes."""

    admins: tuple[str, ...] = ()
    analysts: tuple[str, ...] = ()
    domains: tuple[str, ...] | None = None  # None: any domain may sign in (as member)


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
    return "member" if mapping.domains is None or _matches(clean, mapping.domains) else None
