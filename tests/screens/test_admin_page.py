"""The Admin page under AppTest: it renders for admins, does its jobs, and stops everyone else.

Most tests drive ``pages/admin.py`` directly (signed in with tests.helpers.sign_in): that exercises
the page's own role check, which must hold even if a navigation bug ever lists the page.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from lib import ui
from lib.auth import accounts as auth
from lib.core.clock import utcnow
from lib.styles import library as styles
from tests.helpers import ROOT, app_as, ensure_user, sign_in

PAGE = str(ROOT / "screens" / "admin.py")


@pytest.fixture(autouse=True)
def _fresh_engine(fast_bcrypt: None) -> Iterator[None]:
    """Each test gets an engine on its own data dir and cheap bcrypt."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()


TABS = ["Users", "Budgets", "Prices", "Providers", "Models", "Access", "Storage", "Styles",
        "Tokens", "Integrations", "Audit"]
LAZY = {"Styles", "Audit"}  # drawn only while open


def _page(username: str | None = "root", role: str = "admin", tab: str | None = None) -> AppTest:
    """The admin page file run on its own, signed in as ``username``, on ``tab`` if given."""
    if username is not None:
        ensure_user(username, role)
    at = AppTest.from_file(PAGE, default_timeout=30)
    if username is not None:
        sign_in(at, username)
    if tab is not None:
        at.session_state["admin_tab"] = tab
    return at.run()


def _open(at: AppTest, tab: str) -> AppTest:
    """Switch to ``tab`` as a click would: the tabs rerun the page with it selected."""
    at.session_state["admin_tab"] = tab
    return at.run()


def _field(at: AppTest, kind: str, label: str) -> Any:
    """The first widget of this kind with this label."""
    return next(w for w in at.get(kind) if w.label == label)


def _texts(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_an_admin_sees_users_providers_storage_and_styles() -> None:
    at = _page()
    assert not at.exception
    assert at.title[0].value == "Admin"
    assert [t.label for t in at.tabs] == TABS
    users = at.dataframe[0].value
    assert list(users["Username"]) == ["root"] and "$2b$" not in users.to_csv()
    text = _texts(_open(at, "Providers"))
    assert "**Sandbox (offline, free)**" in text and "not configured" in text
    assert [m.label for m in _open(at, "Storage").metric] == [
        "Objects stored", "Stored size", "Image rows", "Stored per image"]
    text = _texts(_open(at, "Styles"))
    assert all(f"**{s.label}**" in text for s in styles.BUILTIN.values())
    assert not at.exception


def _markers(at: AppTest) -> dict[str, bool]:
    """Which tab's body is on the page, each told by something only that tab draws."""
    labels = {b.label for b in at.button} | {w.label for w in at.number_input}
    frames = [df.value for df in at.dataframe]
    return {
        "Users": "admin_target" in {w.key for w in at.selectbox},
        "Budgets": "Monthly limit (USD)" in labels,
        "Prices": "Add price" in labels or any("Images priced" in f.columns for f in frames),
        "Providers": "admin_test_sandbox" in {b.key for b in at.button},
        "Models": "models_save_sandbox" in {b.key for b in at.button},
        "Access": "access_role_member_save" in {b.key for b in at.button},
        "Storage": any(m.label == "Objects stored" for m in at.metric),
        "Styles": "admin_previews" in {b.key for b in at.button},
        "Tokens": any("Nobody has made an API token yet." in i.value for i in at.info),
        "Integrations": "Add endpoint" in labels,
        "Audit": "audit_action" in {w.key for w in at.selectbox},
    }


def test_every_tab_but_styles_is_drawn_on_each_run_and_styles_only_while_open() -> None:
    """Hidden tabs are drawn so their half-filled forms survive a look elsewhere (the browser
    journey checks that); Styles, whose cards and previews grow with the library, and Audit,
    whose log does, wait."""
    at = _page()
    assert not at.exception
    assert [t.label for t in at.tabs] == TABS  # every tab is offered
    assert _markers(at) == {tab: tab not in LAZY for tab in TABS}
    for tab in TABS:
        _open(at, tab)
        assert not at.exception, (tab, [e.value for e in at.exception])
        assert _markers(at) == {t: t not in LAZY or tab == t for t in TABS}, tab


@pytest.mark.parametrize("role", ["member", "analyst"])
def test_other_roles_running_the_page_file_are_stopped_with_the_role_message(role: str) -> None:
    at = _page("ann", role)
    assert not at.exception
    assert [e.value for e in at.error] == ["This page is not available to your role."]
    assert not at.tabs and not at.title and not at.button


def test_nobody_signed_in_is_asked_to_sign_in() -> None:
    ensure_user("root", "admin")
    at = _page(None)
    assert [w.value for w in at.warning] == ["Please sign in first."]
    assert not at.tabs


def test_admins_reach_the_page_through_the_apps_navigation() -> None:
    if "screens/admin.py" not in (ROOT / "app.py").read_text(encoding="utf-8"):
        pytest.skip("app.py does not list pages/admin.py yet (the lead wires it into PAGES)")
    at = app_as("root", "admin", page="screens/admin.py")
    assert not at.exception
    assert [t.label for t in at.tabs] == TABS


def test_adding_a_user_through_the_form_creates_it_and_says_so() -> None:
    at = _page()
    _field(at, "text_input", "Username").input("Bob")
    _field(at, "text_input", "Full name").input("Bob Stone")
    _field(at, "text_input", "E-mail (optional)").input("bob@example.com")
    _field(at, "selectbox", "Role").select("analyst")
    _field(at, "text_input", "Initial password").input("bob-password-123")
    at.button(key=next(b.key for b in at.button if b.label == "Add user")).click().run()
    assert not at.exception
    bob = auth.get_user(ui.engine().db, "bob")
    assert bob is not None and (bob.role, bob.email, bob.name) == ("analyst", "bob@example.com",
                                                                   "Bob Stone")
    assert [s.value for s in at.success] == ["Added bob."]
    assert "bob" in list(at.dataframe[0].value["Username"])
    assert _field(at, "text_input", "Username").value == ""  # a fresh form for the next one


def test_a_weak_password_is_refused_on_the_page_and_creates_nobody() -> None:
    at = _page()
    _field(at, "text_input", "Username").input("bob")
    _field(at, "text_input", "Initial password").input("short")
    at.button(key=next(b.key for b in at.button if b.label == "Add user")).click().run()
    assert [e.value for e in at.error] == ["A password needs at least 10 characters."]
    assert auth.get_user(ui.engine().db, "bob") is None
    assert _field(at, "text_input", "Username").value == "bob"  # kept, to fix and resend


def test_demoting_the_only_admin_is_refused_with_the_last_admin_message() -> None:
    at = _page()
    at.selectbox(key="ar_root").select("member")
    at.button(key="admin_set_role").click().run()
    assert any("last admin" in e.value for e in at.error)
    assert auth.get_user(ui.engine().db, "root").role == "admin"  # type: ignore[union-attr]
    assert at.button(key="admin_toggle").disabled  # and you can't disable yourself


def test_an_admin_changes_a_role_and_disables_a_user() -> None:
    ensure_user("ann", "member")
    at = _page()
    at.selectbox(key="admin_target").select("ann").run()
    at.selectbox(key="ar_ann").select("analyst")
    at.button(key="admin_set_role").click().run()
    assert [s.value for s in at.success] == ["ann is now analyst."]
    at.button(key="admin_toggle").click().run()
    ann = auth.get_user(ui.engine().db, "ann")
    assert ann is not None and ann.role == "analyst" and ann.disabled
    assert [s.value for s in at.success] == ["Disabled ann."]


def test_the_sandbox_connection_test_shows_its_result() -> None:
    at = _page(tab="Providers")
    at.button(key="admin_test_sandbox").click().run()
    assert not at.exception
    assert any("draws images locally" in s.value for s in at.success)
    assert at.button(key="admin_test_gemini").disabled


def test_back_up_now_writes_a_checked_copy_and_lists_it() -> None:
    at = _page(tab="Storage")
    at.button(key="admin_backup").click().run()
    assert not at.exception
    [done] = [s.value for s in at.success]
    assert done.startswith("Backed up to promptboard-") and "checked" in done
    listed = at.dataframe[-1].value
    assert list(listed.columns) == ["Backup", "Size"] and len(listed) == 1
    assert listed["Backup"][0] in done


def test_previews_are_drawn_on_demand_and_shown() -> None:
    at = _page(tab="Styles")
    assert not at.get("image")
    at.button(key="admin_previews").click().run()
    assert not at.exception
    assert len(at.get("image")) == len(styles.BUILTIN)
    assert [s.value for s in at.success] == ["Previews drawn."]


def test_a_proposal_is_listed_first_and_approved_from_the_page() -> None:
    ensure_user("ann", "member")
    eng = ui.engine()
    ann = auth.get_user(eng.db, "ann")
    assert ann is not None
    made = styles.propose(eng.db, ann, "Ink wash", "{prompt}, ink wash", "", None, utcnow())
    at = _page(tab="Styles")
    cards = [m.value for m in at.markdown if "-badge[" in m.value and "`" in m.value]
    assert cards[0].startswith("**Ink wash**") and ":orange-badge[proposed]" in cards[0]
    at.button(key=f"admin_Approve_{made.id}").click().run()
    assert styles.get(made.id, eng.db).status == "active"
    assert [s.value for s in at.success] == ["Approved “Ink wash”."]


def test_a_style_is_edited_in_place_and_a_bad_template_is_explained() -> None:
    at = _page(tab="Styles")
    at.button(key="admin_edit_cartoon").click().run()
    template = next(w for w in at.text_area if w.value == styles.BUILTIN["cartoon"].template)
    template.input("cartoon without a placeholder")
    save = [b for b in at.button if b.label == "Save style"][-1]
    save.click().run()
    assert any("must contain {prompt}" in e.value for e in at.error)
    template = next(w for w in at.text_area if w.value == "cartoon without a placeholder")
    template.input("{prompt}, claymation")
    [b for b in at.button if b.label == "Save style"][-1].click().run()
    assert not at.exception
    assert styles.get("cartoon", ui.engine().db).template == "{prompt}, claymation"
    assert [s.value for s in at.success] == ["Saved “Cartoon”."]


def test_a_new_style_is_added_from_the_form() -> None:
    at = _page(tab="Styles")
    _field(at, "text_input", "Name").input("Pixel art")
    next(w for w in at.text_area if w.label == "Template").input("{prompt}, 16-bit pixel art")
    _field(at, "text_input", "Suggested size").input("512x512")
    [b for b in at.button if b.label == "Save style"][0].click().run()
    assert not at.exception
    made = styles.get("pixel-art", ui.engine().db)
    assert (made.status, made.settings) == ("active", {"size": "512x512"})


def test_an_admin_sets_a_team_budget_on_the_page() -> None:
    from decimal import Decimal

    at = _open(app_as("root", "admin", page="screens/admin.py"), "Budgets")
    assert not at.exception
    limit = next(w for w in at.number_input if w.label == "Monthly limit (USD)")
    limit.set_value(250.0)
    next(b for b in at.button if b.label == "Save budget").click().run()
    assert not at.exception
    row = ui.engine().db.fetchone("SELECT scope, monthly_usd FROM budgets")
    assert row == ("team", Decimal("250.00"))
    assert [s.value for s in at.success] == [r"Budget for Team\: \$250.00 a month."]  # plain()
    assert at.session_state["admin_tab"] == "Budgets"  # the change kept the tab open


def test_the_prices_tab_lists_prices_with_what_they_priced() -> None:
    at = _open(app_as("root", "admin", page="screens/admin.py"), "Prices")
    assert not at.exception
    frames = [df.value for df in at.dataframe]
    prices = next(f for f in frames if "Images priced" in f.columns)
    assert {"sandbox", "openai", "gemini"} <= set(prices["Provider"])


def test_prices_shows_jobs_whose_provider_cost_differs_from_the_computed_one() -> None:
    from decimal import Decimal

    from lib import jobs
    from tests.helpers import wait_until

    at = _page(tab="Prices")
    eng = ui.engine()
    ids = [jobs.submit(eng, "root", jobs.JobSpec(prompt=f"a fox {i}", width=64, height=64))
           for i in range(2)]
    wait_until(lambda: all((j := jobs.get(eng, i)) is not None and j.status == jobs.SUCCEEDED
                           for i in ids), what="both jobs done")  # the page's own workers
    with eng.db.write() as cur:  # as a provider would have reported them: one agrees
        cur.execute("UPDATE jobs SET cost_usd = 0.03, provider_cost_usd = 0.03 WHERE id = ?",
                    [ids[0]])
        cur.execute("UPDATE jobs SET cost_usd = 0.03, provider_cost_usd = 0.05 WHERE id = ?",
                    [ids[1]])
    at.run()
    assert not at.exception
    assert any("1 job cost something else by the provider's own figure" in w.value
               for w in at.warning)
    table = next(d.value for d in at.dataframe if "Provider says" in d.value.columns)
    assert list(table["Job"]) == [ids[1]]
    assert list(table["Difference"]) == [float(Decimal("0.02"))]


def test_check_models_on_the_models_tab_waits_for_a_key() -> None:
    at = _page(tab="Models")
    assert not at.exception
    assert at.button(key="models_check_gemini").disabled  # not configured here
    assert any("Sandbox (offline, free)'s API has no model list" in c.value for c in at.caption)
