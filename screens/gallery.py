"""Gallery: every image I may see, searchable, 24 to a page, with a detail view."""

import streamlit as st

from lib import ui
from lib.auth.access import Viewer
from lib.core.text import plain
from lib.gallery import queries as gallery
from lib.ui import gallery_results, gallery_tags, gallery_view, toasts

eng = ui.engine()
me = ui.require_page("gallery")
viewer = Viewer(me.username, me.role)

st.title("Gallery")
toasts.show_pending()  # e.g. "Deleted 3 images.", said before the rerun that follows a delete
facets = gallery_view.cached_facets(eng, viewer)
top, sort_col, group_col = st.columns([5, 2, 2], vertical_alignment="bottom")
text = top.text_input("Search prompts and tags", key="gal_text",
                      placeholder="lighthouse, fox, neon…")
sort = sort_col.selectbox("Sort", gallery.SORTS, key="gal_sort", format_func=str.title)
group = group_col.toggle("Group batches", key="gal_group",
                         help="One tile per batch of variations, with how many it holds.")
batch = st.session_state.get("gal_batch") or ""
if batch:
    note, back = st.columns([5, 1], vertical_alignment="center")
    note.info(f"Showing one batch ({plain(batch)}): the variations queued together.",
              icon=":material/burst_mode:")
    if back.button("Show all", key="gal_batch_clear", icon=":material/close:"):
        st.session_state.pop("gal_batch", None)
        st.rerun()
with st.expander("Filters"):
    a, b, c = st.columns(3)
    providers = a.multiselect("Provider", facets["providers"], key="gal_providers")
    models = b.multiselect("Model", facets["models"], key="gal_models")
    labels = gallery_view.style_labels(eng)
    styles = c.multiselect("Style", facets["styles"], key="gal_styles",
                           format_func=lambda s: labels.get(s, s))
    users = (a.multiselect("User", facets["users"], key="gal_users") if viewer.sees_all else [])
    dates = b.date_input("Dates", value=[], key="gal_dates")  # [] is an empty range
    with c:
        favourites = st.toggle("My favourites", key="gal_fav")
        shared = st.toggle("Shared with the team", key="gal_shared")
        mine = st.toggle("Only mine", key="gal_mine")
        demo = st.toggle("Include demo data", value=False, key="gal_demo",
                         help="Off by default: the synthetic demo history stays out of view.")
    with b:
        tags, tags_all = gallery_tags.filter_widgets(eng, viewer)

date_from, date_to = (tuple(dates) + (None, None))[:2] if dates else (None, None)
page_no = st.session_state.get("gal_page", 0)
query = gallery.GalleryFilter(
    text=text, providers=tuple(providers), models=tuple(models), styles=tuple(styles),
    users=tuple(users),
    date_from=date_from, date_to=date_to or date_from, favourites_only=favourites,
    shared_only=shared, mine_only=mine, include_demo=demo, batch=batch, group_batches=group,
    tags=tags, tags_all=tags_all,
    sort=sort, page=page_no)
if st.session_state.get("gal_query") != query.__dict__ | {"page": 0}:
    st.session_state["gal_query"] = query.__dict__ | {"page": 0}
    if page_no:  # filters changed: back to the first page
        st.session_state["gal_page"] = 0
        st.rerun()
gallery_results.results(eng, viewer, query)  # a flip reruns only the results
