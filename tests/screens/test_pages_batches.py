"""Batches on the pages under AppTest: Generate queues N variations, the Gallery folds and
opens a batch, and "more like this" queues a batch from the detail dialog."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from lib import jobs, ui
from lib.engine import Engine
from lib.gallery import queries as gallery
from lib.jobs import batches
from tests.helpers import app_as, click_tile, ensure_user, grid_tiles, wait_until

pytestmark = pytest.mark.usefixtures("page_engine")  # tests/conftest.py


def _settle(eng: Engine) -> None:
    """Wait for the app's own workers to finish every job (bounded, not a timing assertion)."""
    wait_until(lambda: not eng.db.scalar(
        "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')"),
        what="every job to finish")


def _texts(at: AppTest) -> str:
    images = [img.proto.imgs[0].caption for img in at.get("image")]
    tiles = [f"{t['badge']} {t['caption']}" for t in grid_tiles(at)]
    return " ".join([c.value for c in at.caption] + [m.value for m in at.markdown] + images
                    + tiles)


def test_generate_queues_a_batch_of_variations_with_consecutive_seeds() -> None:
    at = app_as("ann", "member", page="screens/generate.py")
    at.text_area(key="gen_prompt").input("a red kite").run()
    at.number_input(key="gen_seed").set_value(300).run()
    at.number_input(key="gen_variations").set_value(3).run()
    at.segmented_control(key="gen_seed_mode").set_value(batches.CONSECUTIVE).run()
    assert any("A batch of 3 jobs" in c.value for c in at.caption)
    at.button(key="gen_submit").click().run()
    assert not at.exception
    rows = ui.engine().db.fetchall("SELECT batch_id, seed FROM jobs ORDER BY seed")
    assert [r[1] for r in rows] == [300, 301, 302]
    assert len({r[0] for r in rows}) == 1 and rows[0][0]


def test_a_reused_seed_above_31_bits_fills_the_form_and_starts_a_consecutive_batch() -> None:
    top = batches.MAX_SEED  # random batch seeds and A1111's own seeds go up to 2**32 - 1
    at = app_as("ann", "member")
    at.session_state["reuse"] = {"provider": "sandbox", "model": "sandbox-v1",
                                 "prompt": "a red kite", "seed": top - 2}
    at.switch_page("screens/generate.py").run()
    assert at.number_input(key="gen_seed").value == top - 2  # not dropped to 0 (random)
    at.number_input(key="gen_variations").set_value(3).run()
    at.segmented_control(key="gen_seed_mode").set_value(batches.CONSECUTIVE).run()
    at.button(key="gen_submit").click().run()
    assert not at.exception
    seeds = ui.engine().db.fetchall("SELECT seed FROM jobs ORDER BY seed")
    assert [r[0] for r in seeds] == [top - 2, top - 1, top]


def _batch(user: str, prompt: str, count: int) -> list[str]:
    ensure_user(user, "member")
    eng = ui.engine()
    ids = batches.submit_batch(eng, user, jobs.JobSpec(prompt=prompt, width=64, height=64),
                               count, batches.RANDOM)
    _settle(eng)
    return ids


def test_the_gallery_groups_a_batch_and_opens_it() -> None:
    at = app_as("ann", "member", page="screens/gallery.py")
    _batch("ann", "batch fox", 3)
    _batch("ann", "lone owl", 1)
    at.run()
    assert "4 images match" in _texts(at)
    at.toggle(key="gal_group").set_value(True).run()
    assert not at.exception
    # the count is of images, not tiles (it said "2 images match" for 4 images on 2 tiles)
    assert "4 images match, shown as 2 tiles." in _texts(at) and "Batch of 3 images" in _texts(at)
    [batch_tile] = [t for t in grid_tiles(at) if t["event"] == "batch"]
    assert batch_tile["label"] == "Open batch of 3: batch fox"
    click_tile(at, "batch", batch_tile["target"])
    assert not at.exception
    assert "3 images match" in _texts(at) and "lone owl" not in _texts(at)
    at.button(key="gal_batch_clear").click().run()
    assert "4 images match, shown as 2 tiles." in _texts(at)


def test_more_like_this_queues_a_batch_in_my_name_from_a_shared_image() -> None:
    at = app_as("ann", "member", page="screens/gallery.py")
    [job_id] = _batch("bob", "bob shared kite", 1)
    eng = ui.engine()
    image_id = str(eng.db.scalar("SELECT id FROM images WHERE job_id = ?", [job_id]))
    gallery.set_shared(eng.db, gallery.Viewer("bob", "member"), [image_id], True)
    at.query_params["image"] = image_id
    at.run()
    at.session_state["gal_open"] = image_id  # in a browser a click reruns the open dialog
    at.button(key="dlg-more").click().run()  # four variations, the default
    assert not at.exception
    made = eng.db.fetchall("SELECT user_id, batch_id, prompt FROM jobs WHERE user_id = 'ann'")
    assert len(made) == 4 and {r[2] for r in made} == {"bob shared kite"}
    assert len({r[1] for r in made}) == 1
    assert at.title[0].value == "Generate"  # sent to watch them run


def test_an_analyst_is_offered_neither_reuse_nor_more_like_this() -> None:
    """Both lead to Generate, a page analysts do not have (Reuse used to crash there)."""
    at = app_as("ana", "analyst", page="screens/gallery.py")
    [job_id] = _batch("bob", "bob kite", 1)
    at.query_params["image"] = str(
        ui.engine().db.scalar("SELECT id FROM images WHERE job_id = ?", [job_id]))
    at.run()
    assert not at.exception
    assert any(b.label == "Download original" for b in at.get("download_button"))  # it is open
    assert not any(b.label in ("Reuse settings", "More like this") for b in at.button)


def test_a_forged_batch_click_lists_nothing_of_another_members_batch() -> None:
    """A batch id from the browser is untrusted: the filter still applies who may see what."""
    at = app_as("ann", "member", page="screens/gallery.py")
    _batch("ann", "ann owl", 1)
    [job_id] = _batch("bob", "bob private boat", 2)[:1]
    bobs = str(ui.engine().db.scalar("SELECT batch_id FROM jobs WHERE id = ?", [job_id]))
    at.run()
    click_tile(at, "batch", bobs)
    assert not at.exception
    assert "0 images match" in _texts(at) and "bob private boat" not in _texts(at)
