"""Admin → Models: each provider's models as a table an admin edits (offered, default,
shutdown date and replacement), what each model takes (``caps_admin``), what its latest
model check found, and "Enable" for a new id. The logic is ``lib/catalog`` (edits, store,
checks, caps); this draws it."""

from __future__ import annotations

from datetime import date

import streamlit as st

from lib.auth.accounts import User
from lib.catalog import checks, edits, lifecycle, store
from lib.core.fmt import plural
from lib.core.text import plain
from lib.engine import Engine
from lib.providers import discovery, registry
from lib.ui import caps_admin

SHOWN_NEW = 12  # new ids offered as buttons; more go in a picker
LOOKUPS = {  # providers whose catalogue is too big to list: each id offered here is looked up
    "replicate": "Replicate is asked about each model offered or known here (at most "
                 f"{discovery.MAX_LOOKUPS} a check; one that no longer exists is gone), and "
                 "its curated text-to-image collection names new ones.",
    "fal": "fal.ai's model search is asked about each model offered or known here (at most "
           f"{discovery.MAX_LOOKUPS} a check): one it no longer has is gone, one it marks "
           "deprecated is named; its active text-to-image models name new ones.",
}


def models_section(eng: Engine, me: User) -> None:
    """Shutdowns within 30 days, then one editor per provider."""
    today = eng.clock.now().date()
    st.caption("Which models each provider offers, its default, and when its maker shuts a "
               "model down (from that date it is refused at submit, naming the replacement; "
               "its history stays readable). Rows start from the catalog shipped with "
               "Promptboard and keep your edits: a newer release only moves rows nobody "
               "edited. A model check lists what a provider added or dropped; it never "
               "turns anything on by itself.")
    for found in lifecycle.coming(today, book=eng.models()):
        st.warning(plain(found.text(today)), icon=":material/schedule:")
    if flash := st.session_state.pop("models_flash", None):
        st.success(plain(flash), icon=":material/check_circle:")
    rows = store.rows(eng.db)
    last = checks.latest(eng)
    for status in registry.statuses():
        mine = [r for r in rows if r.provider == status.id]
        if not mine:  # a configured OpenAI-compatible endpoint: its models are its config's
            st.caption(plain(f"{status.label}: {', '.join(eng.models().live(status.id, today))}"
                             " — from the endpoints file (PROMPTBOARD_ENDPOINTS_FILE); change "
                             "them there and restart."))
            continue
        live = eng.models().live(status.id, today)
        with st.expander(f"{status.label}: {plural(len(live), 'model')} offered today",
                         icon=":material/view_list:"):
            editor(eng, me, status.id, mine, today)
            caps_admin.caps_panel(eng, me, status.id, mine)
            check_panel(eng, me, status.id, status.configured, last.get(status.id), today)


def editor(eng: Engine, me: User, provider: str, mine: list[store.ModelRow],
           today: date) -> None:
    """The provider's rows, editable where an admin may change them, and Save."""
    edited = st.data_editor(
        edits.table(mine, today), key=f"models_table_{provider}", hide_index=True,
        width="stretch", num_rows="fixed",
        disabled=[c for c in edits.COLUMNS if c not in edits.EDITABLE],
        column_config={
            "offered": st.column_config.CheckboxColumn(
                "Offered", help="Shown on Generate, Compare, Styles and the API"),
            "default": st.column_config.CheckboxColumn("Default", help="One per provider"),
            "shutdown": st.column_config.DateColumn(
                "Shuts down", format="YYYY-MM-DD",
                help="Warned 30 days before; refused from this date"),
            "replacement": st.column_config.TextColumn(
                "Replacement", help="Another model of this provider, named in the warning"),
        })
    if st.button("Save changes", key=f"models_save_{provider}", icon=":material/save:"):
        found = edits.changes(mine, edited.to_dict("records"))
        problems = edits.apply(eng.db, me.username, provider, found, eng.clock.now())
        for p in problems:
            st.error(plain(p), icon=":material/error:")
        if not problems:
            del st.session_state[f"models_table_{provider}"]  # no stale edit is saved again
            st.session_state["models_flash"] = (f"Saved {plural(len(found), 'change')} to "
                                                f"{registry.get(provider).label}'s models.")
            st.rerun()


def check_panel(eng: Engine, me: User, provider: str, configured: bool,
                last: checks.LastCheck | None, today: date) -> None:
    """The latest check's outcome with Enable buttons, and Check models."""
    cls = registry.get(provider)
    if not checks.lists_models(cls):
        st.caption(f"{cls.label}'s API has no model list or lookup, so new models cannot be "
                   "found here; its ids are taken as typed or added to the shipped catalog.")
        return
    if cls.id in LOOKUPS:
        st.caption(LOOKUPS[cls.id])
    if st.button("Check models", key=f"models_check_{provider}", disabled=not configured,
                 icon=":material/travel_explore:",
                 help="Asks the provider for its models now; changes nothing"):
        with st.spinner(f"Asking {cls.label} for its models…"):
            st.session_state[f"models_checked_{provider}"] = checks.check_now(eng, provider,
                                                                              today)
    fresh = st.session_state.get(f"models_checked_{provider}")
    if fresh is not None:
        models_found(eng, me, provider, fresh, today)
    elif last is not None:
        said = f"Last checked {last.checked_at:%Y-%m-%d %H:%M} UTC."
        if last.listed is None and not last.error:
            st.caption(f"A check started {last.checked_at:%Y-%m-%d %H:%M} UTC and has not "
                       "finished (or its process stopped); the next one is due a day later.")
        elif last.error:
            st.caption(plain(f"{said} It failed: {last.error}"))
        else:
            st.caption(plain(f"{said} It found {plural(last.listed or 0, 'model')}."))
            deprecated_note(last.deprecated)
            enable_buttons(eng, me, provider, last.new, last.gone)
    elif not configured:
        st.caption(plain(cls.configure_hint()))


def models_found(eng: Engine, me: User, provider: str, found: discovery.Discovery | str,
                 today: date) -> None:
    """A check's outcome: new and vanished models (Enable), and the known shutdowns."""
    if isinstance(found, str):
        st.error(plain(found), icon=":material/error:")
        return
    (st.warning if found.gone else st.info)(plain(found.summary()), icon=":material/list:")
    for r in found.retired:
        when = "shut down" if today >= r.on else "shuts down"
        seen = "still listed" if r.listed else "no longer listed"
        st.caption(plain(f"{r.model}: {when} {r.on.isoformat()} (→ {r.replacement}); {seen}."))
    enable_buttons(eng, me, provider, found.new, ())


def deprecated_note(ids: tuple[str, ...]) -> None:
    """The ids the provider marked deprecated, kept from the latest check."""
    if ids:
        st.warning(plain(f"Deprecated by the provider: {', '.join(ids)}: it may shut down "
                         "soon; set its shutdown date and replacement above."),
                   icon=":material/schedule:")


def enable_buttons(eng: Engine, me: User, provider: str, new: tuple[str, ...],
                   gone: tuple[str, ...]) -> None:
    """One Enable per new id (a picker past ``SHOWN_NEW``); the vanished ones named."""
    if gone:
        st.warning(plain(f"No longer listed, but offered here: {', '.join(gone)}: probably "
                         "shut down; set its shutdown date and replacement above."),
                   icon=":material/help:")
    line = eng.models().line(provider)
    new = tuple(m for m in new if m not in line.offered)  # enabled since the check
    if not new:
        return
    st.markdown(f"**New at {plain(registry.get(provider).label)}** — enabling one offers it "
                "at once with basic settings (one image, default size, no reference) and "
                "cost unknown until you add a price on the Prices tab.")
    picks = list(new[:SHOWN_NEW])
    if len(new) > SHOWN_NEW:
        more = st.selectbox(f"{len(new) - SHOWN_NEW} more", new[SHOWN_NEW:], index=None,
                            key=f"models_more_{provider}", placeholder="Choose a model id")
        picks += [more] if more else []
    for model in picks:
        if st.button(plain(f"Enable {model}"), key=f"models_enable_{provider}_{model}",
                     icon=":material/add_circle:"):
            try:
                store.enable(eng.db, me.username, provider, model, eng.clock.now())
            except store.CatalogError as exc:
                st.error(plain(exc), icon=":material/error:")
            else:
                st.session_state.pop(f"models_checked_{provider}", None)
                st.session_state["models_flash"] = (
                    f"{model} is offered now, with basic settings and cost unknown until a "
                    "price is added.")
                st.rerun()
