"""Images on screen: the image dialog's picture and download buttons (logic in
``lib/gallery/media.py``), and the small thumbnails grids and job cards show.

A gallery image's thumbnail is a URL, not its bytes: :func:`image_src` gives the API's
thumbnail route with a link signed for this session (``lib.auth.links``), or S3's presigned
URL. The browser fetches it once and keeps it (``Cache-Control: private``, the URL is the same
for an hour), so flipping back to a gallery page sends a few hundred bytes of URLs instead of
every thumbnail again. A style's preview, which is no gallery image, stays a data URL.
"""

from __future__ import annotations

import base64
import functools
import logging
import os
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import streamlit as st

from lib.auth import links
from lib.auth.cookies import cookie_key
from lib.core.config import Settings
from lib.core.lru import LRU
from lib.engine import Engine
from lib.gallery import media
from lib.imaging import images as imaging
from lib.ui import signin

log = logging.getLogger(__name__)


def picture(container: Any, eng: Engine, image_id: str, key: str) -> None:
    """The image's preview (never the original's bytes) in ``container``: a signed link to
    the API's preview route, like :func:`image_src` (a data URL where there is no page URL)."""
    try:
        src = (eng.storage.url(key, 3600) or _signed(eng, f"/api/v1/images/{image_id}/preview")
               or media.preview_url(eng, key))
        container.image(src, width="stretch")
    except imaging.ImageError as exc:
        log.warning("no preview for %s: %s", key, exc)
        container.warning("This image can't be previewed: download it to see it.",
                          icon=":material/broken_image:")


def download(eng: Engine, username: str, image_id: str,
             which: str = "original") -> Callable[[], bytes]:
    """A download button's ``data``: the file, read only when clicked and checked again then."""
    issued = signin.session_issued_at()
    return lambda: media.download_bytes(eng, username, issued, image_id, which)


@functools.lru_cache(maxsize=8)
def _link_key(settings: Settings, _env_key: str) -> str:
    """The cookie key, read once per settings and PROMPTBOARD_COOKIE_KEY (it may be a file)."""
    return cookie_key(settings)


def _origin() -> str:
    """scheme://host:port of the page (st.image wants an absolute URL)."""
    parts = urlsplit(st.context.url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def image_src(eng: Engine, image_id: str, thumb_key: str, *, absolute: bool = True) -> str:
    """The thumbnail's URL for this session: S3's presigned URL, else the API's route with a
    signed link (see the module's note). Where there is no browser (AppTest: no page URL) or
    no sign-in record, the same bytes as a data URL: ``st.image`` takes only absolute URLs."""
    url = eng.storage.url(thumb_key, 3600)
    if url:  # S3: no link to sign
        return url
    # the grid's own <img> takes a path; st.image takes absolute URLs only
    signed = _signed(eng, f"/api/v1/images/{image_id}/thumbnail", absolute=absolute)
    return signed or _data_url(eng, thumb_key)


def _signed(eng: Engine, path: str, *, absolute: bool = True) -> str | None:
    """``path`` signed for this session (an absolute URL, or the path and query alone), or
    None (no page URL, as in AppTest, or no sign-in record)."""
    sess = st.session_state.get(signin.SESSION_KEY) or {}
    origin = _origin()
    if not origin or not sess.get("issued_at") or not sess.get("username"):
        return None
    key = _link_key(eng.settings, os.environ.get("PROMPTBOARD_COOKIE_KEY", ""))
    link = links.sign(key, path, str(sess["username"]),
                      datetime.fromisoformat(sess["issued_at"]), time.time())
    return origin + link if absolute else link


def thumbnail(eng: Engine, key: str) -> str:
    """A presigned URL (S3), else a data URL of the small WebP thumbnail.

    Either way ``st.image`` passes it straight to the browser: no Pillow re-encoding and
    nothing kept in Streamlit's in-memory media store, so paging the gallery stays flat.
    """
    url = eng.storage.url(key, 3600)
    return url or _data_url(eng, key)


# Thumbnail data URLs by (data dir, key), ~12 MB at most. Not st.cache_data: keys are never
# reused (an image's key names its id), so nothing needs hashing or copying, and each gallery
# rerun skipped 24 argument hashes and unpickles.
_THUMBS: LRU[tuple[str, str], str] = LRU(300)


def _data_url(eng: Engine, key: str) -> str:
    slot = (str(eng.settings.data_dir), key)
    found, url = _THUMBS.get(slot)
    if found and url is not None:
        return url
    url = "data:image/webp;base64," + base64.b64encode(eng.storage.get(key)).decode("ascii")
    _THUMBS.put(slot, url)
    return url
