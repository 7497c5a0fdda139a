"""The image dialog's picture and download buttons (logic in ``lib/gallery/media.py``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

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
