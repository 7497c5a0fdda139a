"""Analytics queries against hand-computed fixtures: periods, money, durations, scoping, exports.

The fixture ``history`` (November 2026, rows inserted directly with known costs and times):

    job  user   provider/model        status     cost    images  ms    created
    j1   alice  openai/gpt-image-2    succeeded  0.04    1       1000  Nov 2 10:00
    j2   alice  openai/gpt-image-2    succeeded  0.12    3       3000  Nov 2 11:00  (0.04 each)
    j3   bob    gemini/flash          failed     NULL    0       500   Nov 3  rate_limited
    j4   bob    gemini/flash          failed     0.039   0       800   Nov 3  bad_response, billed
    j5   bob    stability/core        cancelled  NULL    0       -     Nov 4
    j6   carol  stability/core        succeeded  NULL    2       2000  Nov 5  (unpriced)
    j7   alice  openai/gpt-image-2    succeeded  0.05    1       4000  Nov 20 (the new price)
    j8   alice  openai/gpt-image-2    succeeded  0.10    2       2000  Oct 15 (previous period)

November: 7 jobs, 7 images, spend 0.249, 1 unpriced, cost per image 0.249 / 5 priced images
= 0.0498, success 4/6 (the cancelled j5 is not a failure), durations of succeeded jobs
1000, 3000, 2000, 4000: median 2500,
p95 3000 + 0.85 * 1000 = 3850. October 2-31: 1 job, 2 images, 0.10, median = p95 = 2000.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from lib.db.database import Database
from lib.engine import Engine
from lib.reporting import analytics as a
from lib.reporting import ledger as lg
from tests.builders import ADMIN, ALICE, ANALYST, BOB, NOV, add_job


def test_the_period_and_the_one_before_match_the_hand_computed_figures(db: Database) -> None:
    s = a.summary(db, ADMIN, NOV)
    now, before = s.current, s.previous
    assert (now.jobs, now.images, now.succeeded, now.failed, now.cancelled) == (7, 7, 4, 2, 1)
    assert now.spend_usd == Decimal("0.249") and now.unpriced_jobs == 1
    assert now.cost_per_image_usd == Decimal("0.0498")
    assert now.success_rate == pytest.approx(4 / 6)  # cancelled j5 left out
    assert (now.median_ms, now.p95_ms) == (2500, 3850)
    assert (before.start, before.end) == (date(2026, 10, 2), date(2026, 10, 31))
    assert (before.jobs, before.images, before.spend_usd) == (1, 2, Decimal("0.10"))
    assert (before.median_ms, before.p95_ms, before.success_rate) == (2000, 2000, 1.0)
    assert s.change("spend_usd") == pytest.approx(1.49)
    assert s.change("images") == pytest.approx(2.5)
    assert s.change("success_rate") == pytest.approx(4 / 6 - 1)  # points, not a ratio


def test_an_empty_period_gives_zeros_and_none_without_crashing(db: Database) -> None:
    empty = a.Filters(date(2020, 1, 1), date(2020, 1, 31))
    s = a.summary(db, ADMIN, empty)
    assert (s.current.jobs, s.current.images, s.current.spend_usd) == (0, 0, Decimal(0))
    assert s.current.cost_per_image_usd is None and s.current.success_rate is None
    assert s.current.median_ms is None and s.change("spend_usd") is None
    for frame in (a.spend_by_day(db, ADMIN, empty), a.cost_per_image_by_model(db, ADMIN, empty),
                  a.durations(db, ADMIN, empty), a.failures(db, ADMIN, empty),
                  a.top_users(db, ADMIN, empty), a.breakdown(db, ADMIN, empty, "day")):
        assert frame.empty
    rows, total = lg.ledger(db, ADMIN, empty)
    assert rows.empty and total == 0
    month = a.cumulative_month(db, ADMIN, empty, date(2020, 1, 15), date(2026, 11, 20))
    assert len(month) == 31 and month["cumulative_usd"].max() == 0
    assert month["forecast_usd"].isna().all()


def test_a_single_image(engine: Engine) -> None:
    add_job(engine.db, "only", "alice", cost="0.04", duration=1234)
    now = a.summary(engine.db, ADMIN, NOV).current
    assert (now.jobs, now.images, now.spend_usd) == (1, 1, Decimal("0.04"))
    assert now.cost_per_image_usd == Decimal("0.04") and now.success_rate == 1.0
    assert now.median_ms == now.p95_ms == 1234
    rows, total = lg.ledger(engine.db, ADMIN, NOV)
    assert total == 1 and rows["cost_usd"].tolist() == [0.04]


def test_failed_jobs_cost_nothing_unless_they_were_billed(engine: Engine) -> None:
    add_job(engine.db, "free", "bob", status="failed", cost=None, error_type="safety")
    assert a.summary(engine.db, ADMIN, NOV).current.spend_usd == 0
    add_job(engine.db, "billed", "bob", status="failed", cost="0.039", error_type="storage")
    now = a.summary(engine.db, ADMIN, NOV).current
    assert now.spend_usd == Decimal("0.039") and now.images == 0
    assert now.unpriced_jobs == 0  # a failed job with no charge is not "unpriced"
    assert now.cost_per_image_usd is None  # money spent, no image made


def test_a_job_of_n_images_splits_its_cost_exactly(engine: Engine) -> None:
    add_job(engine.db, "three", "alice", cost="0.10", n=3)
    parts = engine.db.fetchall("SELECT cost_usd FROM images WHERE job_id = 'three'")
    assert sum(p[0] for p in parts) == Decimal("0.10")
    now = a.summary(engine.db, ADMIN, NOV).current
    assert (now.images, now.spend_usd) == (3, Decimal("0.10"))
    assert now.cost_per_image_usd == Decimal("0.03333333")
    rows, total = lg.ledger(engine.db, ADMIN, NOV)
    assert total == 3 and sum(Decimal(str(c)) for c in rows["cost_usd"]) == Decimal("0.10")


def test_a_price_change_mid_period_keeps_each_job_at_its_own_price(db: Database) -> None:
    by_model = a.cost_per_image_by_model(db, ADMIN, NOV).set_index("model")
    # j1, j2 at 0.04 an image, j7 at the new 0.05: (0.04 + 0.12 + 0.05) / 5 images
    assert by_model.loc["gpt-image-2", "cost_per_image_usd"] == pytest.approx(0.042)
    assert by_model.loc["gpt-image-2", "spend_usd"] == pytest.approx(0.21)
    assert math.isnan(by_model.loc["core", "cost_per_image_usd"])  # unpriced: unknown, not 0


def test_a_job_counts_on_the_day_it_was_created_even_if_its_image_came_after_midnight(
        engine: Engine) -> None:
    add_job(engine.db, "late", "alice", cost="0.04", created=datetime(2026, 10, 31, 23, 59, 50),
            image_created=datetime(2026, 11, 1, 0, 0, 10))
    s = a.summary(engine.db, ADMIN, NOV)
    assert (s.current.jobs, s.current.images) == (0, 0)
    assert (s.previous.jobs, s.previous.images, s.previous.spend_usd) == (1, 1, Decimal("0.04"))


def test_a_member_sees_only_themselves_whatever_the_filter_says(db: Database) -> None:
    asked_for_bob = a.Filters(NOV.start, NOV.end, users=("bob", "carol"))
    assert a.scope(BOB, asked_for_bob).users == ("bob",)
    s = a.summary(db, ALICE, asked_for_bob)
    assert (s.current.jobs, s.current.images, s.current.spend_usd) == (3, 5, Decimal("0.21"))
    assert a.top_users(db, ALICE, asked_for_bob)["user"].tolist() == ["alice"]
    assert set(a.spend_by_day(db, ALICE, NOV, by="user")["group"]) == {"alice"}
    assert a.failures(db, ALICE, NOV).empty  # the failures are bob's
    rows, total = lg.ledger(db, ALICE, asked_for_bob)
    assert total == 5 and set(rows["user"]) == {"alice"}
    assert a.facets(db, BOB) == {"users": ["bob"], "providers": ["gemini", "stability"],
                                 "models": ["core", "flash"]}


def test_admins_and_analysts_see_everyone_and_can_narrow(db: Database) -> None:
    assert a.summary(db, ANALYST, NOV).current.jobs == 7
    bob = a.summary(db, ADMIN, a.Filters(NOV.start, NOV.end, users=("bob",))).current
    assert (bob.jobs, bob.spend_usd, bob.success_rate) == (3, Decimal("0.039"), 0.0)
    assert a.facets(db, ANALYST)["users"] == ["alice", "bob", "carol"]


def test_status_provider_model_and_demo_filters(db: Database) -> None:
    failed = a.summary(db, ADMIN, a.Filters(NOV.start, NOV.end, statuses=("failed",))).current
    assert (failed.jobs, failed.images, failed.spend_usd) == (2, 0, Decimal("0.039"))
    core = a.summary(db, ADMIN, a.Filters(NOV.start, NOV.end, models=("core",))).current
    assert (core.jobs, core.images, core.unpriced_jobs) == (2, 2, 1)
    with db.write() as cur:
        cur.execute("UPDATE jobs SET demo = true WHERE id = 'j7'")
        cur.execute("UPDATE images SET demo = true WHERE job_id = 'j7'")
    real = a.summary(db, ADMIN, a.Filters(NOV.start, NOV.end, providers=("openai",),
                                          include_demo=False)).current
    assert (real.jobs, real.images, real.spend_usd) == (2, 4, Decimal("0.16"))


def test_spend_per_day_by_provider_model_or_user_adds_up_to_the_spend(db: Database) -> None:
    for by in ("provider", "model", "user"):
        df = a.spend_by_day(db, ADMIN, NOV, by=by)
        assert df["spend_usd"].sum() == pytest.approx(0.249)
        assert df["jobs"].sum() == 7
    df = a.spend_by_day(db, ADMIN, NOV, by="provider")
    nov2 = df[df["day"] == pd.Timestamp(2026, 11, 2)]
    assert nov2[["group", "spend_usd", "jobs"]].values.tolist() == [
        ["openai", pytest.approx(0.16), 2]]
    assert df[df["group"] == "stability"]["unpriced_jobs"].sum() == 1
    with pytest.raises(ValueError, match="provider, model or user"):
        a.spend_by_day(db, ADMIN, NOV, by="day")


def test_the_month_so_far_and_its_run_rate_forecast(db: Database) -> None:
    df = a.cumulative_month(db, ADMIN, NOV, date(2026, 11, 30), date(2026, 11, 20), Decimal(1))
    assert len(df) == 30 and df["budget_usd"].eq(1.0).all()
    on = df.set_index(df["day"].dt.day)
    assert on.loc[2, "cumulative_usd"] == pytest.approx(0.16)
    assert on.loc[20, "cumulative_usd"] == pytest.approx(0.249)
    assert on.loc[21:, "cumulative_usd"].isna().all()  # the future has no actuals
    assert on.loc[:19, "forecast_usd"].isna().all()
    # 0.249 over 20 days so far, carried on for 10 more days
    assert on.loc[30, "forecast_usd"] == pytest.approx(0.249 + 0.249 / 20 * 10)
    past = a.cumulative_month(db, ADMIN, NOV, date(2026, 11, 1), date(2026, 12, 5))
    assert past["forecast_usd"].isna().all() and past["cumulative_usd"].iloc[-1] == (
        pytest.approx(0.249))
    assert past["budget_usd"].isna().all()
    ahead = a.cumulative_month(db, ADMIN, NOV, date(2026, 11, 1), date(2026, 10, 20))
    assert ahead["cumulative_usd"].isna().all() and ahead["forecast_usd"].isna().all()


def test_duration_quantiles_for_a_box_plot_come_from_duckdb(db: Database) -> None:
    df = a.durations(db, ADMIN, NOV, "provider").set_index("group")
    assert list(df.index) == ["stability", "openai"]  # by median; gemini never succeeded
    openai = df.loc["openai"]  # 1.0, 3.0 and 4.0 s
    assert (openai["n"], openai["min"], openai["max"]) == (3, 1.0, 4.0)
    assert (openai["q1"], openai["median"], openai["q3"]) == (2.0, 3.0, 3.5)
    assert openai["p95"] == pytest.approx(3.9)
    assert (openai["lowerfence"], openai["upperfence"]) == (1.0, 4.0)
    assert df.loc["stability", "median"] == 2.0


def test_failure_rate_by_provider_and_error_type_leaves_cancelled_jobs_out(
    db: Database,
) -> None:
    df = a.failures(db, ADMIN, NOV)
    got = {(r.provider, r.error_type): (r.jobs, r.finished, r.rate) for r in df.itertuples()}
    assert got == {("gemini", "bad_response"): (1, 2, 0.5),
                   ("gemini", "rate_limited"): (1, 2, 0.5)}  # stability: j5 was cancelled


def test_top_users_by_spend(db: Database) -> None:
    df = a.top_users(db, ADMIN, NOV)
    assert df["user"].tolist() == ["alice", "bob", "carol"]
    assert df["spend_usd"].tolist() == pytest.approx([0.21, 0.039, 0.0])
    assert a.top_users(db, ADMIN, NOV, limit=1)["user"].tolist() == ["alice"]


def test_the_ledger_has_a_row_per_image_and_per_job_without_one(db: Database) -> None:
    rows, total = lg.ledger(db, ADMIN, NOV, page=0, per_page=4)
    assert total == 10 and len(rows) == 4  # 7 images + j3, j4, j5
    assert a.summary(db, ADMIN, NOV).current.ledger_rows == 10
    assert lg.ledger(db, ADMIN, NOV, page=1, per_page=4, total=10)[0]["job_id"].tolist() == (
        lg.ledger(db, ADMIN, NOV, page=1, per_page=4)[0]["job_id"].tolist())
    assert rows.iloc[0]["job_id"] == "j7"  # newest first
    last, _ = lg.ledger(db, ADMIN, NOV, page=99, per_page=4)
    assert len(last) == 2  # a page past the end gives the last one
    everything = pd.concat([lg.ledger(db, ADMIN, NOV, page=p, per_page=4)[0] for p in range(3)])
    assert len(set(zip(everything["job_id"], everything["image_id"].fillna(""),
                       strict=True))) == 10
    assert everything["cost_usd"].sum() == pytest.approx(0.249)
    j4 = everything[everything["job_id"] == "j4"].iloc[0]
    assert (j4["status"], j4["cost_usd"], j4["size"]) == ("failed", 0.039, "1024x1024")


def test_filters_are_checked() -> None:
    with pytest.raises(ValueError, match="before the start"):
        a.Filters(date(2026, 11, 2), date(2026, 11, 1))
    with pytest.raises(ValueError, match="Unknown status"):
        a.Filters(NOV.start, NOV.end, statuses=("lost",))
    assert a.Filters(NOV.start, NOV.end, users=["x"]).users == ("x",)  # type: ignore[arg-type]
    assert NOV.days == 30 and NOV.previous().end == date(2026, 10, 31)


def test_budgets_the_team_for_admins_and_only_their_own_for_members(engine: Engine) -> None:
    assert a.budget_for(engine.db, ADMIN) is None
    with engine.db.write() as cur:
        cur.execute("INSERT INTO budgets VALUES ('team', 'team', 500, 0.8, 'root', now())")
    assert a.budget_for(engine.db, ANALYST).monthly_usd == Decimal(500)  # type: ignore[union-attr]
    assert a.budget_for(engine.db, ALICE) is None  # the team's is not hers to measure against
    with engine.db.write() as cur:
        cur.execute("INSERT INTO budgets VALUES ('user', 'alice', 20, 0.5, 'root', now())")
    mine = a.budget_for(engine.db, ALICE)
    assert mine is not None and (mine.scope, mine.monthly_usd, mine.warn_fraction) == (
        "user", Decimal(20), 0.5)


def test_breakdown_refuses_an_unknown_grouping(db: Database) -> None:
    with pytest.raises(ValueError, match="Unknown grouping"):
        a.breakdown(db, ADMIN, NOV, "colour")
    by_day = a.breakdown(db, ADMIN, NOV, "day")
    assert by_day["day"].is_monotonic_increasing and by_day["spend_usd"].sum() == (
        pytest.approx(0.249))


@pytest.mark.parametrize("viewer", [ADMIN, ALICE])
def test_breakdowns_from_one_scan_equal_each_breakdown_alone(db: Database,
                                                             viewer: a.Viewer) -> None:
    bys = ("model", "user", "provider", "day", None)
    together = a.breakdowns(db, viewer, NOV, bys, times=False)
    assert list(together) == list(bys)
    for by in bys:
        alone = a.breakdown(db, viewer, NOV, by, times=False)
        pd.testing.assert_frame_equal(together[by], alone)
    assert together[None]["spend_usd"].iloc[0] == pytest.approx(
        together["user"]["spend_usd"].sum())
    with_times = a.breakdowns(db, viewer, NOV, ("provider", None))
    pd.testing.assert_frame_equal(with_times["provider"], a.breakdown(db, viewer, NOV, "provider"))
    with pytest.raises(ValueError, match="Unknown grouping"):
        a.breakdowns(db, viewer, NOV, ("model", "colour"))
