"""The Gallery's results (count, select mode, tiles, pager, detail) as one fragment.

A page flip, a tile click or the select toggle reruns only this fragment: the title, the
search box, the filters, the sidebar and the navigation are neither run nor sent again, so
flipping back to a page whose thumbnails the browser holds costs a few kilobytes (the
tiles' data and the pager) instead of the whole page's elements. The filters still run the
whole page: they are drawn outside, and the query they make comes in as an argument (a
fragment rerun keeps the arguments of the last full run); the page number is read here.
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from lib.auth.access import Viewer
from lib.engine import Engine
from lib.gallery import queries as gallery
from lib.ui import gallery_view, grid
from lib.ui.guard import authed_fragment
from lib.ui.widgets import demo_banner, pager

PAGE = "gal_page"


@authed_fragment
def results(eng: Engine, viewer: Viewer, query: gallery.GalleryFilter) -> None:
    """Draw one page of ``query``'s matches; the page number comes from session state."""
    query = dataclasses.replace(query, page=st.session_state.get(PAGE, 0))
    result = gallery_view.cached_search(eng, viewer, query)
    count, mode = st.columns([4, 1])
    if query.include_demo:
        demo_banner("images")
    count.caption(gallery_view.match_line(result,
                                          grouped=query.group_batches and not query.batch))
    selecting = mode.toggle("Select", key="gal_selecting", help="Tick images for bulk actions",
                            on_change=gallery_view.on_select_mode)
    if selecting:
        gallery_view.bulk_bar(eng, viewer, [card.id for card in result.rows])
    if not result.rows:
        st.info("Nothing here yet: generate some images, or loosen the filters"
                + ("." if query.include_demo
                   else " (demo data is off by default: see Filters)."),
                icon=":material/photo_library:")
    clicked = grid.Click()
    if selecting:  # tick boxes need a widget per tile: fixed-width tiles that wrap
        with st.container(horizontal=True, gap="small", key="gal_select_tiles"):
            for card in result.rows:
                gallery_view.tile(eng, card)
    elif result.rows:
        clicked = grid.grid([gallery_view.grid_tile(eng, card) for card in result.rows],
                            key="gal_grid")
    if clicked.batch_id:
        gallery_view.show_batch(clicked.batch_id)
    if result.pages > 1:
        pager(PAGE, result.page, result.pages, result.total)
    if clicked.image_id:  # a fresh open: no delete question left over from an earlier one
        st.session_state.pop(gallery_view.DLG_CONFIRM, None)
    opened = (clicked.image_id or st.session_state.pop("gal_open", None)
              or st.query_params.pop("image", None))
    if opened:
        gallery_view.detail(eng, viewer, opened)
