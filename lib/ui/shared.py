"""The server process's one engine, shared by the dashboard's pages and the HTTP routes.

``engine()`` builds the engine and its worker pool once (``st.cache_resource``, released with
the process), per data dir should the environment name another (the benchmarks render two
data dirs turn about). Pages reach it through ``lib.ui.runtime``; the routes of ``serve.py``
call it here. Importing the widgets of ``lib.ui`` outside a page run would declare
streamlit-authenticator's cookie component before Streamlit serves it, and every page would
hang on its skeleton (the browser tests caught it); so this module imports Streamlit's cache
and no other ``lib.ui`` module, and the package loads its re-exports lazily.
"""

from __future__ import annotations

import atexit
import logging
import os

import streamlit as st

from lib.engine import Engine


def _release(eng: Engine) -> None:
    eng.close()


def engine() -> Engine:
    """The process's engine, built on first use."""
    return _engine(os.environ.get("PROMPTBOARD_DATA_DIR", ""))


@st.cache_resource(show_spinner=False, on_release=_release)
def _engine(data_dir: str) -> Engine:
    logging.basicConfig(level=logging.INFO)
    eng = Engine()
    eng.start_workers()
    atexit.register(eng.close)  # release DuckDB cleanly when the server stops
    return eng
