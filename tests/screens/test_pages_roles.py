"""Every page under every role: it renders without exception, or it refuses by itself.

Two paths per page: through app.py's navigation (pages a role may not use are not
in the list at all), and the page file run directly (its own role check refuses).
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from lib import jobs, ui
from lib.auth import accounts as auth
from tests.helpers import ROOT, app_as, ensure_user, run_next, sign_in

PAGE_FILES = {name: f"screens/{name}.py" for name in (
    "home", "generate", "history", "queue", "gallery", "analytics", "admin", "compare",
    "account")}
ROLES = ("admin", "member", "analyst")
CASES = [(role, page) for role in ROLES for page in PAGE_FILES]


pytestmark = pytest.mark.usefixtures("page_engine")  # tests/conftest.py


def _some_history() -> None:
    ensure_user("ann", "member")
    eng = ui.engine()
    jobs.submit(eng, "ann", jobs.JobSpec(prompt="a fox", width=64, height=64, n=2))
    jobs.submit(eng, "ann", jobs.JobSpec(prompt="[[fail:quota]] a fox", width=64, height=64))
    while run_next(eng) is not None:
        pass


@pytest.mark.parametrize(("role", "page"), CASES, ids=[f"{r}-{p}" for r, p in CASES])
def test_every_page_under_every_role(role: str, page: str) -> None:
    user = f"{role}1"
    at = app_as(user, role)
    _some_history()
    assert not at.exception
    allowed = auth.can(role, page)
    if allowed:
        at.switch_page(PAGE_FILES[page]).run()
        assert not at.exception, [e.value for e in at.exception]
        assert not any("not available to your role" in e.value for e in at.error)
    else:
        with pytest.raises(Exception):  # noqa: B017 - not in this role's navigation
            at.switch_page(PAGE_FILES[page]).run()
    direct = AppTest.from_file(str(ROOT / PAGE_FILES[page]), default_timeout=30)
    sign_in(direct, user)
    direct.run()
    assert not direct.exception, [e.value for e in direct.exception]
    refused = any("not available to your role" in e.value for e in direct.error)
    assert refused == (not allowed)


def test_nobody_signed_in_gets_no_page_content() -> None:
    ensure_user("admin", "admin")
    for path in PAGE_FILES.values():
        at = AppTest.from_file(str(ROOT / path), default_timeout=30).run()
        assert not at.exception
        assert any("sign in" in w.value.lower() for w in at.warning), path
        assert not at.button and not at.text_area


def test_the_analyst_navigation_has_no_generate_history_or_admin() -> None:
    at = app_as("ana", "analyst")
    assert not at.exception
    for page in ("screens/generate.py", "screens/history.py", "screens/admin.py"):
        with pytest.raises(Exception):  # noqa: B017 - unknown page for this role
            at.switch_page(page).run()
