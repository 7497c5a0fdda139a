"""The model catalog on the pages under AppTest: a shutdown date an admin sets warns on
Generate and Compare and, once past, the model is gone from the form and a reused job moves
to the replacement; Admin → Models lists each provider's models and enables a model a check
found. Page tests run on a clock pinned to 2026-11-02 (tests.helpers.PinnedClock)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lib import ui
from lib.catalog import checks, store
from lib.compare import grid as cmp
from lib.compare import store as compare_store
from lib.core.text import plain
from lib.gallery import queries as gallery
from lib.providers import discovery
from tests.helpers import app_as

pytestmark = pytest.mark.usefixtures("page_engine")  # tests/conftest.py

PRO, FLASH, NEW = "gemini-3-pro-image", "gemini-3.1-flash-image", "gemini-nano-banana-2.1"
TODAY = date(2026, 11, 2)


@pytest.fixture(autouse=True)
def _gemini_set_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-test-key-never-called")
    monkeypatch.setenv("GEMINI_BASE_URL", "http://127.0.0.1:9")  # no page here calls it


def _shut_flash(on: date) -> None:
    eng = ui.engine()
    store.update(eng.db, "root", "gemini", FLASH, enabled=True, is_default=False,
                 shutdown=on, replacement=PRO, now=eng.clock.now())


def _warnings(at: object) -> list[str]:
    return [w.value for w in at.warning]  # type: ignore[attr-defined]


def test_generate_warns_about_a_model_an_admin_dated_and_drops_it_after() -> None:
    at = app_as("ann", "member", page="screens/generate.py")
    _shut_flash(TODAY + timedelta(days=12))
    at.selectbox(key="gen_provider").set_value("gemini").run()
    at.selectbox(key="gen_model_gemini").set_value(FLASH).run()
    assert not at.exception
    said = "Google shuts down gemini-3.1-flash-image on 2026-11-14; use gemini-3-pro-image"
    assert any(said in w for w in _warnings(at))
    _shut_flash(TODAY)  # moved to today: refused from now on
    at.run()
    assert FLASH not in at.selectbox(key="gen_model_gemini").options
    assert PRO in at.selectbox(key="gen_model_gemini").options


def test_compare_labels_and_warns_by_the_database_catalog() -> None:
    _shut_flash(TODAY + timedelta(days=12))
    at = app_as("ann", "member", page="screens/compare.py")
    labels = at.multiselect(key="cmp_models").options
    assert f"Google Gemini: {FLASH} (shuts down 2026-11-14)" in labels
    at.multiselect(key="cmp_models").set_value([f"gemini/{FLASH}"]).run()
    assert not at.exception
    assert any("Google shuts down gemini-3.1-flash-image on 2026-11-14" in w
               for w in _warnings(at))


def test_admin_models_lists_each_provider_and_enables_a_found_id() -> None:
    eng = ui.engine()
    checks.record(eng, "gemini", discovery.Discovery("gemini", (PRO, FLASH, NEW), new=(NEW,)))
    at = app_as("root", "admin", page="screens/admin.py")
    at.session_state["admin_tab"] = "Models"
    at.run()
    assert not at.exception
    labels = [e.label for e in at.expander]
    assert "Google Gemini: 2 models offered today" in labels
    assert "OpenAI Images: 3 models offered today" in labels  # 1.5, 1-mini: to 2026-12-01
    at.button(key=f"models_enable_gemini_{NEW}").click().run()
    assert not at.exception
    assert NEW in eng.models().live("gemini", TODAY)
    assert any("is offered now, with basic settings" in s.value for s in at.success)
    assert not [b for b in at.button if b.key == f"models_enable_gemini_{NEW}"]


def test_admin_models_says_which_providers_have_no_list() -> None:
    at = app_as("root", "admin", page="screens/admin.py")
    at.session_state["admin_tab"] = "Models"
    at.run()
    assert not at.exception
    assert any("Stability AI's API has no model list" in c.value for c in at.caption)


def test_a_saved_comparison_on_a_dated_model_is_flagged_and_run_again_on_the_replacement(
) -> None:
    eng = ui.engine()
    grid = cmp.Grid(rows=("a lighthouse",), columns=(
        cmp.Column(provider="gemini", model=FLASH), cmp.Column(provider="sandbox")))
    at = app_as("ann", "member", page="screens/compare.py")
    cid = compare_store.start(eng, gallery.Viewer("ann", "member"), grid, "Lighthouses")
    _shut_flash(TODAY + timedelta(days=12))
    at.query_params["id"] = cid
    at.run()
    assert not at.exception
    said = plain("Column 1 (gemini/gemini-3.1-flash-image): Google shuts down "
                 f"{FLASH} on 2026-11-14; use {PRO} instead.")
    assert said in _warnings(at)
    at.button(key=f"cmp_move_{cid}").click().run()
    assert not at.exception
    new_id = at.query_params["id"]
    new_id = new_id[0] if isinstance(new_id, list) else new_id
    assert new_id != cid
    moved = compare_store.get(eng, gallery.Viewer("ann", "member"), new_id)
    assert moved is not None and moved.grid.columns[0].model == PRO


def test_an_admin_widens_an_enabled_id_and_generate_offers_what_it_takes() -> None:
    eng = ui.engine()
    store.enable(eng.db, "root", "gemini", NEW, eng.clock.now())
    at = app_as("ann", "member", page="screens/generate.py")
    at.selectbox(key="gen_provider").set_value("gemini").run()
    at.selectbox(key="gen_model_gemini").set_value(NEW).run()
    assert at.selectbox(key=f"gen_quality_gemini_{NEW}").options == ["1K"]  # basic settings
    assert at.number_input(key="gen_n").max == 1

    admin = app_as("root", "admin", page="screens/admin.py")
    admin.session_state["admin_tab"] = "Models"
    admin.run()
    admin.selectbox(key="caps_model_gemini").set_value(NEW).run()
    key = f"caps_gemini_{NEW}"
    save = f"FormSubmitter:{key}_form-Save what it takes"  # a form sends its values on submit
    admin.multiselect(key=f"{key}_ratios").set_value([])  # nothing left to choose
    admin.button(key=save).click().run()
    assert "Keep at least one size or aspect ratio" in " ".join(e.value for e in admin.error)
    assert eng.models().caps("gemini", NEW).qualities == ("1K",)  # nothing saved

    admin.multiselect(key=f"{key}_ratios").set_value(["1:1", "16:9"])
    admin.multiselect(key=f"{key}_qualities").set_value(["1K", "2K"])
    admin.number_input(key=f"{key}_n").set_value(2)
    admin.button(key=save).click().run()
    assert not admin.exception and not admin.error
    took = eng.models().caps("gemini", NEW)
    assert (took.qualities, took.aspect_ratios, took.max_n) == (("1K", "2K"), ("1:1", "16:9"), 2)

    at.run()
    assert at.selectbox(key=f"gen_quality_gemini_{NEW}").options == ["1K", "2K"]
    assert at.number_input(key="gen_n").max == 2

    admin.run()
    admin.selectbox(key="caps_model_gemini").set_value(NEW).run()
    admin.button(key=f"{key}_reset").click().run()
    assert eng.models().caps("gemini", NEW).max_n == 1  # back to the basic settings


def test_admin_models_says_replicate_and_fal_are_looked_up_and_shows_deprecated_ids() -> None:
    eng = ui.engine()
    checks.record(eng, "fal", discovery.Discovery(
        "fal", ("fal-ai/flux/schnell", "fal-ai/flux/dev"), gone=("fal-ai/flux/dev",),
        deprecated=("fal-ai/flux/schnell",), looked_up=("fal-ai/flux/schnell",
                                                        "fal-ai/flux/dev")))
    at = app_as("root", "admin", page="screens/admin.py")
    at.session_state["admin_tab"] = "Models"
    at.run()
    assert not at.exception
    captions = [c.value for c in at.caption]
    assert any("Replicate is asked about each model offered or known here" in c
               for c in captions)
    assert any("fal.ai's model search is asked about each model" in c for c in captions)
    assert not any("Replicate's API has no model list" in c for c in captions)
    assert [b for b in at.button if b.key == "models_check_replicate"]
    said = plain("Deprecated by the provider: fal-ai/flux/schnell: it may shut down soon")
    assert any(said in w for w in _warnings(at))
    gone = plain("No longer listed, but offered here: fal-ai/flux/dev")
    assert any(gone in w for w in _warnings(at))
