"""Reuse settings: a past job as the Generate form's state, and the notes for what did not fit."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from lib import jobs
from lib.core import config
from lib.engine import Engine
from lib.gallery import queries as gallery
from lib.imaging import images as imaging
from lib.jobs import reuse
from lib.providers import registry
from lib.styles import library as styles
from tests.helpers import PINNED_START, TickingClock, run_next

LIB = reuse.Library(ready=("sandbox", "gemini", "stability", "replicate"),
                    styles={s.id: s.negative for s in styles.BUILTIN.values()},
                    today=PINNED_START.date())
SANDBOX_KEYS = ("gen_size_sandbox_sandbox-v1", "gen_quality_sandbox_sandbox-v1")


def _png(colour: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (32, 32), colour).save(buf, "PNG")
    return buf.getvalue()


def _source(**kw: Any) -> reuse.Source:
    return reuse.Source(**{"owner": "ann", "provider": "sandbox", "model": "sandbox-v1",
                           "prompt": "a lighthouse", **kw})


def _restore(src: reuse.Source, viewer: str = "ann",
             stored: dict[str, bytes] | None = None) -> reuse.Restored:
    return reuse.restore(src, viewer, LIB, (stored or {}).get)


def test_every_setting_of_a_sandbox_job_comes_back_with_nothing_to_report() -> None:
    got = _restore(_source(width=768, height=1344, quality="draft", seed=42, n=3,
                           style="cartoon", negative_prompt="blurry"))
    assert got.notes == ()
    assert {k: got.state[k] for k in ("gen_provider", "gen_model_sandbox", *SANDBOX_KEYS,
                                      "gen_seed", "gen_n", "gen_style", "gen_negative",
                                      "gen_prompt", "gen_variations", "gen_wm_kind")} == {
        "gen_provider": "sandbox", "gen_model_sandbox": "sandbox-v1",
        SANDBOX_KEYS[0]: "768x1344", SANDBOX_KEYS[1]: "draft", "gen_seed": 42, "gen_n": 3,
        "gen_style": "cartoon", "gen_negative": "blurry", "gen_prompt": "a lighthouse",
        "gen_variations": 1, "gen_wm_kind": "Off"}


def test_a_styles_own_negative_prompt_is_not_copied_into_the_field() -> None:
    cartoon = styles.BUILTIN["cartoon"].negative
    got = _restore(_source(style="cartoon", negative_prompt=cartoon))
    assert got.state["gen_negative"] == ""  # the style adds it again, once


def test_a_job_without_size_or_quality_resets_them_to_the_defaults() -> None:
    got = _restore(_source())
    assert [got.state[k] for k in SANDBOX_KEYS] == ["1024x1024", "standard"]
    assert got.state["gen_seed"] == 0 and got.state["gen_preset"] == ""


def test_a_model_that_no_longer_exists_is_named_with_the_one_used_instead() -> None:
    default = registry.get("gemini").caps.default_model
    got = _restore(_source(provider="gemini", model="gemini-1.0-flash-image"))
    assert got.state["gen_model_gemini"] == default
    assert got.notes == (f"gemini-1.0-flash-image no longer exists; using {default}.",)


def test_a_model_shut_down_by_its_maker_is_replaced_and_the_notice_says_when() -> None:
    default = registry.get("gemini").caps.default_model
    got = _restore(_source(provider="gemini", model="gemini-2.5-flash-image"))
    assert got.state["gen_model_gemini"] == default
    (note,) = got.notes
    assert "shut down gemini-2.5-flash-image on 2026-10-02" in note
    assert note.endswith(f"Using {default}.")


def test_a_provider_that_is_not_set_up_falls_back_with_a_note() -> None:
    got = reuse.restore(_source(provider="openai", model="gpt-image-2"), "ann",
                        dataclasses.replace(LIB, ready=("sandbox",)), {}.get)
    assert got.state["gen_provider"] == "sandbox"
    assert got.notes == (f"{registry.get('openai').label} is not set up here; using "
                         f"{registry.get('sandbox').label}.",)


def test_an_open_model_id_goes_back_into_the_free_text_box() -> None:
    got = _restore(_source(provider="replicate", model="someone/their-model",
                           aspect_ratio="16:9"))
    assert got.state["gen_model_free_replicate"] == "someone/their-model"
    assert got.state["gen_aspect_replicate"] == "16:9" and got.notes == ()


def test_an_aspect_ratio_and_a_style_preset_come_back_and_unknown_extras_are_named() -> None:
    got = _restore(_source(provider="stability", model="ultra", aspect_ratio="21:9",
                           params={"style_preset": "anime", "styled_prompt": "x",
                                   "cfg_scale": 7}))
    assert got.state["gen_aspect_stability"] == "21:9"
    assert got.state["gen_preset"] == "anime"
    assert got.notes == ("The form has no field for cfg_scale; it was not restored.",)


def test_a_size_the_model_does_not_offer_is_reported() -> None:
    got = _restore(_source(width=640, height=480))
    assert got.state[SANDBOX_KEYS[0]] == "1024x1024"
    assert got.notes == ("sandbox-v1 has no size 640×480 here; using 1024x1024.",)


def test_a_style_gone_from_the_library_leaves_none_and_keeps_the_negative_it_ran_with() -> None:
    got = _restore(_source(style="retired", negative_prompt="grainy"))
    assert got.state["gen_style"] == "none" and got.state["gen_negative"] == "grainy"
    assert "no longer in the library" in got.notes[0]


def test_my_own_reference_image_and_text_watermark_come_back() -> None:
    wm = imaging.WatermarkSpec(text="© ann", position="top-left", opacity=0.35).to_dict()
    got = _restore(_source(reference_key="refs/j.png", watermark=wm),
                   stored={"refs/j.png": b"PNG bytes"})
    assert got.reference == b"PNG bytes" and got.notes == ()
    assert {k: got.state[k] for k in ("gen_wm_kind", "gen_wm_text", "gen_wm_pos",
                                      "gen_wm_opacity")} == {
        "gen_wm_kind": "Text", "gen_wm_text": "© ann", "gen_wm_pos": "top-left",
        "gen_wm_opacity": 0.35}


def test_my_own_logo_comes_back_as_bytes() -> None:
    logo = _png()
    wm = imaging.WatermarkSpec(logo=logo, position="center", opacity=1.0).to_dict()
    got = _restore(_source(watermark=wm))
    assert got.logo == logo and got.state["gen_wm_kind"] == "Logo" and got.notes == ()


def test_another_persons_reference_and_logo_are_never_reused() -> None:
    wm = imaging.WatermarkSpec(logo=_png(), position="center").to_dict()
    got = _restore(_source(owner="bob", reference_key="refs/j.png", watermark=wm),
                   viewer="ann", stored={"refs/j.png": b"bob's private photo"})
    assert got.reference is None and got.logo is None
    assert got.state["gen_wm_kind"] == "Off"
    assert got.notes == (
        "The reference image is bob's own upload, so it was not reused. Upload one of yours "
        "if you want one.",
        "The watermark logo is bob's own upload, so it was not reused.")


def test_a_reference_no_longer_stored_is_reported() -> None:
    got = _restore(_source(reference_key="refs/gone.png"))
    assert got.reference is None
    assert got.notes == ("The job's reference image is no longer stored; upload it again.",)


def test_an_opacity_between_the_sliders_steps_is_rounded_and_said() -> None:
    wm = imaging.WatermarkSpec(text="x", opacity=0.33, scale=0.5).to_dict()
    got = _restore(_source(watermark=wm))
    assert got.state["gen_wm_opacity"] == 0.35
    assert len(got.notes) == 2 and "50%" in got.notes[1]


def test_more_images_than_the_model_makes_are_capped_with_a_note() -> None:
    got = _restore(_source(n=12))
    assert got.state["gen_n"] == 8 and "at most 8" in got.notes[0]


# --------------------------------------------------------------------------- with an engine


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine(config.load(), clock=TickingClock())
    yield eng
    eng.close()


def _run(engine: Engine, user: str, spec: jobs.JobSpec) -> jobs.Job:
    job_id = jobs.submit(engine, user, spec)
    while run_next(engine) is not None:
        pass
    job = jobs.get(engine, job_id)
    assert job is not None
    return job


def test_a_history_job_that_asked_for_a_random_seed_comes_back_with_the_seed_it_got(
        engine: Engine) -> None:
    job = _run(engine, "ann", jobs.JobSpec(prompt="a fox", width=64, height=64))
    first = engine.db.scalar("SELECT seed FROM images WHERE job_id = ? AND idx = 0", [job.id])
    assert first
    assert reuse.for_job(engine, "ann", job).state["gen_seed"] == first


def test_a_gallery_image_comes_back_with_its_own_seed_and_its_owners_reference(
        engine: Engine) -> None:
    job = _run(engine, "ann", jobs.JobSpec(prompt="a fox", width=768, height=768, seed=7, n=2,
                                           quality="high", reference=_png("blue")))
    second = str(engine.db.scalar("SELECT id FROM images WHERE job_id = ? AND idx = 1",
                                  [job.id]))
    ann = gallery.Viewer("ann", "member")
    img = gallery.get_image(engine.db, ann, second)
    assert img is not None
    got = reuse.for_image(engine, ann, img)
    assert got.state["gen_seed"] == img.seed and got.state["gen_n"] == 2
    assert got.state["gen_size_sandbox_sandbox-v1"] == "768x768"
    assert got.reference is not None and got.notes == ()
    admin = gallery.Viewer("root", "admin")  # sees it, but the upload is still ann's
    theirs = reuse.for_image(engine, admin, img)
    assert theirs.reference is None and "ann's own upload" in theirs.notes[0]
