"""Bounded memory for large images: a PNG shrunk band by band, and a cap on concurrent decodes.

Pillow decodes a PNG whole: a 7745×7745 one (191 KB on disk) is 240 MB in memory before it can
be shrunk, every time someone uploads or opens it. :func:`reduce_png` inflates the pixel rows as
a stream instead and hands Pillow one band of rows at a time (a small PNG of its own, whose first
row is the previous band's last row, unfiltered, so the row filters still decode), shrinking each
band by a whole factor with a box filter (``Image.reduce``, seamless across bands) into a canvas
at most about twice the requested size. The peak is that canvas plus one band, whatever the
image's size. It handles the usual PNGs (8 bits per channel, not interlaced, not animated);
for any other it returns None and the caller decodes whole, as before.

:data:`DECODE_SLOTS` bounds how many decodes run at once across the process (uploads, provider
output, previews), so a burst of large images queues instead of multiplying the peak.
"""

from __future__ import annotations

import io
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from PIL import Image

from lib.core.errors import PromptboardError

DECODE_SLOTS = threading.BoundedSemaphore(2)  # the machine's cores; each decode holds one
BAND_BYTES = 2 * 1024 * 1024  # filtered rows handed to Pillow at a time
_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type -> samples per pixel


class StreamError(PromptboardError, ValueError):
    """The PNG's pixel data is incomplete or damaged."""


@dataclass
class _Png:
    width: int
    height: int
    color: int
    idat: list[memoryview] = field(default_factory=list)
    extra: list[tuple[bytes, bytes]] = field(default_factory=list)  # PLTE, tRNS: copied as is
    exif: bytes | None = None


def _parse(data: bytes) -> _Png | None:
    """The chunks we need, or None if this PNG is not one we stream."""
    if not data.startswith(_SIGNATURE):
        return None
    view, pos, png = memoryview(data), len(_SIGNATURE), None
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", view[pos:pos + 8])
        body = view[pos + 8:pos + 8 + length]
        if len(body) != length:
            raise StreamError("a chunk runs past the end of the file")
        if kind == b"IHDR":
            w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body[:13])
            if depth != 8 or interlace or color not in _CHANNELS:
                return None
            png = _Png(w, h, color)
        elif png is None or kind == b"acTL":  # no header first, or animated
            return None
        elif kind == b"IDAT":
            png.idat.append(body)
        elif kind in (b"PLTE", b"tRNS"):
            png.extra.append((kind, bytes(body)))
        elif kind == b"eXIf":
            png.exif = bytes(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    return png if png is not None and png.idat else None


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _band_png(png: _Png, rows: int, filtered: bytes) -> bytes:
    """A PNG of ``rows`` rows of the original's filtered scanlines (stored, not compressed)."""
    head = struct.pack(">IIBBBBB", png.width, rows, 8, png.color, 0, 0, 0)
    return b"".join([_SIGNATURE, _chunk(b"IHDR", head),
                     *(_chunk(k, b) for k, b in png.extra),
                     _chunk(b"IDAT", zlib.compress(filtered, 0)), _chunk(b"IEND", b"")])


def _bands(png: _Png, band_rows: int) -> Iterator[bytes]:
    """Filtered scanlines in bands of ``band_rows`` (the last may be shorter)."""
    stride = 1 + png.width * _CHANNELS[png.color]
    want = stride * band_rows
    inflater = zlib.decompressobj()
    buf = bytearray()
    done = 0
    try:
        for piece in png.idat:
            data: bytes = bytes(piece)
            while data:
                buf += inflater.decompress(data, want)
                data = inflater.unconsumed_tail
                while len(buf) >= want and done + band_rows <= png.height:
                    yield bytes(buf[:want])
                    del buf[:want]
                    done += band_rows
    except zlib.error as exc:
        raise StreamError(f"the compressed pixel data is damaged: {exc}") from None
    left = png.height - done
    if left > 0:
        if len(buf) < left * stride:
            raise StreamError("the pixel data ends early")
        yield bytes(buf[:left * stride])


def reduce_png(data: bytes, max_side: int) -> Image.Image | None:
    """The PNG shrunk by a whole factor to a long side of max_side..2×max_side, or None.

    None: not a PNG we stream, or already small enough (under 2×max_side) that a whole decode
    costs little. The result is "RGB", "RGBA", "L" or "LA" like Pillow's own decode, with
    its EXIF (for orientation) in ``info``; a palette becomes RGB or RGBA. Raises StreamError.
    """
    png = _parse(data)
    if png is None or max(png.width, png.height) < 2 * max_side:
        return None
    factor = max(png.width, png.height) // max_side
    stride = 1 + png.width * _CHANNELS[png.color]
    band_rows = factor * max(1, BAND_BYTES // (stride * factor))
    canvas: Image.Image | None = None
    previous: bytes | None = None  # the last row of the band before, unfiltered
    y = 0
    for filtered in _bands(png, band_rows):
        rows = len(filtered) // stride
        prefix = b"" if previous is None else b"\x00" + previous
        with Image.open(io.BytesIO(_band_png(png, rows + (previous is not None),
                                             prefix + filtered))) as opened:
            opened.load()
            band: Image.Image = opened
            if previous is not None:
                band = band.crop((0, 1, band.width, band.height))
            previous = band.crop((0, band.height - 1, band.width, band.height)).tobytes()
            if band.mode == "P":  # palette indices can't be averaged: colours can
                band = band.convert("RGBA" if "transparency" in band.info else "RGB")
            small = band.reduce(factor)
            if canvas is None:
                canvas = Image.new(small.mode, (-(-png.width // factor),
                                                -(-png.height // factor)))
            canvas.paste(small, (0, y // factor))
        y += rows
    if canvas is None or y != png.height:
        raise StreamError("the pixel data ends early")
    if png.exif:
        canvas.info["exif"] = png.exif
    return canvas
