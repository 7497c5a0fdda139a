"""The session guard of fragments and dialogs (lib/ui/guard.py), and that nothing goes around it.

The end-to-end proof, every fragment and dialog of the app revoked four ways over a real
server, is tests/reliability/test_revocation.py; these are the fast checks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from lib import ui
from lib.auth import accounts as auth
from lib.core.clock import utcnow
from tests.helpers import TEST_PASSWORD, sign_in

ROOT = Path(__file__).resolve().parents[2]
GUARDED = ("authed_fragment", "authed_dialog")


def _sources() -> list[Path]:
    return sorted([*(ROOT / "lib").rglob("*.py"), *(ROOT / "screens").glob("*.py"),
                   ROOT / "app.py"])


def _bare_streamlit_uses(tree: ast.AST, names: tuple[str, ...]) -> list[int]:
    """Lines that reach ``st.<name>`` (or ``streamlit.<name>``) for any of ``names``."""
    lines = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr in names
                and isinstance(node.value, ast.Name) and node.value.id in ("st", "streamlit")):
            lines.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and node.module == "streamlit":
            lines += [node.lineno for a in node.names if a.name in names]
    return lines


def test_every_fragment_and_dialog_goes_through_the_session_guard() -> None:
    offenders = []
    for path in _sources():
        if path == ROOT / "lib" / "ui" / "guard.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{path.relative_to(ROOT)}:{n}"
                      for n in _bare_streamlit_uses(tree, ("fragment", "dialog"))]
    assert not offenders, ("use lib.ui.guard.authed_fragment / authed_dialog instead of "
                           f"st.fragment / st.dialog: {offenders}")


def test_the_guard_is_used_where_the_app_has_fragments_and_dialogs() -> None:
    used = {p.relative_to(ROOT).as_posix() for p in _sources()
            if any(name in p.read_text(encoding="utf-8") for name in GUARDED)}
    assert {"lib/ui/gallery_view.py", "lib/ui/compare_grid.py", "lib/ui/style_cards.py",
            "lib/ui/joblist.py", "screens/queue.py"} <= used  # joblist: live_jobs


def test_named_widget_callbacks_are_guarded() -> None:
    """A callback runs before its fragment's body: a named one needs @authed_callback."""
    offenders = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defs = {f.name: f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.keyword) or node.arg not in ("on_change", "on_click"):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in defs:
                decorators = {ast.unparse(d) for d in defs[node.value.id].decorator_list}
                if "authed_callback" not in decorators:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, f"decorate these callbacks with @authed_callback: {offenders}"


def test_the_architecture_check_sees_a_bare_fragment() -> None:
    tree = ast.parse("import streamlit as st\n\n@st.fragment(run_every=1)\ndef f():\n    pass\n"
                     "from streamlit import dialog\n")
    assert sorted(_bare_streamlit_uses(tree, ("fragment", "dialog"))) == [3, 6]


# --------------------------------------------------------------------------- AppTest


def _script() -> None:
    """A page with one guarded fragment. Told to revoke, it does so between capturing who is
    signed in and running the guarded body, as a fragment rerun replays it after a page run
    (AppTest cannot send a fragment-only rerun; the websocket suite does)."""
    from datetime import timedelta

    import streamlit as st

    from lib import ui
    from lib.auth import accounts as auth
    from lib.core.clock import utcnow
    from lib.ui import guard, signin

    eng = ui.engine()
    if signin.current_user(eng) is None:
        st.title("Sign in")
        st.stop()

    def body(label: str) -> None:
        st.session_state["body_runs"] = st.session_state.get("body_runs", 0) + 1
        st.markdown(label)

    how = st.session_state.pop("revoke", None)
    if not how:
        guard.authed_fragment(body)("the fragment's content")
        st.stop()
    who = guard.signed_in_as()
    later = utcnow() + timedelta(seconds=1)
    if how == "sign out everywhere":
        auth.revoke_sessions(eng.db, "ann", later)
    elif how == "new password":
        auth.set_password(eng.db, "ann", "another good password", now=later)
    elif how == "disable":
        auth.set_disabled(eng.db, "ann", True, now=later)
    elif how == "role change":
        auth.set_role(eng.db, "ann", "analyst", now=later)
    guard._guarded(body)("the fragment's content", _guard_who=who)


@pytest.fixture
def _engine(fast_bcrypt: None) -> Iterator[None]:
    st.cache_resource.clear()
    eng = ui.engine()
    auth.create_user(eng.db, "ann", "Ann", None, "member", TEST_PASSWORD, now=utcnow())
    yield
    st.cache_resource.clear()


def _signed_in_app() -> AppTest:
    return sign_in(AppTest.from_function(_script, default_timeout=30), "ann")


@pytest.mark.usefixtures("_engine")
def test_a_guarded_fragment_runs_for_the_signed_in_user() -> None:
    at = _signed_in_app().run()
    assert not at.exception
    assert at.session_state["body_runs"] == 1
    assert [m.value for m in at.markdown] == ["the fragment's content"]


@pytest.mark.usefixtures("_engine")
@pytest.mark.parametrize("how", ["sign out everywhere", "new password", "disable",
                                 "role change"])
def test_a_fragment_rerun_of_a_revoked_session_draws_nothing_and_shows_the_sign_in_form(
        how: str) -> None:
    at = _signed_in_app().run()
    at.session_state["revoke"] = how
    at.run()
    assert not at.exception
    assert at.session_state["body_runs"] == 1  # not again, for the revoked session
    assert [t.value for t in at.title] == ["Sign in"]
    assert not at.markdown
    assert "_auth_session" not in at.session_state
