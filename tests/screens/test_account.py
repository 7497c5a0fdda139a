"""The Account page and Admin → Tokens under AppTest: a token is made and its secret shown
once (and it works), listed, narrowed to read, revoked after a confirmation (and then it does
not work); every role has the page; nobody sees or revokes another user's tokens but an admin.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from lib import ui
from lib.auth import accounts as auth
from lib.auth import tokens
from lib.core.text import plain
from lib.ui import account as account_ui
from tests.helpers import ROOT, app_as, ensure_user, sign_in

pytestmark = pytest.mark.usefixtures("page_engine", "fast_bcrypt")  # tests/conftest.py

PAGE = "screens/account.py"
ADMIN = str(ROOT / "screens" / "admin.py")
COPY_NOW = "Copy it now: it will not be shown again."


def _account(username: str, role: str = "member") -> AppTest:
    """app.py signed in as ``username``, on the Account page (through the navigation)."""
    return app_as(username, role, page=PAGE)


def _create(at: AppTest, name: str, scope: str = "full") -> AppTest:
    """Fill the New token form and press Create token."""
    next(w for w in at.text_input if w.label == "Name").input(name)
    next(w for w in at.radio if w.label == "Scope").set_value(scope)
    return next(b for b in at.button if b.label == "Create token").click().run()


def _secret_shown(at: AppTest) -> str | None:
    codes = [c.value for c in at.code]
    assert len(codes) <= 1
    return codes[0] if codes else None


def _table(at: AppTest) -> list[dict[str, Any]]:
    """The token table (the Admin page draws its other tabs' tables too)."""
    [frame] = [f for f in at.dataframe if "Token" in f.value.columns]
    rows: list[dict[str, Any]] = frame.value.to_dict("records")
    return rows


def _revoke_keys(at: AppTest, prefix: str = "acct") -> list[str]:
    return [b.key for b in at.button if b.key and b.key.startswith(f"{prefix}_revoke_")]


def _everything_drawn(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [w.value for w in at.warning] + [e.value for e in at.error]
    parts += [s.value for s in at.success] + [f.value.to_csv() for f in at.dataframe]
    return "\n".join(parts)


def test_a_new_token_is_shown_once_and_authenticates_as_its_owner() -> None:
    at = _create(_account("ann"), "laptop script")
    assert not at.exception, [e.value for e in at.exception]
    secret = _secret_shown(at)
    assert secret is not None and secret.startswith(tokens.PREFIX)
    assert any(COPY_NOW in w.value for w in at.warning)
    eng = ui.engine()
    found = tokens.authenticate(eng.db, secret, now=eng.clock.now())
    assert found is not None and (found[0].username, found[1]) == ("ann", "full")
    assert secret not in _everything_drawn(at)  # only in the code block; the list has a hint
    assert at.run() and _secret_shown(at) == secret  # a rerun keeps it until dismissed
    at.button(key="acct_dismiss").click().run()
    assert _secret_shown(at) is None and account_ui.SECRET not in at.session_state
    assert not any(COPY_NOW in w.value for w in at.warning)
    assert [r["Name"] for r in _table(at)] == ["laptop script"]


def test_leaving_the_page_forgets_the_secret() -> None:
    at = _create(_account("ann"), "laptop")
    assert _secret_shown(at) is not None
    at.switch_page("screens/home.py").run()
    assert account_ui.SECRET not in at.session_state
    at.switch_page(PAGE).run()
    assert _secret_shown(at) is None and len(_table(at)) == 1


def test_the_list_shows_each_token_newest_first_with_its_hint_use_and_status() -> None:
    ensure_user("ann", "member")
    eng = ui.engine()
    now = eng.clock.now()
    old, old_secret = tokens.create(eng.db, "ann", "old cron", now=now - timedelta(days=2))
    gone, _ = tokens.create(eng.db, "ann", "retired", now=now - timedelta(days=1))
    new, _ = tokens.create(eng.db, "ann", "export", scope="read", now=now - timedelta(hours=1))
    ann = auth.get_user(eng.db, "ann")
    assert ann is not None
    tokens.revoke(eng.db, ann, gone.id, now=now)
    tokens.authenticate(eng.db, old_secret, now=now)
    at = _account("ann")
    assert not at.exception
    assert _table(at) == [
        {"Name": "export", "Scope": "Read-only", "Token": f"{new.hint}…",
         "Created (UTC)": f"{new.created_at:%Y-%m-%d %H:%M}", "Last used (UTC)": "never",
         "Status": "active"},
        {"Name": "retired", "Scope": "Full", "Token": f"{gone.hint}…",
         "Created (UTC)": f"{gone.created_at:%Y-%m-%d %H:%M}", "Last used (UTC)": "never",
         "Status": "revoked"},
        {"Name": "old cron", "Scope": "Full", "Token": f"{old.hint}…",
         "Created (UTC)": f"{old.created_at:%Y-%m-%d %H:%M}",
         "Last used (UTC)": f"{now:%Y-%m-%d %H:%M}", "Status": "active"},
    ]
    assert _revoke_keys(at) == [f"acct_revoke_{new.id}", f"acct_revoke_{old.id}"]


def test_a_token_made_before_a_password_change_is_listed_as_ended_and_can_be_revoked() -> None:
    ensure_user("ann", "member")
    eng = ui.engine()
    token, secret = tokens.create(eng.db, "ann", "laptop", now=eng.clock.now() - timedelta(hours=1))
    auth.set_password(eng.db, "ann", "a brand new passphrase",
                      now=eng.clock.now() - timedelta(minutes=1))
    at = _account("ann")  # signed in again since
    assert [r["Status"] for r in _table(at)] == ["ended"]
    assert any("*Ended*" in c.value for c in at.caption)
    assert tokens.authenticate(eng.db, secret, now=eng.clock.now()) is None
    assert _revoke_keys(at) == [f"acct_revoke_{token.id}"]  # to free its place


def test_a_sign_out_leaves_a_token_active() -> None:
    ensure_user("ann", "member")
    eng = ui.engine()
    tokens.create(eng.db, "ann", "ci", now=eng.clock.now() - timedelta(hours=1))
    auth.revoke_sessions(eng.db, "ann", eng.clock.now() - timedelta(minutes=1))
    at = _account("ann")  # signed in again since
    assert [r["Status"] for r in _table(at)] == ["active"]


def test_revoking_asks_first_then_stops_the_token() -> None:
    at = _create(_account("ann"), "laptop")
    secret = _secret_shown(at)
    assert secret is not None
    eng = ui.engine()
    [key] = _revoke_keys(at)
    at.button(key=key).click().run()
    assert any("Revoke the token “laptop”" in w.value for w in at.warning)
    at.button(key="acct_confirm_no").click().run()  # Keep it
    assert not any("Revoke the token" in w.value for w in at.warning)
    assert tokens.authenticate(eng.db, secret, now=eng.clock.now()) is not None
    at.button(key=key).click().run()
    at.button(key="acct_confirm_yes").click().run()
    assert not at.exception
    assert tokens.authenticate(eng.db, secret, now=eng.clock.now()) is None
    assert [s.value for s in at.success] == [plain("Revoked “laptop”: it no longer works.")]
    assert [r["Status"] for r in _table(at)] == ["revoked"] and _revoke_keys(at) == []
    assert _secret_shown(at) is None  # a revoked token's secret is not kept on show


def test_a_session_ended_before_the_confirmation_revokes_nothing() -> None:
    at = _create(_account("ann"), "laptop")
    secret = _secret_shown(at)
    assert secret is not None
    at.button(key=_revoke_keys(at)[0]).click().run()
    eng = ui.engine()
    auth.revoke_sessions(eng.db, "ann", eng.clock.now())  # signed out elsewhere
    at.button(key="acct_confirm_yes").click().run()
    [listed] = tokens.list_for(eng.db, "ann")
    assert listed.revoked_at is None  # the callback did nothing; the page asks to sign in
    assert not [f for f in at.dataframe if "Token" in f.value.columns]
    assert _secret_shown(at) is None


def test_a_read_only_token_authenticates_with_the_read_scope() -> None:
    at = _create(_account("ann"), "dashboard export", scope="read")
    secret = _secret_shown(at)
    assert secret is not None
    eng = ui.engine()
    found = tokens.authenticate(eng.db, secret, now=eng.clock.now())
    assert found is not None and found[1] == "read"
    assert [r["Scope"] for r in _table(at)] == ["Read-only"]


@pytest.mark.parametrize("role", ["admin", "member", "analyst"])
def test_every_role_has_the_page_last_in_the_menu_and_says_who_you_are(role: str) -> None:
    assert auth.allowed_pages(role)[-1] == "account"
    at = _account(f"{role}1", role)
    assert not at.exception
    assert [t.value for t in at.title] == ["Account"]
    who = at.markdown[0].value
    assert f"**{role.title()}1**" in who and f"Username: {role}1" in who
    assert f"Role: **{role}** (" in who
    assert any("Authorization: Bearer <token>" in m.value for m in at.markdown)
    at = _create(at, f"{role} script")
    assert _secret_shown(at) is not None


def test_an_analyst_token_acts_as_the_analyst() -> None:
    at = _create(_account("finn", "analyst"), "reports")
    secret = _secret_shown(at)
    assert secret is not None
    eng = ui.engine()
    found = tokens.authenticate(eng.db, secret, now=eng.clock.now())
    assert found is not None and (found[0].username, found[0].role) == ("finn", "analyst")


def test_a_member_sees_and_revokes_only_their_own_tokens() -> None:
    ensure_user("bob", "member")
    eng = ui.engine()
    bobs, bob_secret = tokens.create(eng.db, "bob", "bob's secret project", now=eng.clock.now())
    at = _create(_account("ann"), "laptop")
    assert [r["Name"] for r in _table(at)] == ["laptop"]
    assert "bob" not in _everything_drawn(at) and bobs.hint not in _everything_drawn(at)
    assert f"acct_revoke_{bobs.id}" not in _revoke_keys(at)
    at.session_state["acct_confirm"] = bobs.id  # a forged question about bob's token
    at.run()
    assert not any("Revoke" in w.value for w in at.warning)
    assert tokens.authenticate(eng.db, bob_secret, now=eng.clock.now()) is not None


def test_a_creation_error_is_shown_as_is_and_stores_nothing() -> None:
    ensure_user("ann", "member")
    eng = ui.engine()
    for i in range(tokens.MAX_TOKENS_PER_USER):
        tokens.create(eng.db, "ann", f"t{i}", now=eng.clock.now())
    at = _create(_account("ann"), "one too many")
    message = f"You have {tokens.MAX_TOKENS_PER_USER} tokens already: revoke one first."
    assert [e.value for e in at.error] == [plain(message)]
    assert _secret_shown(at) is None
    assert len(tokens.list_for(eng.db, "ann")) == tokens.MAX_TOKENS_PER_USER
    assert next(w for w in at.text_input if w.label == "Name").value == "one too many"  # to fix
    at = _create(at, "   ")
    assert [e.value for e in at.error] == [
        plain("Give the token a name, so you can tell it apart later.")]


def test_a_made_token_empties_the_form_for_the_next_one() -> None:
    at = _create(_account("ann"), "laptop", scope="read")
    assert _secret_shown(at) is not None
    assert next(w for w in at.text_input if w.label == "Name").value == ""
    assert next(w for w in at.radio if w.label == "Scope").value == "full"


def _admin_tokens(username: str = "root") -> AppTest:
    ensure_user(username, "admin")
    at = AppTest.from_file(ADMIN, default_timeout=30)
    sign_in(at, username)
    at.session_state["admin_tab"] = "Tokens"
    return at.run()


def test_the_admin_tokens_tab_lists_everyones_tokens_and_revokes_one() -> None:
    ensure_user("ann", "member")
    ensure_user("bob", "analyst")
    eng = ui.engine()
    now = eng.clock.now()
    anns, ann_secret = tokens.create(eng.db, "ann", "laptop", now=now - timedelta(hours=2))
    bobs, bob_secret = tokens.create(eng.db, "bob", "reports", scope="read",
                                     now=now - timedelta(hours=1))
    at = _admin_tokens()
    assert not at.exception, [e.value for e in at.exception]
    assert [(r["User"], r["Name"], r["Scope"], r["Token"], r["Status"]) for r in _table(at)] == [
        ("bob", "reports", "Read-only", f"{bobs.hint}…", "active"),
        ("ann", "laptop", "Full", f"{anns.hint}…", "active")]
    assert _revoke_keys(at, "admtok") == [f"admtok_revoke_{bobs.id}", f"admtok_revoke_{anns.id}"]
    at.button(key=f"admtok_revoke_{bobs.id}").click().run()
    assert any("Revoke bob's token “reports”" in w.value for w in at.warning)
    at.button(key="admtok_confirm_yes").click().run()
    assert not at.exception
    assert tokens.authenticate(eng.db, bob_secret, now=eng.clock.now()) is None
    assert tokens.authenticate(eng.db, ann_secret, now=eng.clock.now()) is not None
    assert [r["Status"] for r in _table(at)] == ["revoked", "active"]
    assert [s.value for s in at.success] == [plain("Revoked “reports”: it no longer works.")]


def test_the_admin_tokens_tab_with_no_tokens_says_so() -> None:
    at = _admin_tokens()
    assert not at.exception
    assert any("Nobody has made an API token yet." in i.value for i in at.info)
