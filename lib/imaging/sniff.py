"""What bytes are when no decoder we allow recognises them: the refusal a person reads.

``lib/imaging/images.py`` raises the :class:`ImageError` returned by :func:`unidentified`; it names
SVG, HTML, PDF, HEIC and other formats by their content, so the message says what to do.
"""

from __future__ import annotations

import io

from PIL import Image

from lib.imaging.pngmeta import ImageError

ALLOWED_TEXT = "PNG, JPEG, WebP, GIF, BMP or TIFF"
ALLOWED_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")
DAMAGED = ("The image file is incomplete or damaged, so it can't be read. Download or export "
          "it again and retry.")


def unidentified(data: bytes) -> ImageError:
    """The most helpful refusal for bytes that no allowed decoder recognised."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in head:
        return ImageError("SVG is not supported, export it as PNG (or JPEG) and upload that.")
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:1024]:
        return ImageError("This file is a web page (HTML), not an image. If you downloaded it, "
                          "save the image itself rather than the page.")
    if data.startswith(ALLOWED_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return ImageError(DAMAGED)
    name = other_format(data)
    if name:
        return ImageError(f"{name} files are not supported. Convert the image to "
                          f"{ALLOWED_TEXT} and try again.")
    if b"\x00" not in data[:4096]:
        return ImageError(f"This file contains text, not an image. Upload a {ALLOWED_TEXT} image.")
    return ImageError(f"This file is not an image we recognise. Upload a {ALLOWED_TEXT} image.")


def other_format(data: bytes) -> str | None:
    """The name of a format we refuse (PDF, HEIC, ICO...), identified by content."""
    if data.startswith(b"%PDF"):
        return "PDF"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
        return "HEIC"
    try:  # header parsing only, to name the format; nothing is decoded
        with Image.open(io.BytesIO(data)) as other:
            return str(other.format)
    except Exception:  # noqa: BLE001 - an unnamed format is fine: the caller says "unknown"
        return None
