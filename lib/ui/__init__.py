"""Small shared Streamlit widgets and the process-wide engine.

The only module in ``lib`` (with the auth glue) that imports Streamlit.
"""

from __future__ import annotations

import atexit
import base64
import logging
import os

import streamlit as st

from lib.auth import accounts as auth
from lib.core import fmt
from lib.core.lru import LRU
from lib.core.text import plain
from lib.engine import Engine
from lib.jobs import forms
from lib.jobs import queue as jobs
from lib.money import budgets
from lib.ui import signin as auth_ui
from lib.ui.guard import authed_fragment

STATUS_ICONS = {
    jobs.QUEUED: ":material/schedule:",
    jobs.RUNNING: ":material/autorenew:",
    jobs.SUCCEEDED: ":material/check_circle:",
    jobs.FAILED: ":material/error:",
    jobs.CANCELLED: ":material/cancel:",
}


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


# --------------------------------------------------------------------------- formatting


money = fmt.money  # the one money format (lib/core/fmt.py); kept here for the pages' ui.money


def seconds(ms: int | None) -> str:
    """A duration for display."""
    return "—" if ms is None else f"{ms / 1000:.1f} s"


# --------------------------------------------------------------------------- generate form


def estimate_line(eng: Engine, spec: jobs.JobSpec) -> forms.Estimate | None:
    """Show the estimated cost and duration of this request, before it runs; returns it."""
    try:
        est = forms.estimate(eng, spec)
    except Exception:  # noqa: BLE001 - an estimate must never break the form
        logging.getLogger(__name__).exception("estimate failed")
        st.caption("No estimate for these settings.")
        return None
    basis = "usually, from the team's history" if est.from_history else "a rough guess"
    st.caption(f"Estimate: **{money(est.cost_usd)}** for {fmt.plural(spec.n, 'image')} · about "
               f"{est.seconds:.0f} s ({basis})")
    return est


def budget_notes(eng: Engine, user: str, est: forms.Estimate | None, count: int = 1
                 ) -> tuple[bool, bool]:
    """Budget warnings for this request (``count`` jobs like ``est``), before it is sent.

    Returns (override chosen, would be refused): an admin gets an override box; anyone else
    sees the team's budget only as a band (lib/money/budgets.py). The page disables its button
    while the request would be refused without an override.
    """
    if est is None:  # the estimate line already said there is none
        return False, False
    admin = signed_in().role == "admin"
    total = None if est.cost_usd is None else est.cost_usd * count
    notes = budgets.notes(eng.db, user, total, eng.clock.now(), count=count, sees_team=admin)
    for note in notes:  # plain(): two "$" would otherwise render as LaTeX
        if note.over:
            st.error(plain(note.text), icon=":material/savings:")
        else:
            st.warning(plain(note.text), icon=":material/savings:")
    refused = any(n.over for n in notes)
    if notes and admin:
        return st.checkbox("Override the budget for this request (admins only; recorded)",
                           key="gen_override"), refused
    return False, refused


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


# --------------------------------------------------------------------------- images


def thumbnail(eng: Engine, key: str) -> str:
    """A presigned URL (S3), else a data URL of the small WebP thumbnail.

    Either way ``st.image`` passes it straight to the browser: no Pillow re-encoding and
    nothing kept in Streamlit's in-memory media store, so paging the gallery stays flat.
    """
    url = eng.storage.url(key, 3600)
    return url or _data_url(eng, key)


# Thumbnail data URLs by (data dir, key), ~12 MB at most. Not st.cache_data: keys are never
# reused (an image's key names its id), so nothing needs hashing or copying, and each gallery
# rerun skipped 24 argument hashes and unpickles.
_THUMBS: LRU[tuple[str, str], str] = LRU(300)


def _data_url(eng: Engine, key: str) -> str:
    slot = (str(eng.settings.data_dir), key)
    found, url = _THUMBS.get(slot)
    if found and url is not None:
        return url
    url = "data:image/webp;base64," + base64.b64encode(eng.storage.get(key)).decode("ascii")
    _THUMBS.put(slot, url)
    return url


def live_jobs(eng: Engine, user: str, job_ids: list[str]) -> None:
    """Job cards that refresh every second while any job is active, then stop."""
    polling = 1.0 if jobs.any_active(eng, job_ids) else None

    @authed_fragment(run_every=polling)
    def cards() -> None:
        from lib.ui.joblist import job_list  # grouped by batch; it imports this module

        if not job_list(eng, user, job_ids) and polling:
            st.rerun()  # a full rerun defines the fragment again, without the timer

    cards()


def pager(key: str, page: int, pages: int, total: int) -> None:
    """Previous / next buttons with "page x of y", storing the page in session state."""
    prev, label, nxt = st.columns([1, 3, 1])
    if prev.button("Previous", key=f"{key}-prev", disabled=page <= 0,
                   icon=":material/chevron_left:"):
        st.session_state[key] = page - 1
        st.rerun()
    label.caption(f"Page {page + 1} of {pages} · {total:,} in all")
    if nxt.button("Next", key=f"{key}-next", disabled=page >= pages - 1,
                  icon=":material/chevron_right:"):
        st.session_state[key] = page + 1
        st.rerun()
