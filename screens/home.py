"""Home: today and this month at a glance, my running jobs, the latest images."""

import streamlit as st

from lib import jobs, ui
from lib.auth import accounts as auth
from lib.auth.access import Viewer
from lib.core.text import plain
from lib.gallery import queries as gallery
from lib.jobs import activity
from lib.reporting import stats
from lib.ui import gallery_view, grid

eng = ui.engine()
me = ui.require_page("home")
team = me.role in ("admin", "analyst")
viewer = Viewer(me.username, me.role)

st.title(f"Hello, {plain(me.name)}")
st.caption("The team's figures." if team else "Your figures.")
makes = auth.can(me.role, "generate")
steps = activity.first_steps(eng, me.username, makes, me.role == "admin")
if steps.first_image or steps.add_team:
    with st.container(border=True):
        st.markdown("**Start here**")
        if steps.first_image:
            if st.button("Generate your first image", key="home_first_image", type="primary",
                         icon=":material/brush:"):
                st.switch_page("screens/generate.py")
            st.caption("The sandbox draws placeholder art offline, for free: no API key needed.")
        if steps.add_team:
            if st.button("Add your team", key="home_add_team", icon=":material/group_add:"):
                st.switch_page("screens/admin.py")
            st.caption("Create accounts for members (who generate) and analysts (who read the "
                       "costs), and set budgets.")
today, month = stats.today_and_month(eng, None if team else me.username)
limits = stats.budget_limits(eng, None if team else me.username)
for label, p in (("Today", today), ("This month", month)):
    st.subheader(label)
    a, b, c, d = st.columns(4)
    a.metric("Images", f"{p.images:,}")
    spend_help = "Cost of jobs started in this period"
    if p.unpriced_jobs:
        spend_help += f"; {p.unpriced_jobs} job(s) have no price yet and are not included"
    b.metric("Spend", ui.money(p.spend_usd), help=spend_help)
    rate_help = "Succeeded / finished, leaving out jobs cancelled by a person"
    if p.cancelled:
        rate_help += f" ({p.cancelled} cancelled this period)"
    c.metric("Success rate", f"{p.success_rate:.0%}" if p.success_rate is not None else "—",
             help=rate_help)
    d.metric("Median duration", ui.seconds(int(p.median_ms)) if p.median_ms else "—")
    if label == "This month":
        for limit in limits:
            ui.budget_bar(limit, sees_team=team)

running = jobs.active_for_user(eng, me.username)
if running:
    st.subheader("Running now")
    ui.live_jobs(eng, me.username, running)
opened = None
grids = [("home_team", "Shared by the team", gallery.GalleryFilter(shared_only=True, per_page=8))]
if makes and not steps.first_image:  # an analyst makes no images; "Start here" says how
    grids.insert(0, ("home_mine", "My latest images",
                     gallery.GalleryFilter(mine_only=True, per_page=8)))
for key, title, query in grids:
    st.subheader(title)
    cards = gallery_view.cached_search(eng, viewer, query).rows
    if not cards:
        st.caption("Nothing yet.")
        continue
    tiles = [gallery_view.grid_tile(eng, card) for card in cards]
    opened = grid.grid(tiles, key=key).image_id or opened
opened = opened or st.session_state.pop("gal_open", None)
if opened:
    gallery_view.detail(eng, viewer, opened)
