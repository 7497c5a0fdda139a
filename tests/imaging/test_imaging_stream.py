"""Large but legal images cost bounded memory (security finding 7), and decodes queue.

The peak is measured as the growth of the resident high-water mark (``ru_maxrss``) of a fresh
child process around one call: Pillow allocates pixels with C ``malloc``, which ``tracemalloc``
never sees (a tracemalloc bound would pass with the whole-image decode still in place). The
bound is relative to the image, not a fixed figure: well under what holding it whole costs.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lib.imaging import images as imaging
from lib.imaging import stream as imaging_stream

ROOT = Path(__file__).resolve().parents[2]
MAX_PIXELS = 120_000_000


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def big_png(path: Path, width: int, height: int) -> None:
    """An RGB PNG of stripes, written row by row: the test never holds its pixels."""
    z = zlib.compressobj(9)
    row = bytes(b for x in range(width) for b in ((x * 7) % 256, (x // 97) % 256, 90))
    with path.open("wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n")
        fh.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        parts = [z.compress(b"\x01" + row if y % 3 else b"\x00" + row) for y in range(height)]
        fh.write(_chunk(b"IDAT", b"".join(parts) + z.flush()))
        fh.write(_chunk(b"IEND", b""))


_CHILD = """
import resource, sys
sys.path.insert(0, {root!r})
from lib.imaging import images as imaging
data = open({path!r}, "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if {what!r} == "reference":
    out, dec = imaging.prepare_reference(data, max_bytes=len(data), max_pixels={pixels})
    assert max(dec.width, dec.height) == 2048, dec
else:
    out = imaging.display_preview(data, max_pixels={pixels})
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) * 1024)
"""


def _peak_growth(path: Path, what: str) -> int:
    code = _CHILD.format(root=str(ROOT), path=str(path), what=what, pixels=MAX_PIXELS)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=True)
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("what", "side"), [("reference", 7745), ("preview", 10000)])
def test_a_huge_png_is_shrunk_without_holding_it_whole(
    tmp_path: Path, what: str, side: int
) -> None:
    path = tmp_path / "huge.png"
    big_png(path, side, side)
    whole = side * side * 4  # what Pillow holds for it decoded (RGB is 4 bytes a pixel)
    growth = _peak_growth(path, what)
    assert growth < whole / 2, f"peak grew by {growth / 2**20:.0f} MB"  # whole: +306 MB


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "P-transparent"])
def test_the_banded_shrink_equals_a_whole_decode_shrunk_the_same_way(mode: str) -> None:
    rng = np.random.default_rng(7)
    noise = Image.fromarray((rng.random((40, 50, 4)) * 255).astype("uint8"), "RGBA")
    base = noise.resize((1003, 821), Image.Resampling.BILINEAR)
    if mode.startswith("P"):
        img = base.convert("RGB").quantize(32)
        if mode == "P-transparent":
            img.info["transparency"] = 3
    else:
        img = base.convert(mode)
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    banded = imaging_stream.reduce_png(buf.getvalue(), 250)
    whole = Image.open(io.BytesIO(buf.getvalue()))
    whole.load()
    if whole.mode == "P":
        whole = whole.convert("RGBA" if "transparency" in whole.info else "RGB")
    expected = whole.reduce(4)
    assert banded is not None and banded.mode == expected.mode
    assert np.array_equal(np.asarray(banded), np.asarray(expected))


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_a_truncated_huge_png_is_refused_as_damaged(tmp_path: Path, cut: float) -> None:
    path = tmp_path / "huge.png"
    big_png(path, 3000, 3000)
    data = path.read_bytes()
    with pytest.raises(imaging.ImageError, match="incomplete or damaged"):
        imaging.prepare_reference(data[: int(len(data) * cut)], max_bytes=len(data),
                                  max_pixels=MAX_PIXELS, max_side=1000)


def test_interlaced_and_small_pngs_take_the_whole_decode() -> None:
    header = struct.pack(">IIBBBBB", 900, 900, 8, 2, 0, 0, 1)  # Adam7 (Pillow writes none)
    interlaced = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"x")
    assert imaging_stream.reduce_png(interlaced, 400) is None
    small = io.BytesIO()
    Image.new("RGB", (700, 700)).save(small, "PNG")
    assert imaging_stream.reduce_png(small.getvalue(), 400) is None  # under 2 × max_side


def test_no_more_than_two_images_decode_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each decode waits for a third to join it: with the cap, none ever does."""
    active = peak = 0
    lock = threading.Lock()
    meet = threading.Barrier(3)
    real_open = imaging.Image.open

    def watched_open(*args: object, **kwargs: object) -> Image.Image:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        try:
            meet.wait(timeout=0.5)
        except threading.BrokenBarrierError:
            pass
        with lock:
            active -= 1
        return real_open(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(imaging.Image, "open", watched_open)
    buf = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buf, "PNG")
    threads = [threading.Thread(target=imaging.decode_image, args=(buf.getvalue(),),
                                kwargs={"max_bytes": 10**6, "max_pixels": 10**6})
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert peak == 2
