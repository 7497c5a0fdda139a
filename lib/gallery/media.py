"""What the image dialog shows and hands out: a small preview, and originals checked on demand.

- :func:`preview_url`: a data URL of a WebP at most PREVIEW_SIDE on its long side, made once per
  image at a bounded peak (``imaging.display_preview``) and kept in a small LRU. A data URL
  passes through ``st.image`` untouched: no Pillow work per view and no ``/media/<hash>`` URL
  that anyone could fetch without a cookie after the session ended (findings 7 and 15).
- :func:`download_bytes`: an original's bytes for a download button's callable, which Streamlit
  runs later, outside the session (and for any session that knows the file id): it checks
  again that the account is enabled, the session not revoked and the image still visible to
  the account's *current* role.
"""

from __future__ import annotations

import base64
from datetime import datetime

from lib.auth import accounts as auth
from lib.auth.access import Viewer
from lib.core.context import Services
from lib.core.errors import PromptboardError
from lib.core.lru import LRU
from lib.gallery import queries as gallery
from lib.imaging import images as imaging

PREVIEW_SIDE = 2048
# A preview travels base64-encoded in one websocket message: this keeps the largest one well
# under server.maxMessageSize in .streamlit/config.toml (tests/reliability/test_message_size.py).
PREVIEW_MAX_BYTES = 2 * 1024 * 1024
PREVIEW_CACHE = 24  # entries of ~0.2-1.5 MB each
STORED_MAX_PIXELS = 100_000_000  # the most the pipeline accepts from a provider

_PREVIEWS: LRU[tuple[str, str], bytes] = LRU(PREVIEW_CACHE)


class DownloadRefused(PromptboardError, PermissionError):
    """The account may not download this image (any more)."""


def preview_bytes(eng: Services, key: str) -> bytes:
    """A WebP of the image at most PREVIEW_SIDE on its long side, made once per key and kept
    in a small LRU (keys are never reused). Raises ImageError."""
    slot = (str(eng.settings.data_dir), key)
    found, cached = _PREVIEWS.get(slot)
    if found and cached is not None:
        return cached
    pixels = max(eng.settings.max_pixels, STORED_MAX_PIXELS)
    webp = imaging.display_preview(eng.storage.get(key), max_pixels=pixels,
                                   max_side=PREVIEW_SIDE, max_bytes=PREVIEW_MAX_BYTES)
    _PREVIEWS.put(slot, webp)
    return webp


def preview_url(eng: Services, key: str) -> str:
    """A presigned URL (S3), else a data URL of the image's preview. Raises ImageError."""
    url = eng.storage.url(key, 3600)
    if url:
        return url
    return "data:image/webp;base64," + base64.b64encode(preview_bytes(eng, key)).decode("ascii")


def download_bytes(eng: Services, username: str, issued_at: datetime | None, image_id: str,
                   which: str) -> bytes:
    """The ``which`` ("original" or "watermarked") file of an image, if still allowed.

    ``issued_at``: when the session that drew the button signed in (None: no such record,
    as in tests), refused once that session was revoked. Raises DownloadRefused."""
    user = auth.get_user(eng.db, username)
    if user is None or user.disabled:
        raise DownloadRefused(f"{username} may not download images any more")
    if issued_at is not None and not auth.session_valid(eng.db, username, issued_at):
        raise DownloadRefused(f"the session of {username} has ended")
    img = gallery.get_image(eng.db, Viewer(user.username, user.role), image_id)
    key = None if img is None else (img.original_key if which == "original"
                                    else img.watermarked_key)
    if not key:
        raise DownloadRefused(f"{username} may not download image {image_id}")
    return eng.storage.get(key)
