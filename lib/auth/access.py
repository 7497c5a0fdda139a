"""Who may see what: the three roles, and the ``Viewer`` that every read model checks.

::

    role      may open (lib.auth.accounts.PAGES)        sees (Viewer.sees_all)
    admin     every page                                every image
    analyst   home, queue, gallery, analytics, account  every image
    member    every page but admin                      their own images and shared ones

No database and no Streamlit here: each query applies the rule with its own SQL
(``lib.gallery.queries.visible_where`` for images).
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("admin", "member", "analyst")


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a username and a role (admin, member or analyst)."""

    username: str
    role: str

    def __post_init__(self) -> None:
        """Fail closed on an unknown role or an empty name."""
        if self.role not in ROLES or not self.username:
            raise ValueError(f"A viewer needs a username and a role in {ROLES}, not {self!r}.")

    @property
    def sees_all(self) -> bool:
        """Admins and analysts see every image."""
        return self.role in ("admin", "analyst")
