"""Analytics: what images cost and how long they took, by user, provider and model, over time.

Admins and analysts see the team; a member sees only their own costs.
"""

import streamlit as st

from lib import ui
from lib.auth.access import Viewer
from lib.core import csvsafe
from lib.reporting import analytics
from lib.ui import access, charts, dashboard, tag_spend

eng = ui.engine()
me = ui.require_page("analytics")
viewer = Viewer(me.username, me.role)
team = viewer.sees_all

st.title("Analytics" if team else "Your costs")
st.caption("What every image cost and how long it took, across the team." if team else
           "What your images cost and how long they took. Only you see these figures.")
f = dashboard.filter_bar(eng, viewer)
costs_tab, quality_tab = st.tabs(["Costs", "Quality per dollar"], key="an_tab",
                                 on_change="rerun")  # only the open tab runs its queries
if quality_tab.open:
    with quality_tab:
        dashboard.quality_section(eng, viewer, f)
if not costs_tab.open:
    st.stop()  # the costs tab is closed: skip its queries
with costs_tab:
    today = eng.clock.now().date()
    q = dashboard.costs_calls(eng, viewer, f, today)
    dashboard.prefetch(eng, q)  # cold cache: the queries run side by side, not one by one
    summary = dashboard.run(eng, q.summary)
    if not summary.current.jobs:
        st.info("No jobs in this period for these filters: pick another period or loosen the "
                "filters.", icon=":material/query_stats:")
    dashboard.metrics_row(summary)

    left, right = st.columns(2, gap="medium")
    with left, st.container(border=True):
        st.subheader("Spend per day")
        splits = ["provider", "model", "user"] if team else ["provider", "model"]
        by = st.segmented_control("Split by", splits, default="provider", key="an_split",
                                  required=True, format_func=str.title) or "provider"
        spend = dashboard.run(eng, (q.spend[0], q.spend[1], {"by": by}))
        dashboard.chart(charts.spend_by_day(spend, by, f.start, f.end), "an-spend")
    with right, st.container(border=True):
        st.subheader(dashboard.month_title(f.end, team))
        dashboard.chart(charts.cumulative(dashboard.run(eng, q.month)), "an-month")
        has_budget = dashboard.cached(eng, analytics.budget_for, viewer) is not None
        st.caption(dashboard.month_note(f.end, today, has_budget, team))
        if (f.end.year, f.end.month) == (today.year, today.month):
            dashboard.budget_status(eng, viewer)

    parts = dashboard.run(eng, q.parts)  # spend by model, and by user (a member: by provider)
    left, right = st.columns(2, gap="medium")
    with left, st.container(border=True):
        st.subheader("Cost per image by model")
        dashboard.chart(charts.cost_per_image(analytics.cheapest_first(parts["model"])), "an-cpi")
    with right, st.container(border=True):
        st.subheader("Duration")
        dby = st.segmented_control("By", ["provider", "model"], default="provider",
                                   key="an_dur_by", required=True, format_func=str.title)
        dby = dby or "provider"
        dashboard.chart(charts.durations(dashboard.run(eng, (q.durations[0], q.durations[1],
                                                             {"by": dby})), dby), "an-dur")
        st.caption("Succeeded jobs: box from the 25th to the 75th percentile, line at the median, "
                   "whiskers to the furthest job within 1.5× that range.")

    left, right = st.columns(2, gap="medium")
    with left, st.container(border=True):
        st.subheader("Failures by provider and error")
        dashboard.chart(charts.failures(dashboard.run(eng, q.failures)), "an-fail")
    with right, st.container(border=True):
        st.subheader("Top users by spend" if team else "Your spend by provider")
        if team:
            dashboard.chart(charts.top_users(parts["user"].head(analytics.TOP_USERS)), "an-top")
        else:
            mine = parts["provider"][["provider", "jobs", "images", "spend_usd",
                                      "cost_per_image_usd"]]
            money_cols = ("spend_usd", "cost_per_image_usd")  # the one money format
            st.dataframe(csvsafe.frame(mine.assign(**{c: mine[c].map(ui.money)
                                                      for c in money_cols})),
                         hide_index=True, width="stretch", column_config={
                             "provider": "Provider", "jobs": "Jobs", "images": "Images",
                             "spend_usd": "Spend", "cost_per_image_usd": "Per image"})

    with st.container(border=True):
        tag_spend.section(eng, viewer, f)  # an image with two tags counts in both rows
    access.caps_today(eng, viewer, team)
    st.subheader("Ledger")
    dashboard.ledger_section(eng, viewer, f, summary.current.ledger_rows)
