"""Styles library widgets: a style's preview and card, the propose form, and the fields the
admin's edit form shares. Previews are jobs (``lib.jobs.style_previews``); the library refreshes
itself every two seconds while one of them runs, then stops."""

from __future__ import annotations

from typing import Any

import streamlit as st

from lib.auth.accounts import User
from lib.core.text import plain
from lib.engine import Engine
from lib.jobs import style_previews
from lib.jobs.style_previews import PreviewJob
from lib.providers import registry
from lib.styles import library as styles
from lib.styles import lifecycle as style_lifecycle
from lib.ui import access, toasts
from lib.ui.guard import authed_fragment
from lib.ui.media import thumbnail

BADGES = {"active": ":green-badge[active]", "proposed": ":orange-badge[proposed]",
          "archived": ":gray-badge[archived]"}
FLASH = "styles_flash"


def style_fields(s: styles.Style) -> tuple[str, str, str, dict[str, Any]]:
    """Name, template, negative prompt and suggested settings inputs (inside a form)."""
    label = st.text_input("Name", s.label, max_chars=styles.MAX_LABEL)
    template = st.text_area("Template", s.template, max_chars=styles.MAX_TEMPLATE,
                            help="{prompt} is replaced by the user's prompt.")
    negative = st.text_input("Negative prompt", s.negative, max_chars=styles.MAX_NEGATIVE)
    a, b, c, d = st.columns(4)
    ids, got = ["", *registry.PROVIDERS], s.settings.get
    settings = {
        "provider": a.selectbox("Suggested provider", ids, ids.index(got("provider", ""))
                                if got("provider", "") in ids else 0),
        "model": b.text_input("Suggested model", got("model", "")),
        "quality": c.text_input("Suggested quality", got("quality", "")),
        "size": d.text_input("Suggested size", got("size", ""), placeholder="1024x1024")}
    return label, template, negative, settings


def preview_jobs(eng: Engine) -> dict[str, PreviewJob]:
    """Keep finished previews, then every style's unfinished or failed preview job."""
    style_previews.collect(eng)
    return style_previews.pending(eng)


def preview_box(eng: Engine, me: User, s: styles.Style, job: PreviewJob | None,
                key: str) -> None:
    """The preview thumbnail (or a placeholder), its job's state, and a button to draw it."""
    current = s.preview_key == s.preview_key_for()
    if s.preview_key and eng.storage.exists(s.preview_key):
        st.image(thumbnail(eng, s.preview_key), width="stretch",
                 caption=None if current else "Drawn from an older template")
    else:  # a square-ish empty frame, so cards with and without a preview line up
        st.container(height=140, border=True, horizontal_alignment="center",
                     vertical_alignment="center").caption(":material/image: No preview yet")
    if job is not None and job.pending:
        st.caption(f":material/schedule: Drawing… ({job.status})")
        return
    if job is not None:
        why = plain(job.error_message or "no reason given")
        st.caption(f":orange[Preview {job.status}:] {why}")
    if me.role in ("admin", "member") and not current and st.button(
            "Draw preview", key=f"{key}_pv_{s.id}", icon=":material/image:", width="stretch",
            help="Queues one image in this style, in your name (the style's suggested "
                 "provider if it is set up, else the free sandbox)."):
        try:
            style_previews.request(eng, me, s.id)
        except styles.StyleError as exc:
            st.error(plain(exc), icon=":material/error:")
        else:
            st.rerun()


def use_style(eng: Engine, me: User, s: styles.Style) -> None:
    """Open Generate with this style and, where they fit and ``me`` may use them, its
    suggested settings (a model off ``me``'s list leaves Generate's own choice, and says so)."""
    reuse: dict[str, Any] = {"style": s.id}
    provider = s.settings.get("provider")
    cls = registry.PROVIDERS.get(provider or "")
    if cls is not None and registry.is_configured(cls):
        book = access.book(eng, me)
        model = s.settings.get("model") or book.line(cls.id).default
        if not access.grant(eng, me).allows(cls.id, model):
            toasts.later(plain(f"“{s.label}” suggests {model}, which is not on your "
                               "list: Generate keeps its model."), ":material/lock:")
        else:
            reuse.update(provider=cls.id, model=model)
            caps = book.caps(cls.id, model)
            for kind, values in (("quality", caps.qualities), ("size", caps.sizes)):
                if s.settings.get(kind) in values:
                    st.session_state[f"gen_{kind}_{cls.id}_{model}"] = s.settings[kind]
    st.session_state["reuse"] = reuse
    st.switch_page("screens/generate.py")


def shutdown_flag(eng: Engine, me: User, s: styles.Style, key: str, flash: str = FLASH) -> None:
    """A style suggesting a model that shuts down within 30 days (or has): the warning, and
    for an admin the one-click move to the replacement its maker names."""
    found = style_lifecycle.warning_for(s, eng.clock.now().date(), eng.models())
    if found is None:
        return
    st.warning(plain(found.text(eng.clock.now().date())), icon=":material/schedule:")
    if me.role == "admin" and st.button(f"Suggest {found.replacement} instead",
                                        key=f"{key}_move_{s.id}", icon=":material/swap_horiz:"):
        try:
            moved = style_lifecycle.move_to_replacement(eng.db, me, s.id, eng.clock.now())
        except styles.StyleError as exc:
            st.error(plain(exc), icon=":material/error:")
        else:
            st.session_state[flash] = f"“{moved.label}” now suggests {found.replacement}."
            st.rerun()


def card(eng: Engine, me: User, s: styles.Style, job: PreviewJob | None) -> None:
    """One style as its users see it: preview, template, notes, Use."""
    with st.container(border=True):
        pic, body = st.columns([2, 3], gap="small")
        with pic:
            preview_box(eng, me, s, job, "lib")
        body.markdown(f"**{plain(s.label)}** {BADGES[s.status]}")
        body.code(s.template, language=None, wrap_lines=True)
        body.caption(plain(s.summary(), one_line=False))
        with body:
            shutdown_flag(eng, me, s, "lib")
        if s.status == styles.ACTIVE and body.button("Use", key=f"lib_use_{s.id}",
                                                     icon=":material/brush:", type="primary"):
            use_style(eng, me, s)


def library(eng: Engine, me: User) -> None:
    """Active styles, then the viewer's own proposals; admins also see everyone's."""
    jobs_now = preview_jobs(eng)
    polling = 2.0 if any(j.pending for j in jobs_now.values()) else None

    @authed_fragment(run_every=polling)
    def grid() -> None:
        found = preview_jobs(eng) if polling else jobs_now
        every = styles.list_styles(eng.db, include_proposed=True)
        active = [s for s in every if s.status == styles.ACTIVE and s.id != "none"]
        waiting = [s for s in every if s.status == styles.PROPOSED
                   and (me.role == "admin" or s.created_by == me.username)]
        _grid(eng, me, active, found)
        if waiting:
            st.subheader("Proposals waiting for an admin")
            if me.role == "admin":
                st.caption("Approve, edit or archive them in Admin → Styles.")
            _grid(eng, me, waiting, found)
        if polling and not any(j.pending for j in found.values()):
            st.rerun()  # all drawn: a full rerun defines the fragment again, without the timer

    grid()


def _grid(eng: Engine, me: User, items: list[styles.Style],
          found: dict[str, PreviewJob]) -> None:
    for start in range(0, len(items), 2):  # a row per pair: a phone keeps reading order
        for col, s in zip(st.columns(2), items[start:start + 2], strict=False):
            with col:
                card(eng, me, s, found.get(s.id))


def propose_form(eng: Engine, me: User) -> None:
    """A member's (or admin's) proposal; an admin approves it before the team can use it."""
    form_no = st.session_state.get("styles_form", 0)
    with st.form(f"styles_propose_{form_no}"):
        label, template, negative, settings = style_fields(styles.Style("", "", "{prompt}"))
        if st.form_submit_button("Propose", type="primary", icon=":material/send:"):
            try:
                made = styles.propose(eng.db, me, label, template, negative, settings,
                                      eng.clock.now())
            except styles.StyleError as exc:
                st.error(plain(exc), icon=":material/error:")
            else:
                st.session_state[FLASH] = (f"Proposed “{made.label}”: an admin will review it. "
                                           "You can draw its preview meanwhile.")
                st.session_state["styles_form"] = form_no + 1
                st.rerun()
