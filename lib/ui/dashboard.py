"""Analytics widgets: the filter bar, the figures at a glance, a chart card and the ledger.

Every number comes from ``lib.reporting`` with the signed-in viewer (a member's filters are
narrowed to themselves there, whatever the widgets or the URL hold), cached with
``st.cache_data`` until the next committed write, like the Gallery's queries.
"""

from __future__ import annotations

import functools
import io
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any, Literal, NamedTuple

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from lib.auth.access import ROLES, Viewer
from lib.core import csvsafe
from lib.core.fmt import plural
from lib.core.lru import LRU
from lib.engine import Engine
from lib.reporting import analytics, leaderboard, ledger, report, stats
from lib.reporting.analytics import Filters, Summary
from lib.ui.display import money, seconds
from lib.ui.widgets import budget_bar, demo_banner, pager

log = logging.getLogger(__name__)
PRESETS = ("7 days", "30 days", "This month", "Last month", "Custom")
PAGE_KEY = "an_page"
PER_PAGE = 50
BIG_EXPORT_ROWS = 200_000  # past this the page says how to export without waiting on it
_SETTINGS = ("size", "quality", "style", "request_id")
_LEDGER_COLUMNS = ("time", "user", "provider", "model", "size", "quality", "style", "prompt",
                   "cost_usd", "duration_s", "status", "note", "request_id")


def preset_range(preset: str, today: date) -> tuple[date, date]:
    """The UTC days a period preset covers, ending today (or last month's last day); Custom
    starts from the last 30 days."""
    first = today.replace(day=1)
    if preset == "7 days":
        return today - timedelta(days=6), today
    if preset in ("30 days", "Custom"):
        return today - timedelta(days=29), today
    if preset == "This month":
        return first, today
    if preset == "Last month":
        last = first - timedelta(days=1)
        return last.replace(day=1), last
    raise ValueError(f"Unknown preset {preset!r}; expected one of {', '.join(PRESETS)}.")


# What the page reads; a committed write naming one of these tables empties its cache.
TABLES = ("jobs", "images", "budgets")
_cache: LRU[tuple[Any, ...], Any] = LRU(256)
_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


Call = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


def _key(eng: Engine, call: Call) -> tuple[Any, ...]:
    fn, args, kwargs = call
    return (eng.db.serial, eng.db.tables_version(*TABLES), fn, args,
            tuple(sorted(kwargs.items())))


def _shared(value: Any) -> Any:
    """Results are shared between sessions: frames go out as copies that copy their data on
    the first write (pandas 3's copy-on-write), so no page can change another's."""
    if isinstance(value, pd.DataFrame):
        return value.copy(deep=False)
    if isinstance(value, dict):
        return {k: _shared(v) for k, v in value.items()}
    if isinstance(value, tuple) and value and isinstance(value[0], pd.DataFrame):
        return (value[0].copy(deep=False), *value[1:])
    return value


def clear_cache() -> None:
    """Forget every cached result (benchmarks measure cold renders with this)."""
    _cache.clear()


def cached(eng: Engine, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(eng.db, *args, **kwargs)`` (a query of reporting.analytics or .ledger), cached until
    a committed write touches the jobs, images or budgets (not, say, a sign-in)."""
    key = _key(eng, (fn, args, kwargs))
    found, value = _cache.get(key)
    if not found:
        value = fn(eng.db, *args, **kwargs)
        _cache.put(key, value)
    return _shared(value)


def run(eng: Engine, call: Call) -> Any:
    """``cached`` for a call of :func:`costs_calls`."""
    fn, args, kwargs = call
    return cached(eng, fn, *args, **kwargs)


class CostsCalls(NamedTuple):
    """The Costs tab's queries (see :func:`costs_calls`)."""

    summary: Call
    spend: Call
    month: Call
    durations: Call
    failures: Call
    parts: Call  # spend by model, and by user (a member: by provider)
    ledger: Call


def costs_calls(eng: Engine, viewer: Viewer, f: Filters, today: date) -> CostsCalls:
    """The queries the Costs tab runs for these filters, in the order it shows them, with the
    splits its controls hold (their defaults before the first click): summary, spend per
    day, this month, durations, failures, spend by model plus by user (a member: by
    provider) from one scan, and the ledger's page."""
    budget = cached(eng, analytics.budget_for, viewer)
    state = st.session_state
    return CostsCalls(
        (analytics.summary, (viewer, f), {}),
        (analytics.spend_by_day, (viewer, f), {"by": state.get("an_split") or "provider"}),
        (analytics.cumulative_month,
         (viewer, f, f.end, today, budget.monthly_usd if budget else None), {}),
        (analytics.durations, (viewer, f), {"by": state.get("an_dur_by") or "provider"}),
        (analytics.failures, (viewer, f), {}),
        (analytics.breakdowns, (viewer, f, ("model", "user" if viewer.sees_all else "provider")),
         {"times": False}),
        (ledger.rows, (viewer, f, _ledger_page(f), PER_PAGE), {}),
    )


def _ledger_page(f: Filters) -> int:
    """The ledger page asked for: the one in session state, or the first for new filters."""
    same = st.session_state.get("an_ledger_filters") == f
    return int(st.session_state.get(PAGE_KEY, 0)) if same else 0


def prefetch(eng: Engine, calls: Sequence[Call]) -> None:
    """Run the queries of ``calls`` that are not cached yet side by side (DuckDB releases the
    GIL; at 1M images the default view's queries took 79 ms together against 128 ms one
    after another), so the ``cached`` calls that follow find them. A failed query is left
    for its ``cached`` call to raise where the page can show it."""
    global _pool
    todo = [(key, call) for call in calls if (key := _key(eng, call)) not in _cache]
    if len(todo) < 2:
        return
    with _pool_lock:  # sessions run in threads of their own: one pool for all of them
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="analytics")
        pool = _pool

    def work(item: tuple[tuple[Any, ...], Call]) -> None:
        key, (fn, args, kwargs) = item
        try:
            _cache.put(key, fn(eng.db, *args, **kwargs))
        except Exception:  # noqa: BLE001 - raised again, on the page, by cached()
            log.debug("prefetching %s failed", fn.__qualname__, exc_info=True)

    list(pool.map(work, todo))


def filter_bar(eng: Engine, viewer: Viewer) -> Filters:
    """Period presets (or custom dates), then users (not for members), providers, models,
    statuses and demo data; returns the filters the whole page follows."""
    today = eng.clock.now().date()
    facets = cached(eng, analytics.facets, viewer)
    when, dates, demo = st.columns([3, 2, 1], vertical_alignment="bottom")
    preset = when.segmented_control("Period", PRESETS, default="30 days",
                                    key="an_preset", required=True, wrap=True) or "30 days"
    start, end = preset_range(preset, today)
    if preset == "Custom":
        value = dates.date_input("Dates (UTC)", value=(start, end), max_value=today,
                                 key="an_dates", format="YYYY-MM-DD")
        picked = tuple(value) if isinstance(value, tuple | list) else (value,)
        start, end = (picked + (picked[0],))[:2] if picked else (start, end)
    else:
        dates.caption(f"{start:%d %b %Y} – {end:%d %b %Y} (UTC)")
    include_demo = demo.toggle("Demo data", value=False, key="an_demo",
                               help="Include the synthetic demo history (off by default, so "
                                    "made-up spend never mixes into real figures unasked).")
    if include_demo:
        demo_banner("figures")
    cols = st.columns(4 if viewer.sees_all else 3)
    users: list[str] = []
    if viewer.sees_all:
        users = cols[0].multiselect("Users", facets["users"], key="an_users",
                                    placeholder="Everyone")
    providers = cols[-3].multiselect("Providers", facets["providers"], key="an_providers",
                                     placeholder="All providers")
    models = cols[-2].multiselect("Models", facets["models"], key="an_models",
                                  placeholder="All models")
    statuses = cols[-1].multiselect("Status", analytics.STATUSES, key="an_statuses",
                                    placeholder="Any status")
    return analytics.scope(viewer, Filters(start, end, tuple(users), tuple(providers),
                                           tuple(models), tuple(statuses), include_demo))


def _pct(x: float | None) -> str | None:
    return None if x is None else f"{x:+.1%}"


def metrics_row(s: Summary) -> None:
    """Spend, images, cost per image, success rate, median and p95 duration, each with its
    change against the previous period of the same length."""
    now, before = s.current, s.previous
    vs = f"vs {before.start:%d %b} – {before.end:%d %b}"
    rate = s.change("success_rate")
    cells: tuple[tuple[str, str, str | None, Literal["normal", "inverse"]], ...] = (
        ("Spend", money(now.spend_usd), _pct(s.change("spend_usd")), "inverse"),
        ("Images", f"{now.images:,}", _pct(s.change("images")), "normal"),
        ("Cost per image", money(now.cost_per_image_usd) if now.cost_per_image_usd is not None
         else "—", _pct(s.change("cost_per_image_usd")), "inverse"),
        ("Success rate", "—" if now.success_rate is None else f"{now.success_rate:.1%}",
         None if rate is None else f"{rate * 100:+.1f} pts", "normal"),
        ("Median duration", _secs(now.median_ms), _pct(s.change("median_ms")), "inverse"),
        ("p95 duration", _secs(now.p95_ms), _pct(s.change("p95_ms")), "inverse"),
    )
    for col, (label, value, delta, color) in zip(st.columns(3) + st.columns(3), cells,
                                                 strict=True):
        flat = delta is not None and delta.lstrip("+-").startswith(("0.0%", "0.0 pts"))
        delta = delta.lstrip("+-") if flat and delta else delta  # no "-0.0 pts"
        col.metric(label, value, delta, delta_color="off" if flat else color, border=True,
                   delta_arrow="off" if flat else "auto",
                   delta_description=vs if delta else None)
    notes = ["Spend is what jobs were charged, failed and cancelled ones included when they "
             "were billed; a job counts on the UTC day it was created."]
    if now.unpriced_jobs:
        verb = "has" if now.unpriced_jobs == 1 else "have"
        notes.append(f"**{plural(now.unpriced_jobs, 'job')} {verb} no price yet**: their "
                     "images are counted, their cost is left out of spend and cost per image.")
    if now.cancelled:
        notes.append(f"{plural(now.cancelled, 'job')} cancelled by a person "
                     f"{'is' if now.cancelled == 1 else 'are'} left out of the success rate "
                     "and the failures: cancelling is a choice, not a failure.")
    if now.images_deleted:
        notes.append(f"Cost per image counts every image made, {now.images_deleted:,} since "
                     "deleted among them (the ledger keeps their cost on a \"deleted\" line).")
    st.caption(" ".join(notes))


def _secs(ms: float | None) -> str:
    return "—" if ms is None else seconds(round(ms))


def chart(fig: go.Figure, key: str) -> None:
    """A figure in Streamlit's theme (light or dark), as wide as its column."""
    st.plotly_chart(fig, width="stretch", theme="streamlit", key=key,
                    config={"displaylogo": False, "responsive": True})


def _download(eng: Engine, viewer: Viewer, f: Filters, fmt: str) -> bytes:
    buf = io.BytesIO()
    report.export(eng.db, viewer, f, fmt, buf)
    return buf.getvalue()


def ledger_section(eng: Engine, viewer: Viewer, f: Filters, rows: int) -> None:
    """The ledger (``rows`` in all), 50 rows a page, newest first, and the whole of it as
    CSV or Parquet."""
    page = ledger.last_page(_ledger_page(f), rows, PER_PAGE)
    st.session_state["an_ledger_filters"] = f
    st.session_state[PAGE_KEY] = page
    df, total = cached(eng, ledger.rows, viewer, f, page, PER_PAGE), rows  # (prefetched)
    head, csv, parquet = st.columns([4, 1, 1], vertical_alignment="bottom")
    big = (" A download this size is built on the server before it starts: Parquet is far "
           "smaller, and `python -m lib.cli report --format csv --out FILE` writes the CSV "
           "straight to a file." if total > BIG_EXPORT_ROWS else "")
    head.caption(f"{plural(total, 'row')}: one per image, plus one per job without images "
                 "(failed, cancelled or still running) and one for a job's deleted images, so "
                 f"the costs add up to the spend.{big}")
    stem = f"promptboard-ledger-{f.start}-{f.end}"
    for col, fmt, mime in ((csv, "csv", "text/csv"),
                           (parquet, "parquet", "application/vnd.apache.parquet")):
        col.download_button(  # built only when clicked, by DuckDB, not in this rerun
            fmt.upper() if fmt == "csv" else "Parquet",
            data=functools.partial(_download, eng, viewer, f, fmt), file_name=f"{stem}.{fmt}",
            mime=mime, on_click="ignore", icon=":material/download:", key=f"an-dl-{fmt}",
            disabled=total == 0, width="stretch")
    df = df.assign(cost_usd=df["cost_usd"].map(money))  # the one money format, not "$%.4f"
    df = df.fillna({**{c: "—" for c in _SETTINGS if c in df}, "note": ""})  # never "None"
    st.dataframe(  # its "Download as CSV" must not carry live formulas either
        csvsafe.frame(df), hide_index=True, column_order=_LEDGER_COLUMNS, width="stretch",
        column_config={
            "time": st.column_config.DatetimeColumn("Time (UTC)", format="YYYY-MM-DD HH:mm"),
            "user": "User", "provider": "Provider", "model": "Model", "size": "Size",
            "quality": "Quality", "style": "Style",
            "prompt": st.column_config.TextColumn("Prompt", width="large"),
            "cost_usd": st.column_config.TextColumn("Cost"),
            "duration_s": st.column_config.NumberColumn("Duration (s)", format="%.1f"),
            "status": "Status", "note": "Note", "request_id": "Request id"})
    pages = max(1, -(-total // PER_PAGE))
    if pages > 1:
        pager(PAGE_KEY, min(st.session_state.get(PAGE_KEY, 0), pages - 1), pages, total)


def budget_status(eng: Engine, viewer: Viewer) -> None:
    """This month's budget (the team's for admins and analysts, a member's own) as a bar."""
    limit = stats.budget(eng, None if viewer.sees_all else viewer.username)
    if limit is not None and (viewer.sees_all or limit.scope == "user"):
        budget_bar(limit, sees_team=viewer.sees_all)


def month_title(day: date, team: bool) -> str:
    """The cumulative chart's heading."""
    return f"{'Team' if team else 'Your'} spend in {day:%B %Y}"


def month_note(day: date, today: date, has_budget: bool, team: bool) -> str:
    """What the cumulative chart shows: the forecast's rule (this month only), the budget."""
    current = (day.year, day.month) == (today.year, today.month)
    note = ("Forecast: this month's spend per day so far, carried on to the month's end."
            if current else "The whole month; a forecast is drawn for the current month only.")
    if not has_budget:
        note += " No monthly budget is set" + ("." if team else " for you.")
    return note


# --------------------------------------------------------------------------- quality per dollar

WHOSE = ("Mine and shared", "Only mine")


@st.cache_data(max_entries=64, show_spinner=False)
def _board(_eng: Engine, db_label: str, version: int, viewer: Viewer,
           bf: leaderboard.BoardFilter) -> pd.DataFrame:
    return leaderboard.board(_eng.db, viewer, bf)


def quality_section(eng: Engine, viewer: Viewer, f: Filters) -> None:
    """The leaderboard for the page's period, providers, models and demo choice; grouped by
    model, provider or style and narrowed by the image owners' roles (or, for a member, to
    their own images)."""
    by_col, roles_col, whose_col = st.columns(3, vertical_alignment="bottom")
    by = by_col.segmented_control("Rank", list(leaderboard.GROUPINGS), default="model",
                                  key="lb_by", required=True,
                                  format_func=lambda g: f"By {g}") or "model"
    roles = roles_col.multiselect("Made by (role)", ROLES, key="lb_roles",
                                  placeholder="Any role", format_func=str.title)
    users = f.users if viewer.sees_all else ()  # a member's page filter is always themselves
    if not viewer.sees_all:
        whose = whose_col.segmented_control("Images", WHOSE, default=WHOSE[0], key="lb_whose",
                                            required=True)
        users = (viewer.username,) if whose == WHOSE[1] else ()
    bf = leaderboard.BoardFilter(f.start, f.end, by, tuple(roles), users, f.providers,
                                 f.models, f.include_demo)
    df = _board(eng, eng.db.label, eng.db.version, viewer, bf)
    scope = ("every image in the period" if viewer.sees_all
             else "your images and those the team shared with you")
    st.caption(f"Ratings (1–5 stars, one per person and image) of {scope}. Rating per dollar is "
               "the average rating divided by the cost per image; it has no value for free or "
               f"unpriced models. Fewer than {leaderboard.THIN_SAMPLE} ratings is a thin "
               "sample: treat its average with care. The period, users, providers, models and "
               "demo filters above apply; the status filter does not (images only).")
    if df.empty:
        st.info("No images in this period for these filters.", icon=":material/star:")
        return
    df = df.assign(median_s=df["median_ms"] / 1000, per_usd=df.apply(_per_usd, axis=1),
                   sample=df["thin"].map({True: "⚠ thin", False: "ok"}),
                   cost_per_image_usd=df["cost_per_image_usd"].map(money))
    keys = [k.rsplit(" AS ", 1)[1] for k in leaderboard.GROUPINGS[by]]
    st.dataframe(
        csvsafe.frame(df), hide_index=True, width="stretch",
        column_order=[*keys, "per_usd", "avg_rating", "ratings", "sample", "note",
                      "images_rated", "images", "cost_per_image_usd", "median_s"],
        column_config={
            "provider": "Provider", "model": "Model", "style": "Style",
            "per_usd": st.column_config.TextColumn(
                "Rating per $", help="Average stars / cost per image; undefined (—) for "
                "free or unpriced models and without ratings."),
            "avg_rating": st.column_config.NumberColumn("Avg rating", format="%.2f ★"),
            "ratings": st.column_config.NumberColumn("Ratings", help="How many ratings the "
                                                     "average rests on."),
            "sample": "Sample", "images_rated": "Rated images", "images": "Images",
            "cost_per_image_usd": st.column_config.TextColumn("Cost / image"),
            "median_s": st.column_config.NumberColumn("Median (s)", format="%.1f"),
            "note": st.column_config.TextColumn("Note", width="medium")})


def _per_usd(row: pd.Series) -> str:
    """Rating per dollar for people: a number, or why there is none (never infinity)."""
    value = row["rating_per_usd"]
    if value is not None and not pd.isna(value):
        return f"{value:,.1f}"
    if row["priced_images"] == 0:
        return "— (no price)"
    if row["cost_per_image_usd"] == 0:
        return "— (free)"
    return "— (no ratings)"
