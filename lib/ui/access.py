"""The signed-in user's grant, as the pages use it: the models they may choose (a catalog
with the rest removed) and, on Generate, their daily cap. The rules are ``lib/grants``."""

from __future__ import annotations

from typing import Protocol

import streamlit as st

from lib.catalog import book as catalog
from lib.core.text import plain
from lib.engine import Engine
from lib.grants import caps as daily
from lib.grants import rules
from lib.providers import registry


class Someone(Protocol):
    """A signed-in account or a gallery viewer: a name and a role."""

    @property
    def username(self) -> str: ...

    @property
    def role(self) -> str: ...


def grant(eng: Engine, me: Someone) -> rules.Grant:
    """What ``me`` may use."""
    return rules.grant_for(eng.db, me.username, me.role)


def book(eng: Engine, me: Someone) -> catalog.Book:
    """The catalog with only what ``me`` may use offered."""
    return rules.book_for(eng.models(), grant(eng, me))


def providers(eng: Engine, me: Someone, statuses: list[registry.ProviderStatus]) -> list[str]:
    """Configured providers ``me`` may use, saying so when there are none, and the daily cap
    when ``me`` has one."""
    mine = grant(eng, me)
    ready = [s.id for s in statuses if s.configured and mine.allows_provider(s.id)]
    if not ready:
        st.info(plain(f"Your access ({mine.source}) allows no model of a provider that is set "
                      "up. Ask an admin to change it on Admin → Access."), icon=":material/lock:")
    if (cap := daily.cap_of(eng.db, me.username)) is not None:
        used = daily.used_today(eng.db, me.username, eng.clock.now())
        st.caption(f"Your daily cap: {used:,} of {cap:,} images asked for today (UTC).")
    return ready


def caps_today(eng: Engine, me: Someone, team: bool) -> None:
    """Analytics: each capped user's images today against their cap (a member: their own)."""
    uses = [u for u in daily.uses(eng.db, eng.clock.now()) if team or u.username == me.username]
    if not uses:
        return
    st.subheader("Daily image caps (today, UTC)")
    st.dataframe(
        [{"user": u.username, "asked for": u.used_today, "cap": u.daily_images,
          "used": min(1.0, u.used_today / u.daily_images) if u.daily_images else 1.0}
         for u in uses],
        hide_index=True, width="stretch", column_config={
            "user": "User", "asked for": "Asked for today", "cap": "Cap",
            "used": st.column_config.ProgressColumn("Of the cap", format="percent",
                                                    min_value=0.0, max_value=1.0)})
