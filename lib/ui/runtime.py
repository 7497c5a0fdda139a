"""The dashboard's runtime: one engine per server process, and the gate each screen opens with.

``engine()`` builds the engine and its worker pool once (``st.cache_resource``, released with
the process); ``require_page(name)`` is the first line of every screen: it returns the
signed-in ``User`` or stops the page for anyone not signed in or whose role may not open it.
"""

from __future__ import annotations

import atexit
import logging
import os

import streamlit as st

from lib.auth import accounts as auth
from lib.engine import Engine
from lib.ui import signin as auth_ui


def _release(eng: Engine) -> None:
    eng.close()


def engine() -> Engine:
    """One engine and one worker pool per server process (per data dir, should the
    environment name another: the benchmarks render two data dirs turn about)."""
    return _engine(os.environ.get("PROMPTBOARD_DATA_DIR", ""))


@st.cache_resource(show_spinner=False, on_release=_release)
def _engine(data_dir: str) -> Engine:
    logging.basicConfig(level=logging.INFO)
    eng = Engine()
    eng.start_workers()
    atexit.register(eng.close)  # release DuckDB cleanly when the server stops
    return eng


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
