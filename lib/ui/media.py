"""Images on screen: the image dialog's picture and download buttons (logic in
``lib/gallery/media.py``), and the small thumbnails grids and job cards show."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

from lib.core.lru import LRU
from lib.engine import Engine
from lib.gallery import media
from lib.imaging import images as imaging
from lib.ui import signin

log = logging.getLogger(__name__)


def picture(container: Any, eng: Engine, key: str) -> None:
    """The image's preview (never the original's bytes) in ``container``."""
    try:
        container.image(media.preview_url(eng, key), width="stretch")
    except imaging.ImageError as exc:
        log.warning("no preview for %s: %s", key, exc)
        container.warning("This image can't be previewed: download it to see it.",
                          icon=":material/broken_image:")


def download(eng: Engine, username: str, image_id: str,
             which: str = "original") -> Callable[[], bytes]:
    """A download button's ``data``: the file, read only when clicked and checked again then."""
    issued = signin.session_issued_at()
    return lambda: media.download_bytes(eng, username, issued, image_id, which)


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
