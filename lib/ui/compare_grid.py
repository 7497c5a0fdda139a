"""A saved comparison's live grid: prompts down, column settings across, one cell per pair.

The grid polls (``authed_fragment(run_every=...)``) only while some cell is queued or
running, and shows at most :data:`ROWS_PER_PAGE` rows at a time so a 50-row grid stays
responsive. Each cell is a keyed, bordered container: ``cmp_cell_<id>_<row>_<col>``, or
``cmp_winner_...`` for its row's winner, which :data:`_CSS` frames in gold (a frame, not an
emoji a browser may draw as a box). A cell offers "Enlarge" (the image large, in a dialog)
and, to whoever may edit the comparison, "Pick as winner" / "Clear winner".

The matrix is one keyed container (:data:`MATRIX`) whose rows never wrap: on a phone it
keeps its rows and columns and scrolls sideways, instead of Streamlit's stacking of columns
that put all the headings above all the cells.
"""

from __future__ import annotations

import streamlit as st

from lib import jobs
from lib.auth.access import Viewer
from lib.compare import export, store
from lib.compare import grid as compare
from lib.core.text import plain, shorten
from lib.engine import Engine
from lib.gallery import queries as gallery
from lib.ui import board_picker
from lib.ui import media as media_ui
from lib.ui.display import STATUS_ICONS, money, seconds
from lib.ui.guard import authed_callback, authed_dialog, authed_fragment
from lib.ui.media import image_src
from lib.ui.widgets import pager

ROWS_PER_PAGE = 10
POLL_S = 1.5
MATRIX = "cmp_matrix"  # the key of the grid's container
PROMPT_WEIGHT, CELL_WEIGHT = 1.4, 1.0  # the prompt column is wider than a cell
PROMPT_MIN_REM, CELL_MIN_REM = 7, 12  # below these the matrix scrolls sideways (on a phone
# the next column peeks in at the right edge, so it is plain there is more)
BIG = "cmp_big"  # the key of the enlarged image's container in the dialog
WIN = "#d6a000"  # the winner's frame: the PNG export's colour (lib.compare.export.WIN)


def _css(columns: int) -> str:
    """The matrix's layout: rows that never wrap, a minimum width per column, the frame."""
    least = PROMPT_MIN_REM + columns * CELL_MIN_REM + columns  # + the gaps
    return f"""<style>
.st-key-{MATRIX} {{ overflow-x: auto; padding-bottom: .25rem; }}
.st-key-{MATRIX} [data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"]) {{
  flex-wrap: nowrap; min-width: {least}rem;  /* the rows of columns, not a cell's buttons */
}}
.st-key-{MATRIX} [data-testid="stColumn"] {{ min-width: {CELL_MIN_REM}rem; }}
.st-key-{MATRIX} [data-testid="stColumn"]:first-child {{ min-width: {PROMPT_MIN_REM}rem; }}
[class*="st-key-cmp_winner_"] {{  /* 3 px of gold; inset, so nothing moves or is clipped */
  border-color: {WIN} !important;
  box-shadow: inset 0 0 0 2px {WIN};
}}
.st-key-{BIG} [data-testid="stFullScreenFrame"] {{ display: flex; justify-content: center; }}
.st-key-{BIG} img {{ max-height: 75vh; width: auto !important; max-width: 100%;
  object-fit: contain; }}
</style>"""


def live_grid(eng: Engine, viewer: Viewer, comp: store.Comparison) -> None:
    """The grid, refreshed while any cell is queued or running, then still."""
    now = [store.cell_states(eng, viewer, comp)]  # this run's states; fragment reruns re-read
    polling = POLL_S if store.any_active(now[0]) else None

    @authed_fragment(run_every=polling)
    def grid() -> None:
        states = now.pop() if now else store.cell_states(eng, viewer, comp)
        winners = store.winners(eng, comp.id)
        done = sum(1 for s in states if s.status not in jobs.ACTIVE)
        st.progress(done / max(1, len(states)), text=f"{done} of {len(states)} cells done")
        stoppable = store.any_active(states) and comp.editable_by(viewer)
        if stoppable and st.button("Cancel the rest", key="cmp_cancel", icon=":material/cancel:"):
            store.cancel_active(eng, viewer, comp.id)
            st.rerun(scope="fragment")
        pages = -(-len(comp.grid.rows) // ROWS_PER_PAGE)
        page = min(st.session_state.get("cmp_page", 0), pages - 1)
        first = page * ROWS_PER_PAGE
        shown = range(first, min(first + ROWS_PER_PAGE, len(comp.grid.rows)))
        widths = [PROMPT_WEIGHT] + [CELL_WEIGHT] * len(comp.grid.columns)
        st.html(_css(len(comp.grid.columns)))
        with st.container(key=MATRIX):
            head = st.columns(widths)
            head[0].caption("Prompt")
            for c, column in enumerate(comp.grid.columns):
                head[c + 1].markdown(f"**{plain(column.label)}**")
            for r in shown:
                _row(eng, viewer, comp, r, [s for s in states if s.row == r], winners.get(r),
                     widths)
        if pages > 1:
            pager("cmp_page", page, pages, len(comp.grid.rows))
        _exports(eng, comp, states, winners)
        made = [s.image_id for s in states if s.image_id]
        if made and not store.any_active(states):
            with st.expander("Add this grid's images to a board"):
                board_picker.add_row(eng, viewer, made, key="cmp-board", skip_unseen=True)
        if polling and not store.any_active(states):
            st.rerun()  # a full rerun defines the fragment again, without the timer

    grid()


def _row(eng: Engine, viewer: Viewer, comp: store.Comparison, r: int,
         states: list[store.CellState], winner: int | None, widths: list[float]) -> None:
    cols = st.columns(widths)
    with cols[0]:
        st.markdown(plain(comp.grid.rows[r], one_line=False))
        if winner is not None:
            st.caption(f"Winner: {plain(comp.grid.columns[winner].label)}")
    for s in states:
        with cols[s.col + 1]:
            _cell(eng, viewer, comp, s, winner)


def _cell(eng: Engine, viewer: Viewer, comp: store.Comparison, s: store.CellState,
          winner: int | None) -> None:
    won = winner == s.col
    where = f"{comp.id}_{s.row}_{s.col}"
    with st.container(border=True, key=f"cmp_winner_{where}" if won else f"cmp_cell_{where}"):
        _cell_body(eng, viewer, comp, s, won, where)


def _cell_body(eng: Engine, viewer: Viewer, comp: store.Comparison,
               s: store.CellState, won: bool, where: str) -> None:
    label = plain(comp.grid.columns[s.col].label)
    if s.thumb_key and s.image_id:
        st.image(image_src(eng, s.image_id, s.thumb_key), width="stretch")
        # the column's label too: in a wide grid the headings may be scrolled away
        st.caption(f"{label} · {money(s.cost_usd)} · {seconds(s.duration_ms)}"
                   + (f" · {s.avg_rating:.1f}★ ({s.ratings})" if s.ratings else ""))
        with st.container(horizontal=True, gap="small", vertical_alignment="center"):
            if won:  # in words too, beside the frame
                st.badge("Winner", icon=":material/trophy:", color="orange")
            if st.button("Enlarge", key=f"cmp_big_{where}", icon=":material/zoom_in:"):
                _enlarge(eng, viewer, s.image_id, comp.grid.rows[s.row],
                         comp.grid.columns[s.col].label)
            if comp.editable_by(viewer):
                st.button("Clear winner" if won else "Pick as winner", key=f"cmp_pick_{where}",
                          icon=":material/close:" if won else ":material/trophy:",
                          type="tertiary" if won else "secondary", on_click=_pick,
                          args=(eng, viewer, comp.id, s.row, None if won else s.col))
        key = f"cmp_rate_{s.image_id}"
        st.feedback("stars", key=key, default=s.my_rating - 1 if s.my_rating else None,
                    on_change=_rate, args=(eng, viewer, s.image_id, key))
    else:
        st.caption(label)
        if s.image_hidden:
            st.caption("Image not shared with you.")
        elif s.status in jobs.ACTIVE:
            st.caption(f"{STATUS_ICONS[s.status]} {s.status.title()}…")
        elif s.status == store.BLOCKED:
            st.info(plain(s.note) if s.note else "This column cannot run.",
                    icon=":material/key_off:")
        else:
            st.error(plain(s.error or s.note or s.status.title()), icon=":material/error:")
    if s.note and (s.thumb_key or s.error):  # what differs from what was asked (size, seed)
        st.caption(plain(s.note))
    if s.retryable and viewer.username == comp.owner:
        action = "Retry" if s.job_id else "Run"
        if st.button(action, key=f"cmp_retry_{where}", icon=":material/refresh:"):
            try:
                store.retry(eng, viewer, comp.id, s.row, s.col)
            except (compare.CompareError, jobs.SubmitError) as exc:
                st.error(plain(exc), icon=":material/error:")
            else:
                st.rerun()  # the whole page, so the grid polls again


@authed_dialog("Image", width="large")
def _enlarge(eng: Engine, viewer: Viewer, image_id: str, prompt: str,
             column: str) -> None:
    """One cell's image, large, with its prompt and column (visibility checked again)."""
    img = gallery.get_image(eng.db, viewer, image_id)
    if img is None:
        st.error("No such image, or it is not yours to see.", icon=":material/block:")
        return
    st.caption(f"{plain(column)} · {plain(shorten(prompt, 300))}")
    media_ui.picture(st.container(key=BIG), eng, img.id,
                     img.watermarked_key or img.original_key)
    st.page_link("screens/gallery.py", label="Open in the Gallery",
                 icon=":material/open_in_full:", query_params={"image": image_id})


@authed_callback  # a callback runs before the grid's own session check
def _pick(eng: Engine, viewer: Viewer, comparison_id: str, row: int,
          col: int | None) -> None:
    """Make ``col`` the row's winner (None clears it) before the grid draws again."""
    try:
        store.set_winner(eng, viewer, comparison_id, row, col)
    except compare.CompareError as exc:
        st.toast(plain(exc), icon=":material/error:")


@authed_callback  # a callback runs before the grid's own session check
def _rate(eng: Engine, viewer: Viewer, image_id: str, key: str) -> None:
    """Store a star click before the rerun, so the grid shows it at once (None clears it)."""
    value = st.session_state.get(key)
    stars = None if value is None else int(value) + 1
    gallery.rate(eng.db, viewer, image_id, stars, eng.clock.now())


def _exports(eng: Engine, comp: store.Comparison, states: list[store.CellState],
             winners: dict[int, int]) -> None:
    a, b, _ = st.columns([1, 1, 3])
    a.download_button("Grid as PNG", data=lambda: export.grid_png(eng, comp, states, winners),
                      file_name=f"comparison-{comp.id}.png", mime="image/png",
                      key="cmp_png", icon=":material/image:", on_click="ignore")
    b.download_button("Grid as CSV", data=lambda: export.grid_csv(comp, states, winners),
                      file_name=f"comparison-{comp.id}.csv", mime="text/csv",
                      key="cmp_csv", icon=":material/table:", on_click="ignore")
