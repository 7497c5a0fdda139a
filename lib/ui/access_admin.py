"""Admin → Access: which models each role and each user may use, and a user's daily image cap.
The rules are ``lib/grants``; this draws them."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from lib.auth import accounts
from lib.auth.access import ROLES
from lib.auth.accounts import User
from lib.catalog import book as catalog
from lib.core.fmt import plural
from lib.core.text import plain
from lib.engine import Engine
from lib.grants import caps as daily
from lib.grants import rules
from lib.providers import registry

FLASH = "access_flash"


def choices(book: catalog.Book, today: date) -> dict[str, str]:
    """``provider/model`` → label, with ``provider/*`` (any model) first for each provider."""
    out: dict[str, str] = {}
    for pid, cls in registry.PROVIDERS.items():
        out[f"{pid}/{rules.ANY}"] = f"{cls.label}: any model"
        for model in book.live(pid, today):
            out[f"{pid}/{model}"] = f"{cls.label}: {model}"
    return out


def access_section(eng: Engine, me: User) -> None:
    """Roles' lists, then one user's list and cap, then who is capped and today's use."""
    st.caption("Nobody is limited until you list models for a role or a user. A user's own "
               "list replaces their role's; \"any model\" includes models added later and, "
               "for Replicate, fal and AUTOMATIC1111, any id typed. Generate, Compare, "
               "Styles and the API offer only what is allowed; submit refuses the rest.")
    if flash := st.session_state.pop(FLASH, None):
        st.success(plain(flash), icon=":material/check_circle:")
    today = eng.clock.now().date()
    options = choices(eng.models(), today)
    found = {(g.scope, g.subject): g for g in rules.lists(eng.db)}
    st.markdown("**Roles**")
    for role in ROLES:
        _editor(eng, me, "role", role, f"the {role} role", found.get(("role", role)), options)
    st.markdown("**A user**")
    users = [u.username for u in accounts.list_users(eng.db)]
    who = st.selectbox("User", users, key="access_user", format_func=plain)
    if who:
        _editor(eng, me, "user", who, who, found.get(("user", who)), options)
        _cap(eng, me, who)
    uses = daily.uses(eng.db, eng.clock.now())
    if uses:
        st.markdown("**Daily caps today (UTC)**")
        st.dataframe(pd.DataFrame([{"user": u.username, "cap": u.daily_images,
                                    "asked for today": u.used_today, "left": u.left,
                                    "set by": u.set_by} for u in uses]),
                     hide_index=True, width="stretch")


def _editor(eng: Engine, me: User, scope: str, subject: str, name: str,
            current: rules.GrantList | None, options: dict[str, str]) -> None:
    key = f"access_{scope}_{subject}"
    with st.container(border=True):
        limited = st.toggle(plain(f"Limit {name} to chosen models"), value=current is not None,
                            key=f"{key}_on")
        picked: list[str] = []
        if limited:
            have = [f"{p}/{m}" for p, m in current.pairs] if current else []
            picked = st.multiselect(
                "Allowed models", list(dict.fromkeys([*options, *have])), default=have,
                format_func=lambda v: plain(options.get(v, v)), key=f"{key}_models",
                placeholder="Nothing: the list allows no model")
        if st.button("Save", key=f"{key}_save", icon=":material/save:"):
            pairs = None if not limited else [tuple(v.split("/", 1)) for v in picked]
            try:
                rules.set_list(eng.db, me.username, scope, subject,
                               None if pairs is None else [(p, m) for p, m in pairs],
                               eng.clock.now())
            except rules.GrantError as exc:
                st.error(plain(exc), icon=":material/error:")
                return
            st.session_state[FLASH] = (f"Saved: {name} may use any model." if pairs is None
                                       else f"Saved {name}'s list: "
                                       f"{plural(len(pairs), 'entry', 'entries')}.")
            st.rerun()


def _cap(eng: Engine, me: User, who: str) -> None:
    cap = daily.cap_of(eng.db, who)
    with st.container(border=True):
        capped = st.toggle(plain(f"Cap {who}'s images per day"), value=cap is not None,
                           key=f"access_cap_on_{who}")
        amount = (st.number_input("Images per UTC day", 0, daily.MAX_CAP, cap or 50,
                                  key=f"access_cap_{who}") if capped else None)
        if st.button("Save cap", key=f"access_cap_save_{who}", icon=":material/save:"):
            try:
                daily.set_cap(eng.db, me.username, who,
                              None if amount is None else int(amount), eng.clock.now())
            except rules.GrantError as exc:
                st.error(plain(exc), icon=":material/error:")
                return
            st.session_state[FLASH] = (f"{who} has no daily cap." if amount is None
                                       else f"{who} may ask for {int(amount):,} images a day.")
            st.rerun()
