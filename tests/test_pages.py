"""Pages under Streamlit's AppTest: they render without exceptions and do their job."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")


@pytest.fixture(autouse=True)
def _fresh_engine() -> Iterator[None]:
    """Each test gets an engine on its own data dir; the old one is closed."""
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    return at.run()


def test_generate_page_renders_the_form_for_the_sandbox() -> None:
    at = _app()
    assert not at.exception
    assert at.title[0].value == "Generate"
    assert at.selectbox[0].value == "sandbox"
    labels = [w.label for w in at.text_area]
    assert "Prompt" in labels
    assert any("sandbox" in i.value.lower() for i in at.info)


def test_generating_from_the_page_queues_a_job_and_shows_its_images() -> None:
    at = _app()
    at.text_area[0].input("a lighthouse at dusk")
    at.button[0].click().run()  # the form's submit button; values commit with it
    assert not at.exception
    from lib import ui

    eng = ui.engine()
    rows = eng.db.fetchall("SELECT id, status FROM jobs")
    assert len(rows) == 1
    deadline = time.monotonic() + 20
    while eng.db.scalar("SELECT status FROM jobs") in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    at.run()
    assert not at.exception
    assert any("Succeeded" in m.value for m in at.markdown)
    assert len(at.get("image")) == 1


def test_an_empty_prompt_is_refused_on_the_page() -> None:
    at = _app()
    at.button[0].click().run()
    assert not at.exception
    assert any("prompt is empty" in e.value for e in at.error)
    from lib import ui

    assert ui.engine().db.scalar("SELECT count(*) FROM jobs") == 0


def test_a_double_submit_of_the_same_form_queues_one_job() -> None:
    at = _app()
    token = at.session_state["form_token"]
    at.text_area[0].input("twice")
    at.button[0].click().run()
    at.session_state["form_token"] = token  # the second click carries the old form's token
    at.text_area[0].input("twice")
    at.button[0].click().run()
    from lib import ui

    assert ui.engine().db.scalar("SELECT count(*) FROM jobs") == 1
