"""Small widgets several screens share: a pager, a budget's bar and the demo-data banner."""

from __future__ import annotations

import streamlit as st

from lib.core.text import plain
from lib.money import budgets
from lib.ui.display import money


def budget_bar(lim: budgets.Limit, sees_team: bool) -> None:
    """Where a budget stands: a bar with its % (red text when over), or, for the team's
    budget shown to someone who may not see the team's spend, only its band."""
    text = budgets.summary(lim, sees_team)
    if not budgets.shows_dollars(lim, sees_team):
        over = lim.fraction > 1
        st.markdown(f":{'red' if over else 'gray'}[{plain(text)}]")
        return
    whose = "Team budget" if lim.scope == "team" else "Your budget"
    st.progress(min(1.0, lim.fraction), text=plain(f"{whose}: {text}"))
    if lim.used_usd > lim.limit_usd:
        st.markdown(f":red[:material/warning: **Over budget** by {plain(money(lim.over_usd))} "
                    "this month.]")


def demo_banner(what: str) -> None:
    """Say loudly that synthetic demo rows are mixed in."""
    st.warning(f"**Demo data is on**: these {what} include the synthetic demo history, not "
               "only real work. Switch \"Demo data\" off for real figures.",
               icon=":material/science:")


def pager(key: str, page: int, pages: int, total: int) -> None:
    """Previous / next buttons with "page x of y", storing the page in session state.

    The page moves in the button's callback, before the run the click starts, so a flip is
    one run of the page (a ``st.rerun()`` after the click drew everything twice: the old page,
    then the new, each sent to the browser)."""
    prev, label, nxt = st.columns([1, 3, 1])
    prev.button("Previous", key=f"{key}-prev", disabled=page <= 0,
                icon=":material/chevron_left:", on_click=st.session_state.update,
                kwargs={key: page - 1})
    label.caption(f"Page {page + 1} of {pages} · {total:,} in all")
    nxt.button("Next", key=f"{key}-next", disabled=page >= pages - 1,
               icon=":material/chevron_right:", on_click=st.session_state.update,
               kwargs={key: page + 1})
