"""Pages under Streamlit's AppTest: they render without exceptions and do their job."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import app_as, wait_until

pytestmark = pytest.mark.usefixtures("page_engine")  # tests/conftest.py


def _app() -> AppTest:
    return app_as("ann", "member", page="screens/generate.py")


def test_generate_page_renders_the_form_for_the_sandbox() -> None:
    at = _app()
    assert not at.exception
    assert at.title[0].value == "Generate"
    assert at.selectbox[0].value == "sandbox"
    labels = [w.label for w in at.text_area]
    assert "Prompt" in labels
    assert any("sandbox" in i.value.lower() for i in at.info)


def _generate(at: AppTest, prompt: str) -> AppTest:
    at.text_area(key="gen_prompt").input(prompt).run()
    return at.button(key="gen_submit").click().run()


def test_generating_from_the_page_queues_a_job_and_shows_its_images() -> None:
    at = _generate(_app(), "a lighthouse at dusk")
    assert not at.exception
    from lib import ui

    eng = ui.engine()
    assert eng.db.scalar("SELECT count(*) FROM jobs") == 1
    wait_until(lambda: eng.db.scalar("SELECT status FROM jobs") not in ("queued", "running"),
               timeout=20, what="the job to finish")
    at.run()
    assert not at.exception
    assert any("Succeeded" in m.value for m in at.markdown)
    assert len(at.get("image")) == 1
    assert any(b.label == "Download" for b in at.get("download_button"))


def test_an_empty_prompt_is_refused_on_the_page() -> None:
    at = _app().button(key="gen_submit").click().run()
    assert not at.exception
    assert any("prompt is empty" in e.value for e in at.error)
    from lib import ui

    assert ui.engine().db.scalar("SELECT count(*) FROM jobs") == 0


def test_a_double_click_queues_one_job() -> None:
    at = _generate(_app(), "twice")
    at.button(key="gen_submit").click().run()  # the second click of a double click
    from lib import ui

    assert ui.engine().db.scalar("SELECT count(*) FROM jobs") == 1


def test_the_form_follows_the_chosen_providers_capabilities(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    at = _app()
    at.selectbox(key="gen_provider").select("openai").run()
    assert not at.exception
    assert at.selectbox(key="gen_model_openai").value == "gpt-image-2"
    assert at.selectbox(key="gen_quality_openai_gpt-image-2").value == "medium"
    assert "1536x1024" in at.selectbox(key="gen_size_openai_gpt-image-2").options
    captions = " ".join(c.value for c in at.caption)
    assert "Estimate: **$0.053**" in captions  # gpt-image-2, medium, 1024x1024
    assert not [w for w in at.text_input if w.label == "Negative prompt"]


def test_reuse_settings_fill_the_form() -> None:
    at = app_as("ann", "member")
    at.session_state["reuse"] = {"provider": "sandbox", "model": "sandbox-v1",
                                 "prompt": "the same fox", "seed": 42, "n": 3}
    at.switch_page("screens/generate.py").run()
    assert not at.exception
    assert at.text_area(key="gen_prompt").value == "the same fox"
    assert at.number_input(key="gen_seed").value == 42
    assert at.number_input(key="gen_n").value == 3
