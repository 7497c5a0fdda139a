"""Admin → Audit under AppTest: an admin's change on the page is recorded with the page
session's id, the tab lists and filters it, renders hostile text as text, and nobody but an
admin sees it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from lib import audit, ui
from lib.ui import signin
from tests.helpers import ROOT, ensure_user, sign_in

PAGE = str(ROOT / "screens" / "admin.py")


@pytest.fixture(autouse=True)
def _fresh_engine(fast_bcrypt: None) -> Iterator[None]:
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    audit.set_actor(None)
    st.cache_resource.clear()


def _page(username: str = "root", role: str = "admin") -> AppTest:
    ensure_user(username, role)
    at = AppTest.from_file(PAGE, default_timeout=30)
    sign_in(at, username)
    return at.run()


def _audit_tab(at: AppTest) -> AppTest:
    at.session_state["admin_tab"] = "Audit"
    return at.run()


def test_a_role_change_on_the_page_is_listed_with_the_sessions_id() -> None:
    ensure_user("ann", "member")
    at = _page()
    sid = at.session_state[signin.SESSION_KEY]["sid"]
    at.selectbox(key="admin_target").select("ann").run()
    at.selectbox(key="ar_ann").select("analyst")
    at.button(key="admin_set_role").click().run()
    assert [s.value for s in at.success] == ["ann is now analyst."]
    rows = audit.search(ui.engine().db, audit.Filter(action="user_role"))
    assert [(r.actor, r.target, r.via, r.details()) for r in rows] == [
        ("root", "ann", f"session:{sid}", {"from": "member", "to": "analyst"})]
    _audit_tab(at)
    assert not at.exception
    table = at.dataframe[-1].value
    assert list(table.columns) == ["When (UTC)", "Actor", "Action", "Target", "Detail", "Via"]
    assert table.iloc[0]["Action"] == "user_role"  # newest first
    at.selectbox(key="audit_action").select("user_role").run()
    table = at.dataframe[-1].value
    assert list(table["Target"]) == ["ann"] and list(table["Via"]) == [f"session:{sid}"]
    at.text_input(key="audit_text").input("nobody-matches-this").run()
    assert any("No audit rows match." in i.value for i in at.info)


def test_hostile_text_is_shown_as_text_and_guarded_for_spreadsheets() -> None:
    at = _page()
    hostile = '=cmd|"/c calc"!A1 **bold** <img src=x onerror=alert(1)>'
    with audit.acting(audit.Actor("root", "session:x")):
        audit.record_now(ui.engine().db, audit.Action.BUDGET_SET, hostile, {"note": hostile})
    _audit_tab(at)
    assert not at.exception
    table = at.dataframe[-1].value
    assert "'" + hostile in list(table["Target"])  # a cell, never Markdown or HTML
    assert not any("<img" in m.value for m in at.markdown)


@pytest.mark.parametrize("role", ["member", "analyst"])
def test_no_other_role_sees_the_audit_tab(role: str) -> None:
    at = _page("ann", role)
    at.session_state["admin_tab"] = "Audit"
    at.run()
    assert [e.value for e in at.error] == ["This page is not available to your role."]
    assert not at.tabs and not at.dataframe
    assert "audit_action" not in {w.key for w in at.selectbox}
