"""Reuse settings under AppTest: from a Gallery image or a History row, Generate runs it again."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from PIL import Image

from lib import jobs, ui
from lib.gallery import queries as gallery
from lib.imaging import images as imaging
from lib.styles import library as styles
from tests.helpers import app_as, ensure_user, run_next

pytestmark = pytest.mark.usefixtures("page_engine")  # tests/conftest.py

SIZE, QUALITY = "gen_size_sandbox_sandbox-v1", "gen_quality_sandbox_sandbox-v1"


def _png(colour: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 48), colour).save(buf, "PNG")
    return buf.getvalue()


def _made(user: str, **kw: Any) -> tuple[str, str]:
    """A finished job like the trial's (768×1344, draft, seed 42, Cartoon): (job, image) ids."""
    ensure_user(user, "member")
    eng = ui.engine()
    spec = jobs.JobSpec(**{"prompt": "a lighthouse at dusk", "width": 768, "height": 1344,
                           "quality": "draft", "seed": 42, "style": "cartoon", **kw})
    job_id = jobs.submit(eng, user, spec)
    while jobs.get(eng, job_id).status in jobs.ACTIVE:  # type: ignore[union-attr]
        run_next(eng)
    return job_id, str(eng.db.scalar("SELECT id FROM images WHERE job_id = ?", [job_id]))


def _reuse_from_gallery(user: str, image_id: str) -> Any:
    at = app_as(user, "member", page="screens/gallery.py")
    at.query_params["image"] = image_id
    at.run()
    at.session_state["gal_open"] = image_id  # in a browser a click reruns the open dialog
    at.button(key="dlg-reuse").click().run()
    assert not at.exception
    assert at.title[0].value == "Generate"
    return at.switch_page("screens/generate.py").run()  # AppTest's next run stays there too


def _last_job() -> jobs.Job:
    eng = ui.engine()
    newest = eng.db.scalar("SELECT id FROM jobs ORDER BY created_at DESC, id LIMIT 1")
    job = jobs.get(eng, str(newest))
    assert job is not None
    return job


def test_reuse_from_the_gallery_restores_every_setting_and_runs_the_same_job_again() -> None:
    wm = imaging.WatermarkSpec(text="© ann", position="top-left", opacity=0.3)
    first, image = _made("ann", negative_prompt=None, reference=_png("navy"), watermark=wm)
    at = _reuse_from_gallery("ann", image)
    assert at.selectbox(key=SIZE).value == "768x1344"
    assert at.selectbox(key=QUALITY).value == "draft"
    assert at.number_input(key="gen_seed").value == 42
    assert at.selectbox(key="gen_style").value == "cartoon"
    assert at.text_input(key="gen_negative").value == ""  # the style's own, not doubled
    assert at.segmented_control(key="gen_wm_kind").value == "Text"
    assert at.text_input(key="gen_wm_text").value == "© ann"
    assert at.selectbox(key="gen_wm_pos").value == "top-left"
    assert any("reference image of the job you reused" in c.value for c in at.caption)
    assert not at.warning  # nothing to report
    at.button(key="gen_submit").click().run()
    assert not at.exception
    old, new = jobs.get(ui.engine(), first), _last_job()
    assert old is not None and new.id != old.id
    same = ("provider", "model", "prompt", "negative_prompt", "style", "width", "height",
            "quality", "seed", "n")
    assert [getattr(new, f) for f in same] == [getattr(old, f) for f in same]
    assert new.negative_prompt == styles.BUILTIN["cartoon"].negative  # once
    assert json.loads(new.watermark or "{}") == json.loads(old.watermark or "{}")
    assert new.reference_key and ui.engine().storage.get(new.reference_key) == \
        ui.engine().storage.get(old.reference_key or "")


def test_reuse_from_history_restores_the_size_and_quality() -> None:
    job_id, _ = _made("ann")
    at = app_as("ann", "member", page="screens/history.py")
    at.button(key=f"reuse-{job_id}").click().run()
    assert not at.exception and at.title[0].value == "Generate"
    assert at.selectbox(key=SIZE).value == "768x1344"
    assert at.selectbox(key=QUALITY).value == "draft"
    assert at.number_input(key="gen_seed").value == 42


def test_reusing_a_teammates_shared_image_leaves_out_their_reference_and_says_so() -> None:
    _, image = _made("bob", reference=_png("olive"))
    gallery.set_shared(ui.engine().db, gallery.Viewer("bob", "member"), [image], True)
    at = _reuse_from_gallery("ann", image)
    assert at.selectbox(key=SIZE).value == "768x1344"
    assert not any("reference image of the job you reused" in c.value for c in at.caption)
    [note] = at.warning
    assert "bob's own upload" in note.value
    at.button(key="gen_reuse_ok").click().run()
    assert not at.warning
    at.button(key="gen_submit").click().run()
    assert _last_job().reference_key is None


def test_a_reused_reference_can_be_dropped_before_generating() -> None:
    _, image = _made("ann", reference=_png("navy"))
    at = _reuse_from_gallery("ann", image)
    at.button(key="gen_reused_reference_drop").click().run()
    assert not any("reference image of the job you reused" in c.value for c in at.caption)
    at.button(key="gen_submit").click().run()
    assert _last_job().reference_key is None


def test_more_like_this_from_a_teammates_image_says_their_reference_was_left_out() -> None:
    _, image = _made("bob", reference=_png("olive"))
    gallery.set_shared(ui.engine().db, gallery.Viewer("bob", "member"), [image], True)
    at = app_as("ann", "member", page="screens/gallery.py")
    at.query_params["image"] = image
    at.run()
    at.session_state["gal_open"] = image
    at.number_input(key="dlg-more-n").set_value(2)
    at.button(key="dlg-more").click().run()
    assert not at.exception
    assert [t.value for t in at.toast] == [
        "Queued 2 variations. bob's reference image is left out: only their owner can reuse them."]
    assert {r[0] for r in ui.engine().db.fetchall(
        "SELECT reference_key FROM jobs WHERE user_id = 'ann'")} == {None}
