"""Style previews through the job queue: queued as the asker, kept as the style's thumbnail."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image

from lib import jobs
from lib.auth.accounts import User
from lib.core import config
from lib.engine import Engine
from lib.jobs import style_previews
from lib.styles import library as styles
from tests.builders import ADMIN_USER as ADMIN
from tests.builders import ANALYST_USER as ANALYST
from tests.builders import MEMBER_USER as MEMBER
from tests.builders import STYLES_NOW as NOW
from tests.helpers import TickingClock, run_next


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine(config.load(), clock=TickingClock(NOW))
    yield eng
    eng.close()
    assert not eng.internal_errors, eng.internal_errors


def test_a_preview_is_a_queued_job_paid_by_the_member_who_asked(engine: Engine) -> None:
    job_id = style_previews.request(engine, MEMBER, "cartoon")
    job = jobs.get(engine, job_id)
    assert job is not None and job.status == jobs.QUEUED and job.user_id == "ann"
    assert (job.provider, job.style, job.prompt) == ("sandbox", "cartoon", styles.PREVIEW_PROMPT)
    assert job.seed == styles.PREVIEW_SEED and (job.width, job.height) == (512, 512)
    assert style_previews.pending(engine)["cartoon"].pending
    assert style_previews.collect(engine) == 0  # not drawn yet: nothing to keep
    assert styles.get("cartoon", engine.db).preview_key is None


def test_a_finished_preview_becomes_the_styles_thumbnail(engine: Engine) -> None:
    job_id = style_previews.request(engine, MEMBER, "cartoon")
    assert run_next(engine) == jobs.SUCCEEDED
    assert style_previews.collect(engine) == 1
    style = styles.get("cartoon", engine.db)
    assert style.preview_key == style.preview_key_for()
    with Image.open(io.BytesIO(engine.storage.get(style.preview_key))) as img:
        assert img.format == "WEBP" and max(img.size) <= styles.PREVIEW_SIDE
    assert "cartoon" not in style_previews.pending(engine)
    thumb = engine.db.scalar("SELECT thumb_key FROM images WHERE job_id = ?", [job_id])
    engine.storage.delete([thumb])  # the image leaves the gallery: the preview stays
    assert engine.storage.exists(style.preview_key)
    assert style_previews.collect(engine) == 0


def test_asking_twice_while_queued_is_one_job(engine: Engine) -> None:
    first = style_previews.request(engine, MEMBER, "abstract")
    assert style_previews.request(engine, ADMIN, "abstract") == first


def test_a_template_edited_while_drawing_does_not_keep_the_stale_preview(
        engine: Engine) -> None:
    style_previews.request(engine, ADMIN, "cartoon")
    old = styles.get("cartoon", engine.db)
    styles.save(engine.db, ADMIN, styles.Style("cartoon", "Cartoon", "{prompt}, ink"), NOW)
    run_next(engine)
    assert style_previews.collect(engine) == 0
    assert styles.get("cartoon", engine.db).preview_key is None
    assert old.preview_key_for() != styles.get("cartoon", engine.db).preview_key_for()
    assert "cartoon" not in style_previews.pending(engine)  # free to ask again


def test_a_suggested_provider_that_is_not_configured_falls_back_to_the_sandbox(
        engine: Engine) -> None:
    made = styles.propose(engine.db, MEMBER, "Poster", "{prompt}, poster", "",
                          {"provider": "openai", "size": "1024x1024", "quality": "high"}, NOW)
    spec = style_previews.spec_for(made)
    assert (spec.provider, spec.model, spec.quality) == ("sandbox", None, None)
    kept = styles.propose(engine.db, MEMBER, "Sketch", "{prompt}, sketch", "",
                          {"provider": "sandbox", "size": "768x768", "quality": "draft"}, NOW)
    spec = style_previews.spec_for(kept)
    assert (spec.width, spec.height, spec.quality) == (768, 768, "draft")
    assert spec.params["preview_hash"] == kept.preview_hash()


def test_a_proposed_style_can_be_previewed_before_approval(engine: Engine) -> None:
    made = styles.propose(engine.db, MEMBER, "Neon", "{prompt}, neon glow", "dull", None, NOW)
    job = jobs.get(engine, style_previews.request(engine, MEMBER, made.id))
    assert job is not None and job.negative_prompt == "dull"
    run_next(engine)
    assert style_previews.collect(engine) == 1


def test_a_failed_preview_stays_linked_so_the_page_can_say_why(engine: Engine) -> None:
    job_id = style_previews.request(engine, MEMBER, "cartoon")
    jobs.cancel(engine, job_id, "ann")
    found = style_previews.pending(engine)["cartoon"]
    assert not found.pending and found.status == jobs.CANCELLED and found.error_message
    assert style_previews.request(engine, MEMBER, "cartoon") != job_id  # asking again works


@pytest.mark.parametrize(("user", "style_id", "message"), [
    (ANALYST, "cartoon", "Only members and admins"),
    (MEMBER, "ghost", "no style 'ghost'"),
])
def test_refusals_say_why(engine: Engine, user: User, style_id: str, message: str) -> None:
    with pytest.raises(styles.StyleError, match=message):
        style_previews.request(engine, user, style_id)
    assert engine.db.scalar("SELECT count(*) FROM jobs") == 0
