"""The Compare page under AppTest: build a grid, see its estimate, run it, open it by link."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from lib import jobs, ui
from lib.auth import accounts as auth
from lib.compare import grid as compare
from lib.compare import store
from lib.gallery import queries as gallery
from tests.helpers import ROOT, app_as, ensure_user, run_next, sign_in, wait_until

PAGE = "screens/compare.py"


pytestmark = pytest.mark.usefixtures("page_engine")  # tests/conftest.py


def _texts(at: object) -> str:
    parts = [e.value for kind in ("markdown", "caption", "error", "info", "warning")
             for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value} {m.delta}" for m in at.metric]  # type: ignore[attr-defined]
    return " ".join(str(p) for p in parts)


def _saved(owner: str, prompt: str, *, shared: bool = False) -> str:
    ensure_user(owner, "member")
    eng = ui.engine()
    grid = compare.Grid(rows=(prompt,), columns=compare.columns_from_axes(
        [compare.Axis("size", ("512x512",))]), seed=3)
    cid = store.start(eng, gallery.Viewer(owner, "member"), grid, f"{owner}'s grid",
                      shared=shared)
    _finish(cid)
    return cid


def _finish(cid: str) -> None:
    """Run the batch's jobs here; the app's own workers may take some, so wait for those."""
    eng = ui.engine()

    def finished() -> bool:
        while run_next(eng) is not None:  # what is left to a worker thread, wait for
            pass
        return not eng.db.scalar("SELECT count(*) FROM jobs WHERE batch_id = ? AND status IN "
                                 "('queued', 'running')", [cid])

    wait_until(finished, what=f"the jobs of grid {cid} to finish")


def test_building_a_grid_shows_its_size_estimate_and_unconfigured_columns() -> None:
    at = app_as("ann", "member", page=PAGE)
    assert not at.exception
    assert at.title[0].value == "Compare"
    at.text_area(key="cmp_prompts").input("a fox\na boat").run()
    at.multiselect(key="cmp_models").set_value(
        ["sandbox/sandbox-v1", "gemini/gemini-3-pro-image"]).run()
    at.multiselect(key="cmp_qualities").set_value(["draft", "high"]).run()
    assert not at.exception
    text = _texts(at)
    assert "Images 4" in text  # 2 rows x 4 columns, of which the Gemini ones cannot run
    assert "2 rows × 4 columns" in text
    assert "Budget left no budget" in text
    assert any("GEMINI_API_KEY" in w.value.replace("\\", "") for w in at.warning)
    assert at.button(key="cmp_run").disabled is False


def test_search_and_replace_rows_and_a_model_change_that_keeps_chosen_sizes() -> None:
    at = app_as("ann", "member", page=PAGE)
    at.segmented_control(key="cmp_mode").set_value("Search and replace").run()
    at.text_input(key="cmp_template").input("a red fox").run()
    at.text_input(key="cmp_token").input("red").run()
    at.text_area(key="cmp_values").input("red\nblue\ngolden").run()
    at.multiselect(key="cmp_sizes").set_value(["512x512"]).run()
    at.multiselect(key="cmp_models").set_value(["stability/core"]).run()  # aspect ratios only
    assert not at.exception
    assert at.multiselect(key="cmp_sizes").value == ["512x512"]
    assert "3 rows × 1 column" in _texts(at)
    assert any("STABILITY_API_KEY" in w.value.replace("\\", "") for w in at.warning)


def test_a_large_grid_asks_for_confirmation_before_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTBOARD_COMPARE_CONFIRM_CELLS", "3")
    at = app_as("ann", "member", page=PAGE)
    at.text_area(key="cmp_prompts").input("a\nb").run()
    at.multiselect(key="cmp_qualities").set_value(["draft", "high"]).run()
    assert at.button(key="cmp_run").disabled
    at.checkbox(key="cmp_confirm").check().run()
    assert not at.button(key="cmp_run").disabled


def test_more_than_fifty_prompts_are_refused_on_the_page() -> None:
    at = app_as("ann", "member", page=PAGE)
    at.text_area(key="cmp_prompts").input("\n".join(f"p{i}" for i in range(51))).run()
    assert not at.exception
    assert any("at most 50" in e.value for e in at.error)
    assert "cmp_run" not in [b.key for b in at.button]  # nothing to run


def test_run_saves_the_comparison_and_opens_it_by_its_id() -> None:
    at = app_as("ann", "member", page=PAGE)
    at.text_input(key="cmp_title").input("Fox sizes").run()
    at.text_area(key="cmp_prompts").input("a fox\na fox [[fail:safety]]").run()
    at.multiselect(key="cmp_sizes").set_value(["512x512", "768x768"]).run()
    at.button(key="cmp_run").click().run()
    assert not at.exception
    cid = at.query_params["id"]
    eng = ui.engine()
    assert engine_jobs(cid) == 4
    _finish(cid)
    at.run()
    assert not at.exception
    assert "Fox sizes" in [s.value for s in at.subheader]
    assert len(at.get("image")) == 2
    assert [("safety filter" in e.value) for e in at.error] == [True, True]  # the failed row
    assert at.button(key=f"cmp_retry_{cid}_1_0").label == "Retry"
    assert at.button(key=f"cmp_pick_{cid}_0_1").label == "Pick as winner"
    at.button(key=f"cmp_pick_{cid}_0_1").click().run()
    assert store.winners(eng, cid) == {0: 1}
    at.button(key=f"cmp_retry_{cid}_1_0").click().run()
    assert not at.exception
    assert engine_jobs(cid) == 5  # the failed cell ran again, alone
    ann = gallery.Viewer("ann", "member")
    comp = store.get(eng, ann, cid)
    assert comp is not None
    retried = [s for s in store.cell_states(eng, ann, comp) if (s.row, s.col) == (1, 0)][0]
    assert retried.job_id and jobs.get(eng, retried.job_id).attempts <= 1  # type: ignore[union-attr]
    assert eng.db.scalar("SELECT min(created_at) < max(created_at) FROM jobs "
                         "WHERE batch_id = ? AND prompt LIKE '%fail%' AND width = 512", [cid])


def engine_jobs(cid: str) -> int:
    return int(ui.engine().db.scalar("SELECT count(*) FROM jobs WHERE batch_id = ?", [cid]))


def test_a_member_opening_another_members_unshared_comparison_sees_no_images() -> None:
    at = app_as("bob", "member", page=PAGE)
    cid = _saved("ann", "ann secret fox")
    at.query_params["id"] = cid
    at.run()
    assert not at.exception
    assert any("not found, or it is not shared with you" in e.value for e in at.error)
    assert "ann secret fox" not in _texts(at)
    assert len(at.get("image")) == 0


def test_a_tampered_comparison_id_is_refused_and_shown_as_typed_not_as_markup() -> None:
    at = app_as("bob", "member", page=PAGE)
    cid = _saved("ann", "ann secret fox")
    for probe in (f"{cid}' OR '1'='1", "[x](http://evil.test)![p](http://evil.test/p.png)",
                  f"{cid.upper()}", f" {cid}"):
        at.query_params["id"] = probe
        at.run()
        assert not at.exception
        errors = [e.value for e in at.error]
        assert any("not found, or it is not shared with you" in e for e in errors)
        assert not any("](http" in e for e in errors)  # the brackets arrive escaped
        assert "ann secret fox" not in _texts(at)


def test_a_shared_comparison_opens_for_a_teammate_with_its_images() -> None:
    at = app_as("bob", "member", page=PAGE)
    cid = _saved("ann", "ann shared fox", shared=True)
    at.query_params["id"] = cid
    at.run()
    assert not at.exception
    assert "ann shared fox" in _texts(at)
    assert len(at.get("image")) == 1
    assert not [b for b in at.button if (b.key or "").startswith("cmp_pick_")]  # not theirs
    assert f"cmp_big_{cid}_0_0" in [b.key for b in at.button]  # but they may look closer
    assert f"cmp_retry_{cid}_0_0" not in [b.key for b in at.button]


def _blocks(node: object) -> list[object]:
    """Every block under ``node`` (containers, columns, dialogs), depth first."""
    out = []
    for child in getattr(node, "children", {}).values():
        if type(child).__name__ == "Block":
            out.append(child)
        out += _blocks(child)
    return out


def _block_keys(at: AppTest) -> list[str]:
    """The user keys of the keyed containers on the page ("$$ID-<hash>-<key>")."""
    return [b.proto.id.split("-", 2)[-1] for b in _blocks(at._tree)  # type: ignore[attr-defined]
            if b.proto.id.startswith("$$ID-")]  # type: ignore[attr-defined]


def _two_columns(owner: str, *, shared: bool = False) -> str:
    ensure_user(owner, "member")
    grid = compare.Grid(rows=("a fox in the snow",), columns=compare.columns_from_axes(
        [compare.Axis("quality", ("draft", "high"))]), seed=3)
    cid = store.start(ui.engine(), gallery.Viewer(owner, "member"), grid, "Two qualities",
                      shared=shared)
    _finish(cid)
    return cid


def test_a_cell_is_picked_as_winner_with_its_button_then_framed_and_can_be_cleared() -> None:
    at = app_as("ann", "member", page=PAGE)
    cid = _two_columns("ann")
    at.query_params["id"] = cid
    at.run()
    assert not at.exception
    assert len(at.selectbox) == 0  # no truncated select any more
    picks = [b for b in at.button if (b.key or "").startswith(f"cmp_pick_{cid}_")]
    assert [b.label for b in picks] == ["Pick as winner", "Pick as winner"]
    assert not [k for k in _block_keys(at) if k.startswith("cmp_winner_")]
    at.button(key=f"cmp_pick_{cid}_0_1").click().run()
    assert not at.exception
    assert store.winners(ui.engine(), cid) == {0: 1}
    assert [k for k in _block_keys(at) if k.startswith("cmp_winner_")] == [
        f"cmp_winner_{cid}_0_1"]  # the framed cell (CSS on its key), the other plain
    assert f"cmp_cell_{cid}_0_0" in _block_keys(at)
    assert at.button(key=f"cmp_pick_{cid}_0_1").label == "Clear winner"
    at.button(key=f"cmp_pick_{cid}_0_0").click().run()  # another cell takes the row
    assert store.winners(ui.engine(), cid) == {0: 0}
    at.button(key=f"cmp_pick_{cid}_0_0").click().run()  # and the winner clears it
    assert store.winners(ui.engine(), cid) == {}


def test_enlarge_opens_the_cell_image_large_in_a_dialog() -> None:
    at = app_as("bob", "member", page=PAGE)
    cid = _two_columns("ann", shared=True)
    at.query_params["id"] = cid
    at.run()
    assert not at.exception
    at.button(key=f"cmp_big_{cid}_0_1").click().run()
    assert not at.exception
    [dialog] = [b for b in _blocks(at._tree) if b.type == "dialog"]  # type: ignore[attr-defined]
    [image] = dialog.get("image")  # type: ignore[attr-defined]
    assert image.value[0].startswith("data:image/")  # the preview, not the grid thumbnail
    grid_thumbs = {u for i in at.main.get("image") for u in i.value}
    assert image.value[0] not in grid_thumbs
    assert "high" in " ".join(c.value for c in dialog.get("caption"))  # the column it is


def test_an_analyst_has_no_compare_page_and_the_page_file_refuses_them() -> None:
    ensure_user("ana", "analyst")
    cid = _saved("ann", "ann shared fox", shared=True)
    assert "compare" not in auth.allowed_pages("analyst")  # left out of the navigation
    page = AppTest.from_file(str(ROOT / PAGE), default_timeout=30)
    sign_in(page, "ana")
    page.query_params["id"] = cid
    page.run()
    assert not page.exception
    assert [e.value for e in page.error] == ["This page is not available to your role."]
    assert len(page.get("image")) == 0 and "ann shared fox" not in _texts(page)
