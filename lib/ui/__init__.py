"""Small shared Streamlit widgets and the process-wide engine.

The only module in ``lib`` (with the auth glue) that imports Streamlit.
"""

from __future__ import annotations

import atexit
import base64
import logging
import os
from typing import Any

import streamlit as st

from lib import auth, budgets, forms, imaging, jobs
from lib.engine import Engine
from lib.lru import LRU
from lib.ui import signin as auth_ui

STATUS_ICONS = {
    jobs.QUEUED: ":material/schedule:",
    jobs.RUNNING: ":material/autorenew:",
    jobs.SUCCEEDED: ":material/check_circle:",
    jobs.FAILED: ":material/error:",
    jobs.CANCELLED: ":material/cancel:",
}
REUSE_KEYS = {"prompt": "gen_prompt", "style": "gen_style", "n": "gen_n", "seed": "gen_seed",
              "negative_prompt": "gen_negative", "provider": "gen_provider"}


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


def leave_pages_directory_mode() -> None:
    """Hand a page run straight from ``pages/`` back to app.py, which signs in and routes.

    Streamlit starts in its legacy ``pages/``-directory mode (the folder exists) and leaves
    it only when a script calls ``st.navigation``. If a fresh server's first request is a
    page URL (a bookmark, tabs reconnecting after a restart), it runs that page file without
    app.py and lists every file of ``pages/`` in a sidebar, for every visitor, until someone
    loads ``/``. Here we do what ``st.navigation`` would do first and, in a session app.py
    has not framed yet, rerun through app.py (which signs in and routes to this same URL).
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        if not st.session_state.get(FRAMED):
            st.rerun()


FRAMED = "_pb_framed"  # set by app.py in every session it has run in


def require_page(page: str) -> str:
    """The signed-in username; stops the page for anyone not signed in or whose role may not."""
    leave_pages_directory_mode()
    user = auth_ui.current_user(engine())
    if user is None:
        st.warning("Please sign in first.", icon=":material/lock:")
        st.stop()
    if not auth.can(user.role, page):
        st.error("This page is not available to your role.", icon=":material/block:")
        st.stop()
    return str(user.username)


def signed_in() -> auth.User:
    """The signed-in user (call after require_page)."""
    user = auth_ui.current_user(engine())
    assert user is not None
    return user


# --------------------------------------------------------------------------- formatting


def money(value: object) -> str:
    """USD for display; unknown costs say so."""
    if value is None:
        return "cost unknown"
    amount = float(value)  # type: ignore[arg-type]
    if amount == 0:
        return "$0.00"
    return f"${amount:,.4f}" if amount < 1 else f"${amount:,.2f}"


def seconds(ms: int | None) -> str:
    """A duration for display."""
    return "—" if ms is None else f"{ms / 1000:.1f} s"


# --------------------------------------------------------------------------- generate form


def apply_reuse() -> None:
    """Copy settings queued by "reuse settings" into the Generate widgets (once)."""
    fields: dict[str, Any] | None = st.session_state.pop("reuse", None)
    if not fields:
        return
    for name, key in REUSE_KEYS.items():
        if fields.get(name) is not None:
            st.session_state[key] = fields[name]
    provider, model = fields.get("provider"), fields.get("model")
    if provider and model:
        st.session_state[f"gen_model_{provider}"] = model


def watermark_inputs() -> imaging.WatermarkSpec | None:
    """Watermark: off, text or logo, with position and opacity; None when off or invalid."""
    kind = st.segmented_control("Watermark", ["Off", "Text", "Logo"], default="Off",
                                key="gen_wm_kind")
    if kind in (None, "Off"):
        return None
    a, b = st.columns(2)
    position = a.selectbox("Position", imaging.POSITIONS, index=3, key="gen_wm_pos")
    opacity = b.slider("Opacity", 0.1, 1.0, 0.5, 0.05, key="gen_wm_opacity")
    text = logo = None
    if kind == "Text":
        text = st.text_input("Watermark text", "© Promptboard", max_chars=200, key="gen_wm_text")
    else:
        upload = st.file_uploader("Logo (PNG with transparency works best)",
                                  type=["png", "jpg", "jpeg", "webp"], key="gen_wm_logo")
        logo = upload.getvalue() if upload else None
    try:
        return imaging.WatermarkSpec(text=text or None, logo=logo, position=position,
                                     opacity=opacity)
    except imaging.ImageError as exc:
        st.caption(f":orange[Watermark off: {exc}]")
        return None


def estimate_line(eng: Engine, spec: jobs.JobSpec) -> forms.Estimate | None:
    """Show the estimated cost and duration of this request, before it runs; returns it."""
    try:
        est = forms.estimate(eng, spec)
    except Exception:  # noqa: BLE001 - an estimate must never break the form
        logging.getLogger(__name__).exception("estimate failed")
        st.caption("No estimate for these settings.")
        return None
    basis = "usually, from the team's history" if est.from_history else "a rough guess"
    st.caption(f"Estimate: **{money(est.cost_usd)}** for {spec.n} image(s) · about "
               f"{est.seconds:.0f} s ({basis})")
    return est


def budget_notes(eng: Engine, user: str, est: forms.Estimate | None) -> bool:
    """Budget warnings for this request; admins get an override box. True: override chosen."""
    if est is None:  # the estimate line already said there is none
        return False
    notes = budgets.status(eng.db, user, est.cost_usd, eng.clock.now())
    for note in notes:
        st.warning(note, icon=":material/savings:")
    if notes and signed_in().role == "admin":
        return st.checkbox("Override the budget for this job (admins only; recorded)",
                           key="gen_override")
    return False


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


def full_image(eng: Engine, key: str) -> str | bytes:
    """A presigned URL (S3), else the image's bytes (served once through the media store)."""
    return eng.storage.url(key, 3600) or eng.storage.get(key)


def live_jobs(eng: Engine, user: str, job_ids: list[str]) -> None:
    """Job cards that refresh every second while any job is active, then stop."""
    polling = 1.0 if jobs.any_active(eng, job_ids) else None

    @st.fragment(run_every=polling)
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
