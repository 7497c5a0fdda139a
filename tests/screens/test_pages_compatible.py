"""OpenAI-compatible endpoints on the pages: offered on Generate once configured with their key,
a configure hint naming the key's variable without it, and a bad entry shown to admins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lib import ui
from lib.providers import registry
from tests.fakes import compatible as fc
from tests.helpers import app_as, wait_until

pytestmark = pytest.mark.usefixtures("page_engine")  # tests/conftest.py


@pytest.fixture(scope="module")
def fake() -> Iterator[fc.FakeCompatible]:
    made = fc.FakeCompatible("openai")
    yield made
    made.close()


def test_a_configured_endpoint_is_offered_on_generate_with_its_models(
    fake: fc.FakeCompatible,
) -> None:
    with fake.configured("edge", label="Edge gateway") as pid:
        at = app_as("ann", "member", page="screens/generate.py")
        assert "Edge gateway" in at.selectbox(key="gen_provider").options  # shown by label
        at.selectbox(key="gen_provider").select(pid).run()
        assert not at.exception
        assert at.selectbox(key=f"gen_model_{pid}").options == list(fc.MODELS)
        size = at.selectbox(key=f"gen_size_{pid}_{fc.MODELS[0]}")
        assert size.value == "1024x1024" and "1536x1024" in size.options
        at.text_area(key="gen_prompt").input("a lighthouse at dusk").run()
        at.button(key="gen_submit").click().run()
        assert not at.exception
        eng = ui.engine()
        assert eng.db.scalar("SELECT provider FROM jobs") == pid
        wait_until(lambda: eng.db.scalar("SELECT status FROM jobs") == "succeeded",
                   what="the endpoint's job to succeed")
        assert len(fake.calls()) == 1


def test_without_its_key_the_endpoint_says_which_variable_to_set(
    fake: fc.FakeCompatible,
) -> None:
    with fake.configured("edge", key=False, label="Edge gateway"):
        at = app_as("root", "admin", page="screens/generate.py")
        assert at.selectbox(key="gen_provider").options == ["Sandbox (offline, free)"]
        hints = " ".join(m.value for m in at.markdown)
        assert "**Edge gateway**" in hints and fc.KEY_ENV in hints
        assert "endpoint 'edge'" in hints
        member = app_as("ann", "member", page="screens/generate.py")
        said = " ".join(m.value for m in member.markdown)
        assert "Ask an admin to set up Edge gateway" in said and fc.KEY_ENV not in said


def test_admin_providers_shows_a_skipped_entry_and_the_loaded_ones(
    fake: fc.FakeCompatible, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTBOARD_ENDPOINTS", '[endpoints.bad]\nbase_url = "ftp://x"\n')
    with fake.configured("edge", label="Edge gateway"):
        assert len(registry.endpoint_problems()) == 1
        at = app_as("root", "admin", page="screens/admin.py")
        at.session_state["admin_tab"] = "Providers"
        at.run()
        assert not at.exception
        errors = " ".join(e.value for e in at.error).replace("\\", "")
        assert "PROMPTBOARD_ENDPOINTS, endpoint 'bad'" in errors
        assert "**Edge gateway**" in " ".join(m.value for m in at.markdown)
