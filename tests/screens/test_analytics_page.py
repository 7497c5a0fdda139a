"""The Analytics page under AppTest: what each role sees, the filters, and no way around them.

The page file runs directly, signed in with tests.helpers.sign_in (its own role check applies);
one test also goes through app.py's navigation once the page is listed there.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from lib import ui
from lib.ui import dashboard
from tests.builders import add_job
from tests.builders import analytics_history as _history
from tests.helpers import APP, app_as, count_queries
from tests.helpers import analytics_page as _page

pytestmark = pytest.mark.usefixtures("page_engine")  # tests/conftest.py


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _everything(at: AppTest) -> str:
    """Every text the page sent: titles, captions, markdown, metrics, tables, chart specs."""
    parts = [e.value for kind in ("title", "subheader", "caption", "markdown", "info")
             for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value} {m.delta}" for m in at.metric]
    parts += [d.value.to_csv() for d in at.dataframe]
    parts += [c.proto.spec for c in at.get("plotly_chart")]
    parts += [str(o) for m in at.multiselect for o in m.options]
    return "\n".join(parts)


def _segmented(at: AppTest, label: str) -> Any:
    return next(b for b in at.get("button_group") if b.label == label)


def test_an_admin_sees_the_whole_team() -> None:
    _history()
    at = _page("root", "admin")
    assert [t.value for t in at.title] == ["Analytics"]
    m = _metrics(at)
    assert (m["Spend"], m["Images"], m["Success rate"]) == ("$1.16", "5", "75.0%")
    assert [s.label for s in at.multiselect] == ["Users", "Providers", "Models", "Status"]
    assert len(at.get("plotly_chart")) == 6
    ledger = at.dataframe[-1].value  # the last table on the page
    assert set(ledger["user"]) == {"ann", "bob", "carol"} and len(ledger) == 6
    assert any("6 rows" in c.value for c in at.caption)
    labels = {b.label for b in at.get("download_button")}
    assert labels == {"CSV", "Parquet"}


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_admins_and_analysts_can_narrow_to_one_user(role: str) -> None:
    _history()
    at = _page("finn", role, an_users=["bob"])
    m = _metrics(at)
    assert (m["Spend"], m["Images"], m["Success rate"]) == ("$0.12", "3", "50.0%")
    assert set(at.dataframe[-1].value["user"]) == {"bob"}


def test_a_member_sees_only_their_own_costs_whatever_the_state_says() -> None:
    _history()
    at = _page("ann", "member", an_users=["bob", "carol"])  # a stale or forged filter
    at.query_params["user"] = "bob"
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Your costs"]
    assert [s.label for s in at.multiselect] == ["Providers", "Models", "Status"]
    m = _metrics(at)
    assert (m["Spend"], m["Images"], m["Cost per image"]) == ("$0.04", "1", "$0.04")
    assert set(at.dataframe[-1].value["user"]) == {"ann"}
    text = _everything(at)
    assert "ann's red fox" in text
    for other in ("bob", "carol", "secret boat", "castle", "gemini", "stability"):
        assert other not in text, other
    assert len(at.get("plotly_chart")) == 5  # no top users: a table of their own providers


def test_the_period_presets_change_every_number() -> None:
    _history()
    at = _page("root", "admin")
    assert _metrics(at)["Spend"] == "$1.16"  # 30 days: carol's job ten days ago counts
    _segmented(at, "Period").set_value("7 days").run()
    assert not at.exception
    assert _metrics(at)["Spend"] == "$0.16"
    assert "carol" not in set(at.dataframe[-1].value["user"])
    today = ui.engine().clock.now().date()
    assert any(f"{today - timedelta(days=6):%d %b %Y}" in c.value for c in at.caption)


def test_last_month_shows_that_whole_month_without_a_forecast() -> None:
    _history()
    at = _page("root", "admin")
    assert any("Forecast: this month's spend" in c.value for c in at.caption)
    _segmented(at, "Period").set_value("Last month").run()
    first = ui.engine().clock.now().date().replace(day=1)
    last_month = first - timedelta(days=1)
    assert f"Team spend in {last_month:%B %Y}" in [h.value for h in at.subheader]
    assert any("The whole month" in c.value for c in at.caption)
    assert any("No monthly budget is set." in c.value for c in at.caption)


def test_custom_dates_and_the_previous_period_delta() -> None:
    _history()
    at = _page("root", "admin")
    _segmented(at, "Period").set_value("Custom").run()
    today = ui.engine().clock.now().date()
    at.date_input(key="an_dates").set_value((today - timedelta(days=3), today)).run()
    assert not at.exception
    spend = next(x for x in at.metric if x.label == "Spend")
    assert spend.value == "$0.16"
    assert not spend.delta  # the 4 days before had nothing: no change to show
    _segmented(at, "Period").set_value("7 days").run()  # before: carol's $1.00
    assert next(x for x in at.metric if x.label == "Spend").delta == "-84.0%"


def test_filters_narrow_the_charts_and_the_ledger() -> None:
    _history()
    at = _page("root", "admin")
    at.multiselect(key="an_providers").set_value(["gemini"]).run()
    assert not at.exception
    m = _metrics(at)
    assert (m["Spend"], m["Images"]) == ("$0.12", "3")
    assert set(at.dataframe[-1].value["provider"]) == {"gemini"}
    at.multiselect(key="an_statuses").set_value(["failed"]).run()
    assert _metrics(at)["Images"] == "0" and len(at.dataframe[-1].value) == 1


def test_an_empty_ledger_renders_and_says_so() -> None:
    at = _page("root", "admin")
    assert any("No jobs in this period" in i.value for i in at.info)
    assert _metrics(at)["Spend"] == "$0.00" and _metrics(at)["Cost per image"] == "—"
    assert all(b.proto.disabled for b in at.get("download_button"))


def test_a_big_ledger_points_to_parquet_and_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    _history()
    small = " ".join(c.value for c in _page("root", "admin").caption)
    assert "lib.cli report" not in small
    monkeypatch.setattr(dashboard, "BIG_EXPORT_ROWS", 2)  # the history has 6 ledger rows
    big = " ".join(c.value for c in _page("root", "admin").caption)
    assert "Parquet is far smaller" in big and "lib.cli report --format csv" in big


def test_the_ledger_pages_through_fifty_rows_at_a_time() -> None:
    eng = ui.engine()
    now = eng.clock.now()
    for i in range(60):
        add_job(eng.db, f"p{i:02d}", "ann", created=now - timedelta(minutes=i + 1))
    at = _page("root", "admin")
    assert len(at.dataframe[-1].value) == 50
    assert any("Page 1 of 2" in c.value for c in at.caption)
    next(b for b in at.button if b.label == "Next").click().run()
    assert len(at.dataframe[-1].value) == 10 and not at.exception


@pytest.mark.parametrize(("preset", "expected"), [
    ("7 days", (date(2026, 11, 15), date(2026, 11, 21))),
    ("30 days", (date(2026, 10, 23), date(2026, 11, 21))),
    ("This month", (date(2026, 11, 1), date(2026, 11, 21))),
    ("Last month", (date(2026, 10, 1), date(2026, 10, 31))),
])
def test_period_presets(preset: str, expected: tuple[date, date]) -> None:
    assert dashboard.preset_range(preset, date(2026, 11, 21)) == expected
    assert dashboard.preset_range("Last month", date(2026, 1, 5)) == (date(2025, 12, 1),
                                                                      date(2025, 12, 31))
    with pytest.raises(ValueError, match="Unknown preset"):
        dashboard.preset_range("Forever", date(2026, 11, 21))


@pytest.mark.skipif("screens/analytics.py" not in Path(APP).read_text(encoding="utf-8"),
                    reason="app.py does not list the Analytics page yet (the lead wires it)")
@pytest.mark.parametrize("role", ["admin", "member", "analyst"])
def test_the_page_through_the_apps_navigation(role: str) -> None:
    _history()
    at = app_as("ann" if role == "member" else "boss", role, page="screens/analytics.py")
    assert not at.exception
    assert [t.value for t in at.title] == ["Your costs" if role == "member" else "Analytics"]


@pytest.mark.parametrize("role", ["admin", "member"])
def test_a_cold_render_runs_no_query_twice_and_a_new_split_runs_one(
        role: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The prefetch list and the page's own calls must name the same queries: otherwise the
    page would run a query twice (once in the pool, once again for the cache miss). Which
    queries run, and on which threads, is measured by bench/analytics.py."""
    _history()
    ran = count_queries(monkeypatch)
    dashboard.clear_cache()
    at = _page("ann", role)
    names = [n for n, _ in ran]
    assert names and len(names) == len(set(names)), names
    ran.clear()
    _segmented(at, "Split by").set_value("model").run()  # one new query, run alone
    assert len(ran) == 1, ran


def test_demo_data_is_off_by_default_and_loud_when_on() -> None:
    _history()
    eng = ui.engine()
    add_job(eng.db, "d1", "demo-dan", cost="720.00", created=eng.clock.now() - timedelta(days=1),
            demo=True)
    at = _page("root", "admin")
    assert _metrics(at)["Spend"] == "$1.16"  # without the demo's $720
    assert not any("Demo data is on" in w.value for w in at.warning)
    at.toggle(key="an_demo").set_value(True).run()
    assert _metrics(at)["Spend"] == "$721.16"
    assert any("Demo data is on" in w.value for w in at.warning)


def test_cancelled_jobs_are_counted_apart_not_as_failures() -> None:
    _history()
    eng = ui.engine()
    for i in range(10):  # a refused batch of old, or ten cancels: none is a failure
        add_job(eng.db, f"x{i}", "bob", status="cancelled", cost=None,
                error_type="cancelled", created=eng.clock.now() - timedelta(days=1))
    at = _page("root", "admin")
    assert _metrics(at)["Success rate"] == "75.0%"  # 3 of 4: only b2 failed
    assert any("10 jobs cancelled by a person are left out" in c.value for c in at.caption)
    fail = next(c for c in at.get("plotly_chart") if "Failed (% of finished" in c.proto.spec)
    assert '"cancelled"' not in fail.proto.spec


def test_this_months_budget_is_shown_over_when_over() -> None:
    from decimal import Decimal

    from lib.money import budgets

    eng = ui.engine()
    now = eng.clock.now()
    add_job(eng.db, "m1", "ann", cost="2.24", created=now.replace(day=1, hour=0, minute=1))
    budgets.set_budget(eng.db, "team", "team", Decimal("2.20"), "root", now)
    at = _page("root", "admin")
    bar = at.get("progress")[0].proto
    assert bar.value == 100 and r"Over by \$0.04" in bar.text
    assert any("Over budget" in m.value for m in at.markdown)


def test_the_ledger_shows_a_dash_for_a_setting_a_job_did_not_have() -> None:
    """The trial saw "None" in the Quality column of a model without quality levels."""
    now = ui.engine().clock.now()
    add_job(ui.engine().db, "q1", "ann", quality=None, created=now - timedelta(days=1))
    ledger = _page("root", "admin").dataframe[-1].value
    assert list(ledger["quality"]) == ["—"] and list(ledger["size"]) == ["1024x1024"]
