"""Downloads from the gallery: a zip of visible images' originals with a CSV manifest.

Files are named ``<date>_<prompt words>_<image id>.png`` (lib.imaging.files.download_name).

Visibility is :func:`lib.gallery.queries.visible_where`'s (through ``checked_rows``), so a zip
can never hold an image the viewer could not open. Errors: ``GalleryError`` (an id not visible) and
``ValueError`` (too many or no images), their messages shown to a person as is.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable

from lib.auth.access import Viewer
from lib.core import csvsafe
from lib.core.fmt import amount
from lib.db.database import Database
from lib.gallery.queries import checked_rows
from lib.imaging.files import download_name
from lib.storage.base import ObjectMissing, Storage

_MANIFEST = ("image_id", "file", "job_id", "user_id", "provider", "model", "prompt",
             "negative_prompt", "style", "quality", "width", "height", "seed", "cost_usd",
             "duration_ms", "created_at", "request_id", "note")


def zip_images(db: Database, storage: Storage, viewer: Viewer, ids: Iterable[str],
               max_images: int = 200) -> bytes:
    """A zip of visible images' originals as ``<date>_<prompt words>_<image_id>.png`` and a
    ``manifest.csv`` of their parameters (an original missing from storage is noted there,
    not fatal)."""
    wanted = list(dict.fromkeys(ids))
    if not 0 < len(wanted) <= max_images:
        raise ValueError(f"{len(wanted)} images are selected; a download holds 1 to "
                         f"{max_images}. Select fewer, or download them in parts.")
    cols = ", ".join(f"i.{c}" for c in ("id", "user_id", "original_key", *_MANIFEST[2:-1]))
    with db.cursor() as cur:
        rows = {r[0]: r for r in checked_rows(cur, viewer, wanted, cols=cols)}
    buf, text = io.BytesIO(), io.StringIO()
    out = csv.writer(text)
    out.writerow(_MANIFEST)
    with zipfile.ZipFile(buf, "w") as zf:
        for image_id in wanted:
            row = rows[image_id]
            values = dict(zip(_MANIFEST[2:-1], row[3:], strict=True))
            name = download_name(values["created_at"], values["prompt"], image_id,
                                 id_chars=len(image_id))
            note = ""
            try:  # PNGs are compressed already: store them as they are
                zf.writestr(name, storage.get(row[2]), compress_type=zipfile.ZIP_STORED)
            except ObjectMissing:
                name, note = "", "original missing from storage"
            values["cost_usd"] = amount(values["cost_usd"])  # "0", "0.039": never "0E-8"
            out.writerow([csvsafe.cell(v) for v in (image_id, name, *values.values(), note)])
        zf.writestr("manifest.csv", text.getvalue().encode("utf-8-sig"),
                    compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()
