"""Figures from the analytics frames: titles with units, hover text, theme-neutral, no raw rows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import plotly.graph_objects as go
import pytest

from lib.db.database import Database
from lib.reporting import analytics as a
from lib.ui import charts
from tests.builders import ADMIN, NOV

EMPTY = a.Filters(date(2020, 1, 1), date(2020, 1, 31))
TODAY = date(2026, 11, 20)


def _figures(db: Database, f: a.Filters) -> dict[str, go.Figure]:
    return {
        "spend": charts.spend_by_day(a.spend_by_day(db, ADMIN, f), "provider", f.start, f.end),
        "spend_by_user": charts.spend_by_day(a.spend_by_day(db, ADMIN, f, "user"), "user"),
        "month": charts.cumulative(a.cumulative_month(db, ADMIN, f, f.end, TODAY,
                                                      Decimal("1.50"))),
        "cpi": charts.cost_per_image(a.cost_per_image_by_model(db, ADMIN, f)),
        "durations": charts.durations(a.durations(db, ADMIN, f, "model"), "model"),
        "failures": charts.failures(a.failures(db, ADMIN, f)),
        "top": charts.top_users(a.top_users(db, ADMIN, f)),
    }


UNITS = {"spend": ("Day (UTC)", "Spend (USD)"), "spend_by_user": ("Day (UTC)", "Spend (USD)"),
         "month": ("Day (UTC)", "Cumulative spend (USD)"),
         "cpi": ("Cost per image (USD)", "Model"), "durations": ("Model", "Duration (seconds)"),
         "failures": ("Provider", "Failed (% of finished jobs)"),
         "top": ("Spend (USD)", "User")}


def test_every_chart_has_axis_titles_with_units_and_hover_text(db: Database) -> None:
    for name, fig in _figures(db, NOV).items():
        assert (fig.layout.xaxis.title.text, fig.layout.yaxis.title.text) == UNITS[name], name
        assert fig.data, name
        for trace in fig.data:
            assert trace.hovertemplate and "<extra></extra>" in trace.hovertemplate, name


def test_charts_leave_backgrounds_and_fonts_to_the_theme(db: Database) -> None:
    for name, fig in _figures(db, NOV).items():
        layout = fig.to_plotly_json()["layout"]  # (Streamlit's theme replaces the template)
        for key in ("paper_bgcolor", "plot_bgcolor", "font"):
            assert key not in layout, (name, key)
        for axis in (layout["xaxis"], layout["yaxis"]):
            assert not {"color", "gridcolor", "linecolor"} & set(axis), name


def test_a_provider_has_the_same_colour_in_every_chart(db: Database) -> None:
    figs = _figures(db, NOV)
    spend = {t.name: t.marker.color for t in figs["spend"].data}
    cpi = {t.name: t.marker.color for t in figs["cpi"].data}
    assert spend["openai"] == cpi["openai"] == charts.PROVIDER_COLORS["openai"]
    assert spend["gemini"] == charts.PROVIDER_COLORS["gemini"]
    assert charts.colors_for(["zed", "amy"]) == {"amy": charts.PALETTE[0],
                                                 "zed": charts.PALETTE[1]}


def test_the_box_plot_is_drawn_from_quantiles_not_rows(db: Database) -> None:
    fig = _figures(db, NOV)["durations"]
    box = next(t for t in fig.data if t.name == "gpt-image-2")
    assert box.y is None  # no raw durations go to the browser
    assert (box.q1, box.median, box.q3) == ((2.0,), (3.0,), (3.5,))
    assert (box.lowerfence, box.upperfence) == ((1.0,), (4.0,))


def test_the_month_chart_shows_spend_forecast_and_budget(db: Database) -> None:
    fig = _figures(db, NOV)["month"]
    names = [t.name for t in fig.data]
    assert names == ["Spent", "Forecast (run rate)", "Budget"]
    assert fig.data[2].y[0] == 1.5 and fig.data[1].line.dash == "dash"
    no_budget = charts.cumulative(a.cumulative_month(db, ADMIN, NOV, date(2026, 11, 1),
                                                     date(2026, 12, 3)))
    assert [t.name for t in no_budget.data] == ["Spent"]  # a past month: no forecast either


def test_stacked_bars_add_up_to_the_spend(db: Database) -> None:
    fig = _figures(db, NOV)["spend"]
    assert fig.layout.barmode == "stack"
    assert sum(sum(t.y) for t in fig.data) == pytest.approx(0.249)
    failures = _figures(db, NOV)["failures"]
    gemini = sum(y for t in failures.data for x, y in zip(t.x, t.y, strict=True)
                 if x == "gemini")
    assert gemini == pytest.approx(1.0)  # both finished gemini jobs failed


@pytest.mark.parametrize("name", [n for n in UNITS if n != "month"])
def test_an_empty_frame_gives_an_empty_figure_that_says_so(db: Database, name: str) -> None:
    fig = _figures(db, EMPTY)[name]
    assert not fig.data
    assert fig.layout.annotations[0].text == "No data for these filters"
    assert fig.layout.yaxis.title.text == UNITS[name][1]
    assert fig.to_json().startswith("{")


def test_a_month_not_begun_is_empty_and_a_quiet_one_is_flat(db: Database) -> None:
    ahead = charts.cumulative(a.cumulative_month(db, ADMIN, NOV, date(2027, 1, 1), TODAY))
    assert not ahead.data and ahead.layout.annotations[0].text == "No data for these filters"
    quiet = charts.cumulative(a.cumulative_month(db, ADMIN, EMPTY, EMPTY.end, TODAY))
    assert [t.name for t in quiet.data] == ["Spent"] and max(quiet.data[0].y) == 0


def test_long_model_names_fit_the_legend_and_stay_whole_in_the_hover() -> None:
    df = pd.DataFrame({"day": pd.to_datetime(["2026-11-02"] * 8),
                       "group": [f"black-forest-labs/model-{i}" for i in range(7)] + ["<b>x"],
                       "spend_usd": [1.0] * 8, "jobs": [1] * 8, "unpriced_jobs": [0] * 8})
    fig = charts.spend_by_day(df, "model")
    traces = {t.name: t for t in fig.data}
    assert "black-forest-labs/model-0" in traces["model-0"].hovertemplate
    assert "&lt;b&gt;x" in traces["&lt;b&gt;x"].hovertemplate  # data is text, not markup
    assert "<b>x" not in traces  # in the legend too
    assert fig.layout.legend.entrywidthmode == "fraction" and fig.layout.height > charts.HEIGHT


def _zero_spend_frames() -> dict[str, go.Figure]:
    day = pd.to_datetime(["2026-11-20"])
    return {
        "spend": charts.spend_by_day(pd.DataFrame({
            "day": day, "group": ["sandbox"], "spend_usd": [0.0], "jobs": [3],
            "unpriced_jobs": [0]}), "provider", date(2026, 10, 22), date(2026, 11, 20)),
        "cpi": charts.cost_per_image(pd.DataFrame({
            "provider": ["sandbox"], "model": ["sandbox-v1"], "cost_per_image_usd": [0.0],
            "images": [3], "spend_usd": [0.0]})),
        "top": charts.top_users(pd.DataFrame({
            "user": ["ann"], "spend_usd": [0.0], "images": [3], "jobs": [3],
            "cost_per_image_usd": [0.0]})),
    }


@pytest.mark.parametrize("name", ["spend", "cpi", "top"])
def test_a_chart_of_zero_spend_has_no_negative_dollars(name: str) -> None:
    fig = _zero_spend_frames()[name]
    axis = fig.layout.yaxis if name == "spend" else fig.layout.xaxis
    assert tuple(axis.range) == (0, 1) and axis.rangemode == "nonnegative"


def test_spend_axes_start_at_zero_when_there_is_spend(db: Database) -> None:
    figs = _figures(db, NOV)
    for name, axis in (("spend", "yaxis"), ("month", "yaxis"), ("cpi", "xaxis"),
                       ("top", "xaxis")):
        layout_axis = getattr(figs[name].layout, axis)
        assert layout_axis.rangemode == "nonnegative" and layout_axis.range is None, name


def test_one_day_of_spend_in_a_month_is_a_bar_most_of_a_day_wide() -> None:
    fig = _zero_spend_frames()["spend"]
    assert fig.data[0].width == 0.8 * 86_400_000  # ms on a date axis: 80% of the day
