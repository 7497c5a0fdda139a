"""The dashboard's runtime: one engine per server process, and the gate each screen opens with.

``engine()`` is the process's one engine (``lib.ui.shared``, which the HTTP routes share);
``require_page(name)`` is the first line of every screen: it returns the
signed-in ``User`` or stops the page for anyone not signed in or whose role may not open it.
"""

from __future__ import annotations

import streamlit as st

from lib.auth import accounts as auth
from lib.ui import signin as auth_ui
from lib.ui.shared import engine

__all__ = ["engine", "require_page", "signed_in"]


def require_page(page: str) -> auth.User:
    """The signed-in user, the one line each page opens with; stops the page for anyone not
    signed in, or whose role may not see it."""
    user = auth_ui.current_user(engine())
    if user is None:
        st.warning("Please sign in first.", icon=":material/lock:")
        st.stop()
    if not auth.can(user.role, page):
        st.error("This page is not available to your role.", icon=":material/block:")
        st.stop()
    return user


def signed_in() -> auth.User:
    """The signed-in user (call after require_page)."""
    user = auth_ui.current_user(engine())
    assert user is not None
    return user
