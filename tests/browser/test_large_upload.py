"""A reference image larger than server.maxMessageSize still uploads: files go over HTTP.

``.streamlit/config.toml`` caps websocket messages at 8 MB (security finding 7) while uploads may
be up to ``PROMPTBOARD_MAX_UPLOAD_MB`` (25): Streamlit sends a file's bytes through
``/_stcore/upload_file`` (``server.maxUploadSize``), the websocket carries only its id.
"""

from __future__ import annotations

import io
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser import harness as h

pytestmark = pytest.mark.browser


def test_a_reference_image_over_the_message_limit_uploads_and_is_queued(
    shared_server: h.AppServer, browsing: h.Browsing, admin_state: object, tmp_path: Path
) -> None:
    limit_mb = tomllib.loads((h.ROOT / ".streamlit" / "config.toml").read_text())[
        "server"]["maxMessageSize"]
    side = 2000
    noise = np.random.default_rng(5).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise, "RGB").save(buf, "PNG", compress_level=0)
    upload = tmp_path / "big-reference.png"
    upload.write_bytes(buf.getvalue())
    assert upload.stat().st_size > limit_mb * 1_000_000

    page = browsing.open_signed_in(shared_server, admin_state, "generate", "Generate")
    page.get_by_text("Reference image and watermark").click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(upload))
    expect(page.get_by_text("big-reference.png", exact=True)).to_be_visible()
    h.wait_settled(page)
    page.get_by_label("Prompt", exact=True).fill("a fox from a large reference")
    page.get_by_label("Prompt", exact=True).press("Control+Enter")
    h.wait_settled(page)
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page.get_by_text("Queued.")).to_be_visible(timeout=h.JOB_TIMEOUT)
    expect(page.get_by_test_id("stAlert").filter(has_text="MB")).to_have_count(0)
