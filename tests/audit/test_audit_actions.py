"""Issue #17, item 7: the audit log has a row for every action it knows (one parametrized test).

Each case does the real thing through the real code path: the sign-in form, its failure and
the sign-out button under AppTest (so ``via`` is the browser session's id), and for the rest
the library verb the Admin, Account and Gallery pages call, with the acting session set as
the page's door sets it (``lib/ui/signin.py`` → ``audit.set_actor``). The API's door is
tests/api/test_audit_api.py; the pages' door for an admin's change is
tests/screens/test_audit_page.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from lib import audit, ui
from lib.audit import Action, Actor
from lib.auth import accounts as auth
from lib.auth import tokens
from lib.auth.access import Viewer
from lib.boards import store as boards
from lib.catalog import store as catalog
from lib.compare import grid as cmp
from lib.compare import store as compare
from lib.engine import Engine
from lib.gallery import queries as gallery
from lib.jobs import repricing
from lib.money import budgets
from lib.styles import library as styles
from lib.ui import signin
from lib.webhooks import endpoints as webhooks
from tests.builders import add_image
from tests.helpers import TEST_PASSWORD as PASSWORD

ROOT = Actor("root", "session:s-root")  # an admin's page session
ANN = Actor("ann", "session:s-ann")  # a member's
Expect = tuple[str, str, str]  # actor, target, via


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch, fast_bcrypt: None) -> Iterator[None]:
    monkeypatch.setenv("PROMPTBOARD_WEBHOOK_ALLOW_PRIVATE", "1")
    monkeypatch.delenv("PROMPTBOARD_COOKIE_KEY", raising=False)
    st.cache_resource.clear()
    yield
    audit.set_actor(None)
    st.cache_resource.clear()


@pytest.fixture
def eng() -> Engine:
    engine = ui.engine()
    now = engine.clock.now()
    auth.create_user(engine.db, "root", "Root", None, "admin", PASSWORD, now=now)
    auth.create_user(engine.db, "ann", "Ann", None, "member", PASSWORD, now=now)
    return engine


def _login_app() -> None:
    import streamlit as st

    from lib import ui
    from lib.ui import signin as auth_ui

    eng = ui.engine()
    auth_ui.current_user(eng, frame=True)
    user = auth_ui.sign_in(eng)
    with st.sidebar:
        auth_ui.account_menu(eng, user)


def _sign_in(username: str, password: str) -> AppTest:
    at = AppTest.from_function(_login_app, default_timeout=30).run()
    at.text_input(key="auth_login_username").input(username)
    at.text_input(key="auth_login_password").input(password)
    next(b for b in at.button if b.label == "Sign in").click()
    return at.run()


def _sid(at: AppTest) -> str:
    return "session:" + at.session_state[signin.SESSION_KEY]["sid"]


def sign_in(eng: Engine) -> Expect:
    at = _sign_in("ann", PASSWORD)
    return "ann", "ann", _sid(at)


def sign_in_failed(eng: Engine) -> Expect:
    at = _sign_in("ann", PASSWORD + "x")
    assert signin.SESSION_KEY not in at.session_state
    return "anonymous", "ann", "sign-in page"


def sign_out(eng: Engine) -> Expect:
    at = _sign_in("ann", PASSWORD)
    via = _sid(at)
    at.sidebar.button(key="auth_sign_out").click().run()
    return "ann", "ann", via


def _as(actor: Actor, act: Callable[[], object]) -> None:
    with audit.acting(actor):
        act()


def user_create(eng: Engine) -> Expect:
    _as(ROOT, lambda: auth.create_user(eng.db, "bob", "Bob", None, "member", PASSWORD,
                                       now=eng.clock.now()))
    return "root", "bob", ROOT.via


def user_role(eng: Engine) -> Expect:
    _as(ROOT, lambda: auth.set_role(eng.db, "ann", "analyst", now=eng.clock.now()))
    return "root", "ann", ROOT.via


def user_password(eng: Engine) -> Expect:
    _as(ROOT, lambda: auth.set_password(eng.db, "ann", PASSWORD + "!", now=eng.clock.now()))
    return "root", "ann", ROOT.via


def user_disable(eng: Engine) -> Expect:
    _as(ROOT, lambda: auth.set_disabled(eng.db, "ann", True, now=eng.clock.now()))
    return "root", "ann", ROOT.via


def user_enable(eng: Engine) -> Expect:
    auth.set_disabled(eng.db, "ann", True, now=eng.clock.now())
    _as(ROOT, lambda: auth.set_disabled(eng.db, "ann", False, now=eng.clock.now()))
    return "root", "ann", ROOT.via


def token_create(eng: Engine) -> Expect:
    with audit.acting(ANN):
        token, _ = tokens.create(eng.db, "ann", "ci", now=eng.clock.now())
    return "ann", token.id, ANN.via


def token_revoke(eng: Engine) -> Expect:
    token, _ = tokens.create(eng.db, "ann", "ci", now=eng.clock.now())
    root = auth.get_user(eng.db, "root")
    assert root is not None
    _as(ROOT, lambda: tokens.revoke(eng.db, root, token.id, now=eng.clock.now()))
    return "root", token.id, ROOT.via


def image_share(eng: Engine) -> Expect:
    add_image(eng, "img-1", "ann")
    _as(ANN, lambda: gallery.set_shared(eng.db, Viewer("ann", "member"), ["img-1"], True))
    return "ann", "img-1", ANN.via


def comparison_share(eng: Engine) -> Expect:
    axes = [cmp.Axis("quality", ("draft",)), cmp.Axis("size", ("512x512",))]
    grid = cmp.Grid(rows=cmp.rows_from_text("a fox"), columns=cmp.columns_from_axes(axes),
                    seed=5)
    ann = Viewer("ann", "member")
    cid = compare.start(eng, ann, grid, "private")
    _as(ANN, lambda: compare.set_shared(eng, ann, cid, True))
    return "ann", cid, ANN.via


def image_delete(eng: Engine) -> Expect:
    add_image(eng, "img-1", "ann")
    _as(ROOT, lambda: gallery.delete_images(eng.db, eng.storage, Viewer("root", "admin"),
                                            ["img-1"]))
    return "root", "img-1", ROOT.via


def style_delete(eng: Engine) -> Expect:
    ann, root = auth.get_user(eng.db, "ann"), auth.get_user(eng.db, "root")
    assert ann is not None and root is not None
    style = styles.propose(eng.db, ann, "Neon noir", "{prompt}, neon noir", "", None,
                           eng.clock.now())
    _as(ROOT, lambda: styles.delete(eng, root, style.id))
    return "root", style.id, ROOT.via


def price_add(eng: Engine) -> Expect:
    _as(ROOT, lambda: repricing.add_price(
        eng.db, "root", "sandbox", "sandbox-v1", "*", "image", Decimal("0.05"),
        eng.clock.now().date(), "a test", eng.clock.now()))
    return "root", "sandbox/sandbox-v1", ROOT.via


def price_recompute(eng: Engine) -> Expect:
    day = eng.clock.now().date()
    _as(ROOT, lambda: repricing.recompute(eng.db, "root", day - timedelta(days=1), day,
                                          eng.clock.now()))
    return "root", f"{day - timedelta(days=1)}..{day}", ROOT.via


def budget_set(eng: Engine) -> Expect:
    _as(ROOT, lambda: budgets.set_budget(eng.db, "user", "ann", Decimal("20"), "root",
                                         eng.clock.now()))
    return "root", "user:ann", ROOT.via


def budget_remove(eng: Engine) -> Expect:
    budgets.set_budget(eng.db, "team", "team", Decimal("50"), "root", eng.clock.now())
    _as(ROOT, lambda: budgets.remove_budget(eng.db, "team", "team"))
    return "root", "team:team", ROOT.via


def _root(eng: Engine) -> auth.User:
    root = auth.get_user(eng.db, "root")
    assert root is not None
    return root


def webhook_create(eng: Engine) -> Expect:
    with audit.acting(ROOT):
        ep, _ = webhooks.create(eng.db, _root(eng), "http://127.0.0.1:9/hook", "standard",
                                ["job.succeeded"], now=eng.clock.now())
    return "root", ep.id, ROOT.via


def webhook_edit(eng: Engine) -> Expect:
    ep, _ = webhooks.create(eng.db, _root(eng), "http://127.0.0.1:9/hook", "standard",
                            ["job.succeeded"], now=eng.clock.now())
    _as(ROOT, lambda: webhooks.set_disabled(eng.db, _root(eng), ep.id, True,
                                            now=eng.clock.now()))
    return "root", ep.id, ROOT.via


def webhook_delete(eng: Engine) -> Expect:
    ep, _ = webhooks.create(eng.db, _root(eng), "http://127.0.0.1:9/hook", "standard",
                            ["job.succeeded"], now=eng.clock.now())
    _as(ROOT, lambda: webhooks.delete(eng.db, _root(eng), ep.id))
    return "root", ep.id, ROOT.via


def model_update(eng: Engine) -> Expect:
    row = next(r for r in catalog.rows(eng.db)
               if r.provider == "sandbox" and r.model == "sandbox-v1")
    _as(ROOT, lambda: catalog.update(eng.db, "root", "sandbox", "sandbox-v1", enabled=True,
                                     is_default=row.is_default, shutdown=None, replacement="",
                                     now=eng.clock.now()))
    return "root", "sandbox/sandbox-v1", ROOT.via


def model_enable(eng: Engine) -> Expect:
    _as(ROOT, lambda: catalog.enable(eng.db, "root", "sandbox", "sandbox-v9", eng.clock.now()))
    return "root", "sandbox/sandbox-v9", ROOT.via


def model_caps(eng: Engine) -> Expect:
    from lib.catalog import caps
    from lib.providers.types import ModelCaps
    _as(ROOT, lambda: caps.set_caps(eng.db, "root", "sandbox", "sandbox-v1", ModelCaps(
        sizes=("1024x1024",), qualities=("standard",), max_n=2), eng.clock.now()))
    return "root", "sandbox/sandbox-v1", ROOT.via


def access_list(eng: Engine) -> Expect:
    from lib.grants import rules
    _as(ROOT, lambda: rules.set_list(eng.db, "root", "role", "member",
                                     [("sandbox", rules.ANY)], eng.clock.now()))
    return "root", "role:member", ROOT.via


def daily_cap(eng: Engine) -> Expect:
    from lib.grants import caps as daily
    _as(ROOT, lambda: daily.set_cap(eng.db, "root", "ann", 20, eng.clock.now()))
    return "root", "ann", ROOT.via


ANN_VIEWER = Viewer("ann", "member")


def _board_case(change: Callable[[Engine, str], object] | None) -> Callable[[Engine], Expect]:
    """A board of ann's, created (``change`` None) or then changed, as her page session."""
    def case(eng: Engine) -> Expect:
        with audit.acting(ANN if change is None else None):
            board_id = boards.create(eng.db, ANN_VIEWER, "Launch", now=eng.clock.now()).id
        if change is not None:
            _as(ANN, lambda: change(eng, board_id))
        return "ann", board_id, ANN.via
    return case


def _update(**kw: Any) -> Callable[[Engine, str], object]:
    return lambda eng, board_id: boards.update(eng.db, ANN_VIEWER, board_id,
                                               now=eng.clock.now(), **kw)


CASES: dict[Action, Callable[[Engine], Expect]] = {
    Action.SIGN_IN: sign_in, Action.SIGN_IN_FAILED: sign_in_failed, Action.SIGN_OUT: sign_out,
    Action.USER_CREATE: user_create, Action.USER_ROLE: user_role,
    Action.USER_PASSWORD: user_password, Action.USER_DISABLE: user_disable,
    Action.USER_ENABLE: user_enable, Action.TOKEN_CREATE: token_create,
    Action.TOKEN_REVOKE: token_revoke, Action.IMAGE_SHARE: image_share,
    Action.COMPARISON_SHARE: comparison_share,
    Action.IMAGE_DELETE: image_delete, Action.STYLE_DELETE: style_delete,
    Action.PRICE_ADD: price_add, Action.PRICE_RECOMPUTE: price_recompute,
    Action.BUDGET_SET: budget_set, Action.BUDGET_REMOVE: budget_remove,
    Action.WEBHOOK_CREATE: webhook_create, Action.WEBHOOK_EDIT: webhook_edit,
    Action.WEBHOOK_DELETE: webhook_delete, Action.MODEL_UPDATE: model_update,
    Action.MODEL_ENABLE: model_enable, Action.MODEL_CAPS: model_caps,
    Action.ACCESS_LIST: access_list, Action.DAILY_CAP: daily_cap,
    Action.BOARD_CREATE: _board_case(None), Action.BOARD_EDIT: _board_case(_update(name="New")),
    Action.BOARD_VISIBILITY: _board_case(_update(visibility="team")),
    Action.BOARD_ARCHIVE: _board_case(_update(archived=True)),
    Action.BOARD_DELETE: _board_case(lambda eng, board_id: boards.delete(eng.db, ANN_VIEWER,
                                                                         board_id)),
}


def test_every_action_has_a_case() -> None:
    assert set(CASES) == set(Action)


@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
def test_the_action_appends_exactly_its_row(eng: Engine, action: Action) -> None:
    before = {r.id for r in audit.search(eng.db, audit.Filter(), limit=1000)}
    actor, target, via = CASES[action](eng)
    rows = [r for r in audit.search(eng.db, audit.Filter(action=action.value))
            if r.id not in before]
    assert [(r.actor, r.action, r.target, r.via) for r in rows] == [
        (actor, action.value, target, via)]
    assert rows[0].at is not None
    if action in (Action.USER_PASSWORD, Action.USER_CREATE, Action.SIGN_IN,
                  Action.SIGN_IN_FAILED):
        assert PASSWORD not in repr(audit.search(eng.db, audit.Filter()))
