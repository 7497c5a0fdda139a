"""Admin → Models → "What a model takes": one model's sizes, ratios, qualities, images per job,
reference images and options, bounded by what the provider's wire can carry
(``lib/catalog/caps.py``), saved or put back on the shipped file. This draws it."""

from __future__ import annotations

import streamlit as st

from lib.auth.accounts import User
from lib.catalog import caps, store
from lib.core.text import plain
from lib.engine import Engine
from lib.providers import registry
from lib.providers.types import ModelCaps


def caps_panel(eng: Engine, me: User, provider: str, mine: list[store.ModelRow]) -> None:
    """Pick a model, change what it takes, save; or reset it to the shipped capabilities."""
    cls = registry.get(provider)
    st.markdown("**What a model takes**")
    st.caption("Narrow a model for your team, or tell Promptboard what a model enabled from a "
               "check really takes (its maker's page says). Only what the provider's API "
               "can carry is offered here.")
    names = [r.model for r in mine]
    pick = st.selectbox("Model", names, key=f"caps_model_{provider}", format_func=plain)
    row = next((r for r in mine if r.model == pick), None)
    if row is None:
        return
    now, whence = caps.current(row)
    top = caps.envelope(cls)
    st.caption(plain(f"Now: {now.describe()} ({whence})."))
    key = f"caps_{provider}_{row.model}"
    with st.form(key=f"{key}_form", border=False):
        sizes = (st.multiselect("Sizes", top.sizes, default=[s for s in now.sizes
                                                             if s in top.sizes],
                                key=f"{key}_sizes") if top.sizes else [])
        ratios = (st.multiselect("Aspect ratios", top.aspect_ratios,
                                 default=[a for a in now.aspect_ratios if a in top.aspect_ratios],
                                 key=f"{key}_ratios") if top.aspect_ratios else [])
        qualities = (st.multiselect("Qualities", top.qualities,
                                    default=[q for q in now.qualities if q in top.qualities],
                                    key=f"{key}_qualities") if top.qualities else [])
        left, right = st.columns(2)
        max_n = left.number_input("Images per job, at most", 1, top.max_n,
                                  min(max(now.max_n, 1), top.max_n), key=f"{key}_n")
        refs = (right.number_input("Reference images, at most", 0, top.max_reference_images,
                                   min(now.max_reference_images, top.max_reference_images),
                                   key=f"{key}_refs") if top.max_reference_images else 0)
        flags = {name: st.checkbox(label, value=getattr(now, name), key=f"{key}_{name}")
                 for name, label in (("seed", "Takes a seed"),
                                     ("negative_prompt", "Takes a negative prompt"),
                                     ("style_presets", "Takes the provider's style presets"),
                                     ("open_sizes", "Takes any size (the sizes are presets)"))
                 if getattr(top, name)}
        saved = st.form_submit_button("Save what it takes", icon=":material/save:")
    if saved:
        want = ModelCaps(tuple(sizes), tuple(ratios), tuple(qualities), int(max_n), int(refs),
                         **{name: bool(on) for name, on in flags.items()})
        _write(eng, me, row, want, f"Saved what {row.model} takes.")
    if row.caps is not None and st.button("Back to the shipped settings", key=f"{key}_reset",
                                          icon=":material/restart_alt:"):
        _write(eng, me, row, None, f"{row.model} takes the shipped settings again.")


def _write(eng: Engine, me: User, row: store.ModelRow, want: ModelCaps | None,
           done: str) -> None:
    try:
        caps.set_caps(eng.db, me.username, row.provider, row.model, want, eng.clock.now())
    except store.CatalogError as exc:
        st.error(plain(exc), icon=":material/error:")
        return
    for suffix in ("sizes", "ratios", "qualities", "n", "refs", "seed", "negative_prompt",
                   "style_presets", "open_sizes"):  # the form shows the saved values
        st.session_state.pop(f"caps_{row.provider}_{row.model}_{suffix}", None)
    st.session_state["models_flash"] = done
    st.rerun()
