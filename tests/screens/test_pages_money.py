"""Money on the pages: budgets before a batch, over-budget states, members' views, formats."""

from __future__ import annotations

from decimal import Decimal

import pytest
from streamlit.testing.v1 import AppTest

from lib.core.text import plain
from tests.helpers import app_as, wait_until

pytestmark = pytest.mark.usefixtures("page_engine")  # tests/conftest.py


def _price_sandbox(usd: str) -> None:
    from lib import ui

    with ui.engine().db.write() as cur:
        cur.execute("UPDATE prices SET usd_per_unit = ? WHERE provider = 'sandbox'", [usd])


def _budget(scope: str, subject: str, usd: str) -> None:
    from lib import ui
    from lib.money import budgets

    eng = ui.engine()
    budgets.set_budget(eng.db, scope, subject, Decimal(usd), "admin", eng.clock.now())


def _generate_form(user: str, role: str, variations: int) -> AppTest:
    at = app_as(user, role, page="screens/generate.py")
    at.text_area(key="gen_prompt").input("a hummingbird").run()
    return at.number_input(key="gen_variations").set_value(variations).run()


def test_a_batch_over_the_budget_is_shown_and_blocked_before_the_click() -> None:
    at = app_as("bob", "member", page="screens/generate.py")
    _price_sandbox("0.04")
    _budget("user", "bob", "0.42")
    at = _generate_form("bob", "member", 12)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert plain("This batch of 12 jobs ($0.48) exceeds your remaining $0.42 this month, so "
                 "it will be refused.") in errors  # escaped: two "$" are not LaTeX
    assert at.button(key="gen_submit").disabled
    assert not any("85%" in w.value for w in at.warning)  # no longer one job's figure
    at = at.number_input(key="gen_variations").set_value(10).run()  # $0.40 fits
    assert not at.button(key="gen_submit").disabled


def test_an_admin_may_override_a_batch_over_the_budget() -> None:
    at = app_as("admin", "admin", page="screens/generate.py")
    _price_sandbox("0.04")
    _budget("team", "team", "0.42")
    at = _generate_form("admin", "admin", 12)
    assert at.button(key="gen_submit").disabled
    at = at.checkbox(key="gen_override").check().run()
    assert not at.button(key="gen_submit").disabled
    at.button(key="gen_submit").click().run()
    from lib import ui

    assert ui.engine().db.scalar("SELECT count(*) FROM jobs WHERE status <> 'cancelled'") == 12


def test_too_many_variations_are_refused_out_loud_not_queued_as_one() -> None:
    at = _generate_form("ann", "member", 20)
    assert not at.exception
    assert any("20 variations is more than a batch holds: choose 1 to 16" in e.value
               for e in at.error)
    assert at.button(key="gen_submit").disabled
    assert "1 to 16" in (at.number_input(key="gen_variations").help or "")
    from lib import ui

    assert ui.engine().db.scalar("SELECT count(*) FROM jobs") == 0


@pytest.mark.parametrize(("role", "shown", "hidden"), [
    ("member", "Ask an admin to set up", "secrets.toml"),
    ("admin", "secrets.toml", "Ask an admin to set up"),
])
def test_setting_up_a_provider_is_explained_to_admins_and_asked_of_an_admin_by_members(
    role: str, shown: str, hidden: str,
) -> None:
    at = app_as(f"someone_{role}", role, page="screens/generate.py")
    text = " ".join(m.value for m in at.markdown)
    assert shown in text and hidden not in text


def _spend(user: str, usd: str) -> None:
    """A finished sandbox job of ``user`` that cost ``usd``."""

    from lib import jobs, ui

    eng = ui.engine()
    job_id = jobs.submit(eng, user, jobs.JobSpec(prompt="spent", width=64, height=64))
    wait_until(lambda: eng.db.scalar("SELECT status FROM jobs WHERE id = ?", [job_id])
               not in jobs.ACTIVE, timeout=20,
               what=f"job {job_id} to finish (the dashboard's own workers run it)")
    with eng.db.write() as cur:
        cur.execute("UPDATE jobs SET cost_usd = ? WHERE id = ?", [usd, job_id])


def test_home_shows_a_budget_gone_over_as_over() -> None:
    app_as("admin", "admin", page="screens/home.py")
    _budget("team", "team", "2.20")
    _spend("admin", "2.24")
    at = app_as("admin", "admin", page="screens/home.py")
    assert not at.exception
    bar = at.get("progress")[0]
    assert bar.proto.value == 100
    assert plain("Over by $0.04: $2.24 of $2.20 used (102%)") in bar.proto.text
    assert any(":red[" in m.value and "Over budget" in m.value and "$0.04" in m.value
               for m in at.markdown)


def test_a_member_sees_the_team_budget_as_a_band_not_the_teams_spend() -> None:
    app_as("admin", "admin", page="screens/home.py")
    _budget("team", "team", "100")
    _spend("admin", "85")
    at = app_as("bob", "member", page="screens/home.py")
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "The team's monthly budget is 80-90% used." in text
    page = text + " ".join(str(m.value) for m in at.metric) + " ".join(
        p.proto.text for p in at.get("progress"))
    assert "$15" not in page and "$100" not in page and "$85" not in page


def test_admin_budgets_show_money_a_share_and_who_is_over() -> None:
    app_as("admin", "admin", page="screens/admin.py")
    _budget("team", "team", "2.20")
    _budget("user", "bob", "2.50")
    _spend("admin", "2.24")
    at = app_as("admin", "admin", run=True, page="screens/admin.py")
    at.session_state["admin_tab"] = "Budgets"
    at.run()
    assert not at.exception
    table = next(d for d in at.dataframe if "Budget" in d.value.columns).value
    team = table[table["Budget"] == "Team"].iloc[0]
    assert (team["Limit"], team["Used this month"], team["Used"]) == ("$2.20", "$2.24", 102)
    assert team["Left"] == "over by $0.04"
    bob = table[table["Budget"] == "bob"].iloc[0]
    assert (bob["Limit"], bob["Left"], bob["Used"]) == ("$2.50", "$2.50", 0)
    assert table["Budget"].tolist() == ["Team", "bob"]  # the team's first
    assert any("The team's budget is over by" in m.value for m in at.markdown)


def test_compare_shows_a_grid_over_the_budget_before_run_and_disables_it() -> None:
    at = app_as("bob", "member", page="screens/compare.py")
    _price_sandbox("0.04")
    _budget("user", "bob", "0.20")
    at.text_area(key="cmp_prompts").input("a fox\na boat").run()
    at.multiselect(key="cmp_qualities").set_value(["draft", "standard", "high"]).run()
    assert not at.exception  # 2 rows x 3 columns at $0.04 = $0.24
    errors = " ".join(e.value for e in at.error)
    assert plain("This grid of 6 jobs ($0.24) exceeds your remaining $0.20") in errors
    assert at.button(key="cmp_run").disabled


def test_history_says_a_failed_sandbox_job_was_not_charged() -> None:

    from lib import jobs, ui

    app_as("ann", "member", page="screens/history.py")
    eng = ui.engine()
    job_id = jobs.submit(eng, "ann", jobs.JobSpec(prompt="[[fail:safety]] refused", width=64,
                                                  height=64, n=2))
    wait_until(lambda: eng.db.scalar("SELECT status FROM jobs WHERE id = ?", [job_id])
               not in jobs.ACTIVE, timeout=20, what=f"job {job_id} to finish")
    at = app_as("ann", "member", page="screens/history.py")
    captions = " ".join(c.value for c in at.caption)
    assert "$0.00 (not charged)" in captions and "cost unknown" not in captions
    assert "2 images · 1 attempt ·" in captions and "(s)" not in captions


def test_a_member_with_a_budget_of_their_own_also_sees_the_team_band() -> None:
    app_as("admin", "admin", page="screens/home.py")
    _budget("team", "team", "2.20")
    _budget("user", "bob", "2.50")
    _spend("admin", "2.24")
    at = app_as("bob", "member", page="screens/home.py")
    assert plain("Your budget: $2.50 of $2.50 left (0% used)") in at.get("progress")[0].proto.text
    assert any("The team's monthly budget is over the limit." in m.value for m in at.markdown)


def test_the_gallery_hides_demo_images_until_asked_and_then_says_so() -> None:
    from lib import ui
    from tests.builders import add_image as add

    at = app_as("admin", "admin", page="screens/gallery.py")
    add(ui.engine(), "real", "admin")
    add(ui.engine(), "fake", "admin", demo=True)
    at.run()
    assert "1 image matches." in [c.value for c in at.caption]
    assert not any("Demo data is on" in w.value for w in at.warning)
    at.toggle(key="gal_demo").set_value(True).run()
    assert "2 images match." in [c.value for c in at.caption]
    assert any("Demo data is on" in w.value for w in at.warning)
