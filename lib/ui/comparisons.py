"""Compare page widgets: the grid builder, the estimate before a run, the saved list, and a
saved comparison's header (its live grid and exports are :mod:`lib.ui.compare_grid`).
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from lib.auth.access import Viewer
from lib.catalog import lifecycle
from lib.compare import estimate as estimates
from lib.compare import grid as compare
from lib.compare import lifecycle as compare_lifecycle
from lib.compare import store
from lib.core.fmt import plural
from lib.core.text import plain
from lib.engine import Engine
from lib.money import budgets
from lib.styles import library as styles
from lib.ui import access, compare_grid
from lib.ui.display import money

# --------------------------------------------------------------------------- builder


def _rows() -> tuple[tuple[str, ...], str | None]:
    """The prompt rows from a typed or uploaded list, or a search-and-replace list."""
    mode = st.segmented_control("Rows", ["Prompt list", "Search and replace"],
                                default="Prompt list", key="cmp_mode")
    try:
        if mode == "Search and replace":
            a, b = st.columns([3, 1])
            prompt = a.text_input("Prompt", key="cmp_template",
                                  placeholder="a red fox in the snow")
            token = b.text_input("Replace", key="cmp_token", placeholder="red")
            values = st.text_area("With (one per line)", key="cmp_values", height=100,
                                  placeholder="red\nblue\ngolden")
            if not (prompt.strip() and token):
                return (), None
            return compare.rows_from_replace(prompt, token, values), None
        text = st.text_area(f"Prompts (one per line, up to {compare.MAX_ROWS})",
                            key="cmp_prompts", height=120,
                            placeholder="a lighthouse at dusk\na lighthouse in a storm")
        upload = st.file_uploader("…or upload a text file (one prompt per line)",
                                  type=["txt"], key="cmp_file", max_upload_size=1)
        if upload is not None:
            return compare.rows_from_file(upload.getvalue()), None
        return (compare.rows_from_text(text), None) if text.strip() else ((), None)
    except compare.CompareError as exc:
        return (), str(exc)


def _axes(eng: Engine, viewer: Viewer) -> tuple[list[compare.Axis], str | None]:
    """The column axes; every combination of the chosen values becomes a column (models:
    those the viewer may use)."""
    st.markdown("**Columns**: choose values on any axes; each combination is one column.")
    choices = compare.model_choices(eng.clock.now().date(), access.book(eng, viewer))
    labels = {value: label for value, label, _ in choices}
    library = {s.id: s.label for s in styles.list_styles(eng.db)}
    a, b = st.columns(2)
    models = a.multiselect("Provider / model", list(labels), format_func=labels.__getitem__,
                           key="cmp_models", placeholder="Sandbox (default)")
    today = eng.clock.now().date()
    for value in models:  # a model within 30 days of its maker's shutdown
        provider, _, model = value.partition("/")
        if found := lifecycle.warning(provider, model, today, book=eng.models()):
            a.warning(plain(found.text(today)), icon=":material/schedule:")
    style_ids = b.multiselect("Style", list(library), key="cmp_styles",
                              format_func=lambda s: library.get(s, s), placeholder="None")
    providers = sorted({m.split("/", 1)[0] for m in models}) or ["sandbox"]
    c, d, e = st.columns(3)
    qualities = c.multiselect("Quality", _keep("cmp_qualities", compare.quality_choices(providers)),
                              key="cmp_qualities", placeholder="Default")
    sizes = d.multiselect("Size", _keep("cmp_sizes", compare.size_choices(providers)),
                          key="cmp_sizes", placeholder="Default")
    seeds = e.text_input("Seeds", key="cmp_seeds", placeholder="e.g. 1, 2, 3")
    try:
        seed_values = tuple(s.strip() for s in seeds.split(",") if s.strip())
        return [compare.Axis("model", tuple(models)), compare.Axis("style", tuple(style_ids)),
                compare.Axis("quality", tuple(qualities)), compare.Axis("size", tuple(sizes)),
                compare.Axis("seed", seed_values)], None
    except compare.CompareError as exc:
        return [], str(exc)


def _keep(key: str, options: list[str]) -> list[str]:
    """The options plus values already chosen (a model change must not drop a choice).

    Cells fit a value their model lacks (nearest aspect ratio, default quality) and say so.
    """
    return options + [v for v in st.session_state.get(key, []) if v not in options]


def builder(eng: Engine, viewer: Viewer) -> None:
    """The form that builds a grid, its estimate, and Run."""
    title = st.text_input("Title", key="cmp_title", max_chars=200,
                          placeholder="Lighthouse moods (optional)")
    rows, problem = _rows()
    axes, axes_problem = _axes(eng, viewer)
    problem = problem or axes_problem
    seed = st.number_input("One seed for the whole grid (0 = pick one)", 0, 2**31 - 1, 0,
                           key="cmp_seed", help="Used wherever the model takes a seed, so "
                           "differences come from the columns, not from chance.")
    if not seed:
        seed = st.session_state.setdefault("cmp_random_seed", compare.random_seed())
    shared = st.toggle("Share with the team", key="cmp_share")
    grid = None
    if not problem and rows:
        try:
            grid = compare.Grid(rows=rows, columns=compare.columns_from_axes(axes),
                                seed=int(seed))
        except compare.CompareError as exc:
            problem = str(exc)
    if problem:  # may quote what was typed or uploaded
        st.error(plain(problem), icon=":material/error:")
    if grid is None:
        st.info("Add prompts (rows) and pick column values to see the grid's size and cost.",
                icon=":material/grid_view:")
        return
    cells = compare.expand(grid, book=eng.models())
    refused = _preview(eng, viewer, grid, cells)
    confirmed = True
    if compare.needs_confirmation(grid):
        confirmed = st.checkbox(f"Yes, run all {grid.size} images (more than "
                                f"{compare.confirm_cells()})", key="cmp_confirm")
    if st.button("Run comparison", type="primary", icon=":material/play_arrow:",
                 key="cmp_run", disabled=not confirmed or refused):
        token = store.run_token(viewer.username, grid, title)
        try:
            with st.spinner(f"Queuing {grid.size} job(s)…"):
                cid = store.start(eng, viewer, grid, title, shared=shared,
                                  confirmed=confirmed, token=token)
        except compare.CompareError as exc:
            st.error(plain(str(exc)), icon=":material/error:")
            return
        st.session_state.pop("cmp_random_seed", None)
        st.query_params["id"] = cid
        st.rerun()


def _preview(eng: Engine, viewer: Viewer, grid: compare.Grid,
             cells: list[compare.Cell]) -> bool:
    """Size, estimated cost and duration, budget left, and what each column will do.
    Returns True when the grid would be refused for a budget (Run is then disabled)."""
    est = estimates.estimate(eng, viewer.username, cells)
    runnable = sum(1 for cell in cells if cell.spec is not None)
    admin = viewer.role == "admin"
    notes = budgets.notes(eng.db, viewer.username, est.cost_usd, eng.clock.now(),
                          count=runnable, sees_team=admin)
    with eng.db.cursor() as cur:
        limits = budgets.limits(cur, viewer.username, eng.clock.now())
    hidden = any(not budgets.shows_dollars(lim, admin) for lim in limits)
    a, b, c, d = st.columns(4)
    rows, cols = len(grid.rows), len(grid.columns)
    a.metric("Images", f"{est.images}",
             f"{rows} row{'s' * (rows != 1)} × {cols} column{'s' * (cols != 1)}",
             delta_color="off", delta_arrow="off")
    b.metric("Estimated cost", money(est.cost_usd) + ("+" if est.unpriced else ""))
    c.metric("About", f"{est.seconds:.0f} s",
             "from team history" if est.from_history else "rough guess", delta_color="off",
             delta_arrow="off")
    mine = next((lim for lim in limits if lim.scope == "user"), None)
    team = next((lim for lim in limits if lim.scope == "team"), None)
    d.metric("Budget left", "no budget" if est.budget_left_usd is None
             else money(est.budget_left_usd) if not hidden
             else money(mine.left_usd) if mine  # the team's shows only as a band, below
             else budgets.band(team.fraction) if team else "—")
    if est.unpriced:
        st.caption(f"{plural(est.unpriced, 'cell')} {'has' if est.unpriced == 1 else 'have'} "
                   "no price yet, so the total is a lower bound.")
    for budget_note in notes:
        text = plain(budget_note.text.replace("This batch of", "This grid of"))  # no LaTeX
        if budget_note.over:
            st.error(text + " Make the grid smaller, or ask for a higher budget.",
                     icon=":material/savings:")
        else:
            st.warning(text, icon=":material/savings:")
    for col, note in compare.column_notes(cells).items():
        label, note = plain(grid.columns[col].label), plain(note)  # model ids, style names
        if any(cell.blocked for cell in cells if cell.col == col):
            st.warning(f"Column **{label}** will not run: {note}", icon=":material/key_off:")
        else:
            st.caption(f"Column {label}: {note}")
    return any(n.over for n in notes)


# --------------------------------------------------------------------------- saved list


def saved(eng: Engine, viewer: Viewer) -> None:
    """Comparisons this viewer may open, with an Open button."""
    found = store.list_for(eng, viewer)
    if not found:
        st.caption("No saved comparisons yet: build one below.")
        return
    by_id = {s.id: s for s in found}
    a, b = st.columns([4, 1], vertical_alignment="bottom")
    chosen = a.selectbox(
        "Saved comparisons", list(by_id), key="cmp_saved",
        format_func=lambda i: (f"{by_id[i].title} — {by_id[i].owner} · "
                               f"{by_id[i].created_at:%Y-%m-%d %H:%M} · {by_id[i].rows}×"
                               f"{by_id[i].columns}" + (" · shared" if by_id[i].shared else "")))
    if b.button("Open", key="cmp_open", icon=":material/open_in_new:"):
        st.query_params["id"] = chosen
        st.rerun()


# --------------------------------------------------------------------------- one comparison


def share_link(comparison_id: str) -> str:
    """This page's URL with ``?id=`` (what a teammate opens)."""
    parts = urlsplit(st.context.url or "")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode({"id": comparison_id}),
                       ""))


def view(eng: Engine, viewer: Viewer, comp: store.Comparison) -> None:
    """A saved comparison: header, sharing, the live grid and the exports."""
    top, back = st.columns([5, 1], vertical_alignment="center")
    top.subheader(plain(comp.title))
    if back.button("All comparisons", key="cmp_back", icon=":material/arrow_back:"):
        del st.query_params["id"]
        st.rerun()
    st.caption(f"By {plain(comp.owner)} · {comp.created_at:%Y-%m-%d %H:%M} UTC · "
               f"{len(comp.grid.rows)} × {len(comp.grid.columns)} · seed {comp.grid.seed}")
    if comp.editable_by(viewer):
        shared = st.toggle("Shared with the team", value=comp.shared, key=f"cmp_sh_{comp.id}")
        if shared != comp.shared:
            store.set_shared(eng, viewer, comp.id, shared)
            st.rerun()
    retiring(eng, viewer, comp)
    if comp.shared or comp.editable_by(viewer):
        st.text_input("Link", share_link(comp.id), key=f"cmp_link_{comp.id}", disabled=True,
                      help="Teammates open this link; they see it once it is shared.")
    compare_grid.live_grid(eng, viewer, comp)


def retiring(eng: Engine, viewer: Viewer, comp: store.Comparison) -> None:
    """Columns on a model that shuts down within 30 days (or has), and the one-click run of
    the same grid on the replacements (a new comparison; this one stays as it ran)."""
    today = eng.clock.now().date()
    found = compare_lifecycle.flagged(comp.grid, today, eng.models())
    for i, w in found:
        st.warning(plain(f"Column {i + 1} ({comp.grid.columns[i].label}): {w.text(today)}"),
                   icon=":material/schedule:")
    if not found or viewer.role not in ("admin", "member"):
        return
    names = ", ".join(sorted({w.replacement for _, w in found}))
    sure = not compare.needs_confirmation(comp.grid) or st.checkbox(
        f"Yes, make {comp.grid.size} images again", key=f"cmp_move_ok_{comp.id}")
    if st.button(f"Run again with {plain(names)}", key=f"cmp_move_{comp.id}",
                 icon=":material/swap_horiz:", disabled=not sure,
                 help=f"A new comparison of the same {comp.grid.size} cells on the "
                      "replacement; this one keeps its images, costs and winners."):
        try:
            new_id = compare_lifecycle.run_on_replacements(eng, viewer, comp, confirmed=True)
        except compare.CompareError as exc:
            st.error(plain(exc), icon=":material/error:")
        else:
            st.query_params["id"] = new_id
            st.rerun()
