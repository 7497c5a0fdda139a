"""Toasts that outlive a rerun or a page switch.

``st.toast`` followed by ``st.rerun()`` or ``st.switch_page()`` never reaches the browser (the
run that sent it is cut short and its messages dropped; AppTest shows it anyway, a real browser
does not). So a toast meant for after such a jump is kept in the session and shown by the next
run of a page that calls :func:`show_pending`.
"""

from __future__ import annotations

import streamlit as st

PENDING = "pb_pending_toast"


def later(body: str, icon: str) -> None:
    """Show this toast on the next run (call just before ``st.rerun`` / ``st.switch_page``)."""
    st.session_state[PENDING] = (body, icon)


def show_pending() -> None:
    """The toast an earlier run left for this one, if any."""
    queued: tuple[str, str] | None = st.session_state.pop(PENDING, None)
    if queued:
        st.toast(queued[0], icon=queued[1])
