"""PNG text metadata, read and written without touching the pixels.

Generation parameters are embedded in every original as tEXt/zTXt (latin-1)
or iTXt (UTF-8) chunks inserted right after IHDR, so a provider's PNG keeps its
exact bytes apart from the new chunks, and a 1024x1024 image takes microseconds.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping

from lib.core.errors import PromptboardError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
_COMPRESS_TEXT_OVER = 2048  # bytes; shorter values stay plain so any tool can read them
_MAX_TEXT_VALUE = 1024 * 1024  # Pillow ignores text chunks that inflate beyond this


class ImageError(PromptboardError, ValueError):
    """A user-facing message about an image we refuse. str(e) is shown as is."""


def megabytes(n: float) -> str:
    """Bytes as megabytes for a message: 25 MB, 0.5 MB."""
    return f"{n / (1024 * 1024):.1f}".removesuffix(".0") + " MB"


def _chunks(png: memoryview) -> Iterator[tuple[bytes, int, int]]:
    """(type, start, end) of each chunk up to IEND; ImageError if it is not a whole PNG."""
    if bytes(png[:8]) != _PNG_SIGNATURE:
        raise ImageError("This is not a PNG file, so its metadata can't be read or written.")
    pos, total = 8, len(png)
    while pos + 12 <= total:
        length, ctype = int.from_bytes(png[pos:pos + 4], "big"), bytes(png[pos + 4:pos + 8])
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > total:
            break
        yield ctype, pos, end
        if ctype == b"IEND":
            return
        pos = end
    raise ImageError("The PNG file is incomplete or damaged. Generate or export it again.")


def _keyword(key: str) -> bytes:
    """A PNG text keyword: 1-79 latin-1 characters, no NUL."""
    raw = key.encode("latin-1") if _latin1(key) else b""
    if not 1 <= len(raw) <= 79 or b"\x00" in raw:
        raise ImageError(f"PNG metadata key {key!r} must be 1-79 latin-1 characters, no NUL.")
    return raw


def _latin1(s: str) -> bool:
    """True if s can be written as latin-1."""
    return all(ord(c) < 256 for c in s)


def _text_chunk(key: str, value: str) -> bytes:
    """One tEXt/zTXt (latin-1 value) or iTXt (UTF-8 value) chunk, with its CRC."""
    kw = _keyword(key)
    if "\x00" in value:
        raise ImageError(f"PNG metadata value for {key!r} contains a NUL character.")
    utf8 = not _latin1(value)
    raw = value.encode("utf-8" if utf8 else "latin-1")
    if len(raw) > _MAX_TEXT_VALUE:
        raise ImageError(f"PNG metadata value for {key!r} is {megabytes(len(raw))}; the limit is "
                         f"{megabytes(_MAX_TEXT_VALUE)}.")
    packed = len(raw) > _COMPRESS_TEXT_OVER
    body = zlib.compress(raw) if packed else raw
    if utf8:  # keyword, NUL, compression flag and method, empty language and translated key
        ctype, data = b"iTXt", kw + (b"\x00\x01\x00" if packed else b"\x00\x00\x00") + b"\x00\x00"
    else:
        ctype, data = (b"zTXt", kw + b"\x00\x00") if packed else (b"tEXt", kw + b"\x00")
    data += body
    crc = zlib.crc32(data, zlib.crc32(ctype))
    return len(data).to_bytes(4, "big") + ctype + data + crc.to_bytes(4, "big")


def _chunk_text(ctype: bytes, data: bytes) -> tuple[str, str] | None:
    """(key, value) of a text chunk, or None if it is malformed (skipped, not fatal)."""
    key, sep, rest = data.partition(b"\x00")
    try:
        if not sep or not key:
            return None
        if ctype == b"tEXt":
            return key.decode("latin-1"), rest.decode("latin-1")
        if ctype == b"zTXt":
            return key.decode("latin-1"), _inflate(rest[1:]).decode("latin-1")
        packed, rest = rest[0], rest[2:]
        text = rest.split(b"\x00", 2)[2]  # skip the language tag and translated keyword
        return key.decode("latin-1"), (_inflate(text) if packed else text).decode("utf-8")
    except (zlib.error, UnicodeDecodeError, IndexError, ValueError):
        return None


def _inflate(data: bytes) -> bytes:
    """zlib-decompress at most _MAX_TEXT_VALUE bytes (a metadata bomb is refused)."""
    d = zlib.decompressobj()
    out = d.decompress(data, _MAX_TEXT_VALUE)
    if d.unconsumed_tail:
        raise ValueError("text chunk inflates beyond the limit")
    return out


def embed_png_metadata(png: bytes, metadata: Mapping[str, str]) -> bytes:
    """The PNG with text chunks inserted after IHDR, pixels untouched; same keys are replaced."""
    view = memoryview(png)
    chunks = _chunks(view)
    ctype, _, ihdr_end = next(chunks)
    if ctype != b"IHDR":
        raise ImageError("The PNG file is damaged: it does not start with a header chunk.")
    replaced = {_keyword(k) for k in metadata}
    parts: list[bytes | memoryview] = [view[:ihdr_end]]
    parts += [_text_chunk(k, v) for k, v in metadata.items()]
    keep_from = ihdr_end
    for ctype, start, end in chunks:
        key = bytes(view[start + 8:min(end - 4, start + 88)]).partition(b"\x00")[0]
        if ctype in _TEXT_CHUNKS and key in replaced:
            parts.append(view[keep_from:start])
            keep_from = end
    parts.append(view[keep_from:])
    return b"".join(parts)


def read_png_metadata(png: bytes) -> dict[str, str]:
    """The text chunks (tEXt, zTXt, iTXt) of a PNG as a dict, without decoding pixels."""
    view, found = memoryview(png), {}
    for ctype, start, end in _chunks(view):
        if ctype in _TEXT_CHUNKS and (item := _chunk_text(ctype, bytes(view[start + 8:end - 4]))):
            found[item[0]] = item[1]
    return found
