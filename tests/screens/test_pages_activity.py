"""History and Queue pages under AppTest, for each role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st

from lib import jobs, ui
from tests.helpers import ROOT, app_as, ensure_user, sign_in


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PROMPTBOARD_SANDBOX_LATENCY", "30")  # keep jobs queued/running
    monkeypatch.setenv("PROMPTBOARD_WORKERS", "1")
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def _submit(user: str, prompt: str) -> str:
    ensure_user(user, "member")
    return jobs.submit(ui.engine(), user, jobs.JobSpec(prompt=prompt, width=64, height=64))


def _texts(at: object) -> str:
    return " ".join(m.value for m in at.markdown) + " ".join(  # type: ignore[attr-defined]
        c.value for c in at.caption)  # type: ignore[attr-defined]


def test_history_shows_only_my_jobs_with_errors_and_reuse() -> None:
    at = app_as("ann", "member")
    _submit("ann", "ann's secret lighthouse")
    _submit("bob", "bob's private boat")
    at.switch_page("screens/history.py").run()
    assert not at.exception
    text = _texts(at)
    assert "ann's secret lighthouse" in text and "bob's private boat" not in text
    at.button(key=[b.key for b in at.button if (b.key or "").startswith("reuse-")][0]).click()
    at.run()
    assert not at.exception
    assert at.text_area(key="gen_prompt").value == "ann's secret lighthouse"


def test_queue_hides_other_peoples_prompts_from_members() -> None:
    at = app_as("ann", "member")
    mine = _submit("ann", "my own prompt")
    _submit("bob", "bob's private boat")
    at.switch_page("screens/queue.py").run()
    assert not at.exception
    text = _texts(at)
    assert "my own prompt" in text and "bob's private boat" not in text
    assert "(another person's prompt)" in text
    cancel_keys = [b.key for b in at.button if (b.key or "").startswith("qcancel-")]
    assert cancel_keys == [f"qcancel-{mine}"]  # only my own job can be cancelled


def test_admin_sees_prompts_and_can_cancel_any_job() -> None:
    at = app_as("root", "admin")
    theirs = _submit("bob", "bob's private boat")
    at.switch_page("screens/queue.py").run()
    assert not at.exception and "bob's private boat" in _texts(at)
    at.button(key=f"qcancel-{theirs}").click().run()
    assert jobs.get(ui.engine(), theirs).status in ("cancelled", "running")  # type: ignore[union-attr]


def test_an_analyst_has_no_history_and_cannot_open_it() -> None:
    at = app_as("ana", "analyst")
    assert not at.exception
    # the page is not in the analyst's navigation...
    with pytest.raises(Exception):  # noqa: B017 - AppTest raises for unknown pages
        at.switch_page("screens/generate.py").run()
    # ...and run directly, the page itself refuses
    from streamlit.testing.v1 import AppTest

    direct = AppTest.from_file(str(ROOT / "screens" / "history.py"), default_timeout=30)
    sign_in(direct, "ana")
    direct.run()
    assert not direct.exception
    assert any("not available to your role" in e.value for e in direct.error)
    assert not direct.text_input
