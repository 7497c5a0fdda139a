"""The Styles page under AppTest: members browse, preview on demand, propose and use styles."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from lib import ui
from lib.auth import accounts as auth
from lib.jobs import style_previews
from lib.styles import library as styles
from tests.helpers import ROOT, app_as, ensure_user, sign_in, wait_until

pytestmark = pytest.mark.usefixtures("page_engine")  # tests/conftest.py


def _page(user: str = "ann", role: str = "member") -> AppTest:
    at = app_as(user, role, page="screens/styles.py")
    assert not at.exception
    return at


def _propose(at: AppTest, name: str, template: str) -> AppTest:
    """Fill the propose form's name and template and submit it."""
    next(w for w in at.text_input if w.label == "Name").input(name)
    next(w for w in at.text_area if w.label == "Template").input(template)
    next(b for b in at.get("button") if getattr(b, "label", "") == "Propose").click()
    return at.run()


def _labels(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def test_a_member_sees_the_active_library_without_others_proposals() -> None:
    at = _page()
    eng = ui.engine()
    bob = auth.create_user(eng.db, "bob", "Bob", None, "member", "correct horse battery",
                           now=eng.clock.now())
    styles.propose(eng.db, bob, "Bobs secret", "{prompt}, secret", "", None, eng.clock.now())
    at.run()
    assert at.title[0].value == "Styles"
    text = _labels(at)
    assert "**Cartoon**" in text and "**Photographic**" in text
    assert "Bobs secret" not in text and "**None**" not in text


def test_a_member_proposes_a_style_and_sees_it_waiting() -> None:
    at = _propose(_page(), "Ink wash", "{prompt}, ink wash painting")
    assert not at.exception
    assert any("Proposed “Ink wash”" in s.value for s in at.success)
    assert "Proposals waiting for an admin" in " ".join(h.value for h in at.subheader)
    made = styles.find(ui.engine().db, "ink-wash")
    assert made is not None and made.status == styles.PROPOSED and made.created_by == "ann"


def test_a_template_without_the_placeholder_is_refused_on_the_page() -> None:
    at = _propose(_page(), "Broken", "no placeholder here")
    assert any("must contain {prompt}" in e.value for e in at.error)
    assert styles.find(ui.engine().db, "broken") is None


def test_draw_preview_queues_a_job_and_the_thumbnail_appears_when_it_is_done() -> None:
    at = _page()
    assert not at.get("image")  # nothing drawn yet
    at.button(key="lib_pv_cartoon").click().run()
    assert not at.exception
    eng = ui.engine()
    job = style_previews.pending(eng)["cartoon"]
    assert eng.db.scalar("SELECT user_id FROM jobs WHERE id = ?", [job.job_id]) == "ann"
    wait_until(lambda: eng.db.scalar("SELECT status FROM jobs WHERE id = ?", [job.job_id])
               not in ("queued", "running"),
               what="the preview job to finish (the app's own workers draw it)")
    at.run()
    assert not at.exception
    assert len(at.get("image")) == 1
    assert styles.get("cartoon", eng.db).preview_key == styles.get(
        "cartoon", eng.db).preview_key_for()


def test_use_opens_generate_with_the_style_selected() -> None:
    at = _page()
    at.button(key="lib_use_cartoon").click().run()
    assert not at.exception
    assert at.title[0].value == "Generate"
    assert at.selectbox(key="gen_style").value == "cartoon"


def test_an_analyst_gets_no_styles_page_and_is_refused_at_its_address() -> None:
    assert "styles" not in auth.allowed_pages("analyst")
    ensure_user("ana", "analyst")
    at = AppTest.from_file(str(ROOT / "screens" / "styles.py"), default_timeout=30)
    sign_in(at, "ana")
    at.run()
    assert any("not available to your role" in e.value for e in at.error)
    assert not at.get("button")
