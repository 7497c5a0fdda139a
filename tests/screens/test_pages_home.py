"""Home under AppTest: an empty Home says what to do first; an analyst gets no 'my images'."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from lib import jobs, ui
from tests.helpers import app_as, ensure_user

pytestmark = pytest.mark.usefixtures("page_engine")  # tests/conftest.py


def _links(at: AppTest) -> set[str]:
    """The first steps offered (buttons that open a page)."""
    return {b.label for b in at.button if (b.key or "").startswith("home_")}


def _subheaders(at: AppTest) -> list[str]:
    return [h.value for h in at.subheader]


def test_an_empty_home_asks_a_member_to_generate_their_first_image() -> None:
    at = app_as("ann", "member")
    assert not at.exception
    assert _links(at) == {"Generate your first image"}
    at.button(key="home_first_image").click().run()
    assert not at.exception and at.title[0].value == "Generate"


def test_an_admin_alone_is_asked_to_add_the_team_too() -> None:
    at = app_as("admin", "admin")  # the only account
    assert not at.exception
    assert _links(at) == {"Generate your first image", "Add your team"}
    at.button(key="home_add_team").click().run()
    assert not at.exception and at.title[0].value == "Admin"
    at.switch_page("screens/home.py").run()
    ensure_user("bob", "member")
    at.run()
    assert "Add your team" not in _links(at)


def test_the_first_steps_go_once_there_is_a_job() -> None:
    at = app_as("ann", "member")
    jobs.submit(ui.engine(), "ann", jobs.JobSpec(prompt="a kite", width=64, height=64))
    at.run()
    assert not at.exception
    assert "Generate your first image" not in _links(at)


def test_an_analysts_home_has_no_my_latest_images() -> None:
    at = app_as("ana", "analyst")
    assert not at.exception
    assert "My latest images" not in _subheaders(at)
    assert "Shared by the team" in _subheaders(at)
    assert "Generate your first image" not in _links(at)  # analysts do not generate
