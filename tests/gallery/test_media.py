"""The image dialog shows a small preview, and an original leaves only through a checked download.

Security findings 7 and 15: the dialog passed the original's bytes to ``st.image`` (decoded and
resized on every view, then served from ``/media/<hash>`` without a cookie), and a deferred
download ran for whoever asked, however long after.
"""

from __future__ import annotations

import base64
import io
from datetime import timedelta

import numpy as np
import pytest
from PIL import Image

from lib import jobs, ui
from lib.auth import accounts as auth
from lib.core.clock import utcnow
from lib.gallery import media
from lib.gallery import queries as gallery
from tests.helpers import app_as, ensure_user, run_next

pytestmark = pytest.mark.usefixtures("page_engine")  # tests/conftest.py


def _image(user: str, prompt: str) -> str:
    ensure_user(user, "member")
    eng = ui.engine()
    job_id = jobs.submit(eng, user, jobs.JobSpec(prompt=prompt, width=64, height=64))
    while jobs.get(eng, job_id).status in jobs.ACTIVE:  # type: ignore[union-attr]
        run_next(eng)
    return str(eng.db.scalar("SELECT id FROM images WHERE job_id = ?", [job_id]))


def _webp_size(data_url: str) -> tuple[int, int]:
    head, _, body = data_url.partition(",")
    assert head == "data:image/webp;base64"
    with Image.open(io.BytesIO(base64.b64decode(body))) as im:
        return im.size


def test_the_dialog_shows_a_preview_data_url_not_the_original() -> None:
    at = app_as("ann", "member")
    mine = _image("ann", "ann private fox")
    at.switch_page("screens/gallery.py")
    at.query_params["image"] = mine
    at.run()
    assert not at.exception
    urls = [img.proto.imgs[0].url for img in at.get("image")]
    assert urls and all(u.startswith("data:image/webp;base64,") for u in urls)
    assert not any("/media/" in u for u in urls)


def test_a_large_original_gets_a_preview_at_most_2048_pixels_made_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    eng = ui.engine()
    buf = io.BytesIO()
    Image.new("RGB", (4500, 3000), (10, 120, 200)).save(buf, "PNG")
    eng.storage.put("images/big.png", buf.getvalue(), "image/png")
    reads: list[str] = []
    real_get = eng.storage.get
    monkeypatch.setattr(eng.storage, "get", lambda k: reads.append(k) or real_get(k))
    first = media.preview_url(eng, "images/big.png")
    assert max(_webp_size(first)) == media.PREVIEW_SIDE
    assert media.preview_url(eng, "images/big.png") == first and len(reads) == 1


def test_a_download_hands_over_the_original_to_its_owner() -> None:
    mine = _image("ann", "ann private fox")
    eng = ui.engine()
    img = gallery.get_image(eng.db, gallery.Viewer("ann", "member"), mine)
    assert img is not None
    issued = utcnow()
    assert media.download_bytes(eng, "ann", issued, mine, "original") == eng.storage.get(
        img.original_key)


def test_a_download_clicked_after_sign_out_is_refused() -> None:
    mine = _image("ann", "ann private fox")
    eng = ui.engine()
    issued = utcnow() - timedelta(minutes=1)
    auth.revoke_sessions(eng.db, "ann", utcnow())
    with pytest.raises(media.DownloadRefused):
        media.download_bytes(eng, "ann", issued, mine, "original")


def test_a_download_of_someone_elses_private_image_is_refused_whoever_holds_the_button() -> None:
    theirs = _image("bob", "bob private boat")
    ensure_user("ann", "member")
    with pytest.raises(media.DownloadRefused):
        media.download_bytes(ui.engine(), "ann", None, theirs, "original")


def test_a_download_after_the_account_was_disabled_or_demoted_is_refused() -> None:
    theirs = _image("bob", "bob private boat")
    ensure_user("ana", "analyst")
    eng = ui.engine()
    assert media.download_bytes(eng, "ana", None, theirs, "original")  # analysts see all
    auth.set_role(eng.db, "ana", "member", now=utcnow())
    with pytest.raises(media.DownloadRefused):
        media.download_bytes(eng, "ana", None, theirs, "original")
    auth.set_disabled(eng.db, "bob", True, now=utcnow())
    with pytest.raises(media.DownloadRefused):
        media.download_bytes(eng, "bob", None, theirs, "original")


def test_an_image_without_a_watermarked_copy_has_no_watermarked_download() -> None:
    mine = _image("ann", "ann private fox")
    with pytest.raises(media.DownloadRefused):
        media.download_bytes(ui.engine(), "ann", None, mine, "watermarked")


def test_a_noise_like_image_gets_a_smaller_preview_that_fits_the_message_budget() -> None:
    eng = ui.engine()
    noise = np.random.default_rng(3).integers(0, 256, (2600, 2600, 4), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise, "RGBA").save(buf, "PNG", compress_level=1)
    eng.storage.put("images/noise.png", buf.getvalue(), "image/png")
    url = media.preview_url(eng, "images/noise.png")
    assert len(base64.b64decode(url.partition(",")[2])) <= media.PREVIEW_MAX_BYTES
    assert max(_webp_size(url)) < media.PREVIEW_SIDE
