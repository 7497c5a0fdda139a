"""lib.imaging.images: untrusted images are refused clearly, watermarks land where asked, PNGs keep
their pixels and carry metadata. Every fixture is drawn in memory with Pillow."""

from __future__ import annotations

import base64
import io
import json
import math
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFile, ImageStat

from lib.imaging import images as imaging
from lib.imaging.images import (
    POSITIONS,
    DecodedImage,
    ImageError,
    WatermarkSpec,
    apply_watermark,
    decode_image,
    embed_png_metadata,
    encode_png,
    make_thumbnail,
    prepare_reference,
    read_png_metadata,
    to_png_original,
)

LIMITS = {"max_bytes": 25 * 1024 * 1024, "max_pixels": 60_000_000}


def scene(w: int = 160, h: int = 120, mode: str = "RGB") -> Image.Image:
    """A smooth gradient with two shapes, like a generated picture."""
    im = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    draw = ImageDraw.Draw(im)
    draw.ellipse((w // 8, h // 8, w // 2, h // 2), fill=(200, 40, 40))
    draw.rectangle((w // 2, h // 2, w - w // 8, h - h // 8), fill=(30, 180, 60))
    return im.convert(mode)


def encode(im: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def png_chunks(png: bytes) -> list[tuple[bytes, bytes, int]]:
    """(type, data, stored crc) of every chunk, walked independently of lib.imaging.images."""
    out, pos = [], 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos:pos + 4])
        ctype, data = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + length]
        out.append((ctype, data, struct.unpack(">I", png[pos + 8 + length:pos + 12 + length])[0]))
        pos += 12 + length
    return out


LOGO = encode(Image.new("RGB", (64, 64), (255, 0, 0)))


def bomb_png(w: int, h: int) -> bytes:
    """A real 1-bit w×h PNG of zeros: tiny on disk, huge once decoded."""
    comp, row = zlib.compressobj(9), b"\x00" * (1 + (w + 7) // 8)
    idat = b"".join(comp.compress(row) for _ in range(h)) + comp.flush()

    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))

    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# --- refusals ---------------------------------------------------------------------------------


def _pdf() -> bytes:
    return encode(scene(), "PDF")


def _ico() -> bytes:
    return encode(scene(32, 32), "ICO")


def _corrupt_idat() -> bytes:
    data = bytearray(encode(scene()))
    start = data.index(b"IDAT") + 40
    data[start:start + 32] = b"\xff" * 32
    return bytes(data)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: b"", "empty"),
        (lambda: b"just some notes, saved as cat.png\n", "text, not an image"),
        (lambda: b"<!DOCTYPE html><html><body>404</body></html>", "web page"),
        (lambda: b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg">'
                 b"<script>alert(1)</script></svg>", "SVG is not supported, export it as PNG"),
        (lambda: b"<svg><rect/></svg>", "SVG is not supported"),
        (_pdf, "PDF files are not supported"),
        (_ico, "ICO files are not supported"),
        (lambda: bytes(range(256)) * 4, "not an image we recognise"),
        (lambda: encode(scene())[:len(encode(scene())) // 2], "incomplete or damaged"),
        (lambda: encode(scene(), "JPEG")[:600], "incomplete or damaged"),
        (lambda: encode(scene())[:30], "incomplete or damaged"),
        (_corrupt_idat, "incomplete or damaged"),
    ],
    ids=["empty", "text", "html", "svg-script", "bare-svg", "pdf", "ico", "binary-noise",
         "truncated-png", "truncated-jpeg", "png-header-only", "corrupt-idat"],
)
def test_bad_bytes_are_refused_with_a_clear_message(make, expected: str) -> None:
    with pytest.raises(ImageError, match=expected):
        decode_image(make(), **LIMITS)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_too_many_bytes_is_refused_before_decoding_and_says_mb() -> None:
    with pytest.raises(ImageError, match=r"over the 0\.1 MB limit"):
        decode_image(b"\x89PNG" + b"\x00" * 200_000, max_bytes=100_000, max_pixels=10**9)


def test_too_many_pixels_is_refused_from_the_header_before_decoding(monkeypatch) -> None:
    loads = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda im: loads.append(1) or real_load(im))
    data = bomb_png(8000, 8000)  # 64 MP of 1-bit zeros: about 8 KB of PNG
    with pytest.raises(ImageError, match=r"8000×8000 pixels .* over the 10 megapixel limit"):
        decode_image(data, max_bytes=10**6, max_pixels=10_000_000)
    assert loads == []  # refused from the header: nothing decoded, so no time spent on it
    assert len(data) < 100_000


def test_decompression_bomb_beyond_pillows_own_limit_is_refused_before_decoding(
        monkeypatch) -> None:
    loads = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda im: loads.append(1) or real_load(im))
    limit_before = Image.MAX_IMAGE_PIXELS
    data = bomb_png(20000, 20000)  # 400 MP: Pillow itself calls it a bomb
    with pytest.raises(ImageError, match="pixels"):
        decode_image(data, max_bytes=10**6, max_pixels=10**12)
    assert loads == []
    assert limit_before == Image.MAX_IMAGE_PIXELS


@pytest.mark.parametrize("exc", [OSError("x"), SyntaxError("x"), ValueError("x"),
                                 struct.error("x"), ZeroDivisionError(), IndexError()])
def test_any_decoder_exception_becomes_an_image_error(monkeypatch, exc: Exception) -> None:
    def broken_open(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr(imaging.Image, "open", broken_open)
    with pytest.raises(ImageError, match="incomplete or damaged"):
        decode_image(encode(scene()), **LIMITS)


# --- conversions ------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "params"), [("PNG", {}), ("JPEG", {"quality": 90}),
                                             ("WEBP", {"lossless": True}), ("GIF", {}),
                                             ("BMP", {}), ("TIFF", {})])
def test_allowed_formats_decode_to_rgb_with_their_real_format(fmt: str, params: dict) -> None:
    decoded = decode_image(encode(scene(), fmt, **params), **LIMITS)
    assert (decoded.format, decoded.image.mode, decoded.width, decoded.height) == (
        fmt, "RGB", 160, 120)
    assert decoded.format in imaging.ALLOWED_FORMATS
    assert decoded.notes == ()


@pytest.mark.parametrize(("fmt", "note"), [("GIF", "first frame of an animated GIF"),
                                           ("WEBP", "first frame of an animated WEBP"),
                                           ("PNG", "first frame of an animated PNG"),
                                           ("TIFF", "first page of a multi-page TIFF")])
def test_animated_image_uses_the_first_frame_with_a_note(fmt: str, note: str) -> None:
    frames = [Image.new("RGB", (40, 30), c) for c in ((250, 0, 0), (0, 250, 0), (0, 0, 250))]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100,
                  **({"lossless": True} if fmt == "WEBP" else {}))
    decoded = decode_image(data, **LIMITS)
    r, g, b = decoded.image.getpixel((20, 15))[:3]
    assert r > 200 and g < 40 and b < 40
    assert note in " ".join(decoded.notes)


def test_cmyk_jpeg_becomes_rgb_with_a_note() -> None:
    decoded = decode_image(encode(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG"), **LIMITS)
    assert decoded.image.mode == "RGB"
    r, g, b = decoded.image.getpixel((16, 16))
    assert r > 220 and g < 40 and b < 40
    assert "converted from CMYK" in decoded.notes


@pytest.mark.parametrize(("value", "expected"), [(0, 0), (32768, 128), (65535, 255), (4096, 16)])
def test_16bit_png_is_scaled_to_8bit_not_clipped(value: int, expected: int) -> None:
    data = encode(Image.new("I;16", (8, 8), value))
    decoded = decode_image(data, **LIMITS)
    assert decoded.image.mode == "RGB"
    assert abs(decoded.image.getpixel((3, 3))[0] - expected) <= 1
    assert any("16-bit" in note for note in decoded.notes)


def test_palette_png_with_transparency_becomes_rgba() -> None:
    im = Image.new("P", (10, 10), 0)
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.paste(1, (0, 0, 5, 10))
    decoded = decode_image(encode(im, transparency=1), **LIMITS)
    assert decoded.image.mode == "RGBA"
    assert decoded.image.getpixel((2, 2))[3] == 0
    assert decoded.image.getpixel((7, 7)) == (255, 0, 0, 255)


@pytest.mark.parametrize(("mode", "expected"), [("1", "RGB"), ("L", "RGB"), ("LA", "RGBA"),
                                                ("P", "RGB"), ("RGBA", "RGBA")])
def test_other_modes_become_rgb_or_rgba(mode: str, expected: str) -> None:
    assert decode_image(encode(scene(mode=mode)), **LIMITS).image.mode == expected


def test_exif_orientation_6_is_applied_and_dimensions_follow() -> None:
    im = Image.new("RGB", (300, 200), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 150, 200))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    decoded = decode_image(encode(im, "JPEG", exif=exif.tobytes(), quality=95), **LIMITS)
    assert (decoded.width, decoded.height) == (200, 300) == decoded.image.size
    assert decoded.image.getpixel((100, 50))[0] > 200  # the red left half is now on top
    assert decoded.image.getpixel((100, 250))[2] > 200


def test_decode_is_safe_from_many_threads() -> None:
    good, bad = encode(scene(), "JPEG"), encode(scene())[:300]

    def run(i: int) -> str:
        try:
            return decode_image(good if i % 2 else bad, **LIMITS).format
        except ImageError:
            return "refused"

    def stamp(i: int) -> bytes:
        spec = WatermarkSpec(text=f"n{i % 2}", logo=LOGO, position=POSITIONS[i % 5])
        return apply_watermark(scene(), spec).tobytes()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(run, range(64)))
        stamps = list(pool.map(stamp, range(40)))
    assert results == ["refused", "JPEG"] * 32
    assert stamps == [stamp(i) for i in range(10)] * 4


# --- reference images -------------------------------------------------------------------------


def test_prepare_reference_accepts_a_40_megapixel_photo_and_downscales_it() -> None:
    photo = Image.new("RGB", (7728, 5152), (90, 120, 160))
    ImageDraw.Draw(photo).rectangle((1000, 1000, 4000, 3000), fill=(240, 200, 40))
    data = encode(photo, "JPEG", quality=80)
    del photo
    png, decoded = prepare_reference(data, **LIMITS)
    assert (decoded.width, decoded.height) == (2048, 1365)
    assert Image.open(io.BytesIO(png)).size == (2048, 1365)
    assert png.startswith(b"\x89PNG")
    assert any("downscaled from 7728×5152" in note for note in decoded.notes)
    r, g, b = decoded.image.getpixel((int(2500 * 2048 / 7728), int(2000 * 2048 / 7728)))
    assert r > 200 and b < 90


def test_prepare_reference_keeps_small_images_as_they_are() -> None:
    png, decoded = prepare_reference(encode(scene(), "WEBP", lossless=True), **LIMITS)
    assert decoded.image.size == (160, 120) and decoded.notes == ()
    assert Image.open(io.BytesIO(png)).tobytes() == scene().tobytes()


# --- watermarks -------------------------------------------------------------------------------

def changed_box(before: Image.Image, after: Image.Image) -> tuple[int, int, int, int] | None:
    return ImageChops.difference(before.convert("RGB"), after.convert("RGB")).getbbox()


@pytest.mark.parametrize("position", POSITIONS)
def test_watermark_lands_in_the_requested_region(position: str) -> None:
    base = Image.new("RGB", (400, 300), (128, 128, 128))
    out = apply_watermark(base, WatermarkSpec(text="Promptboard", position=position,
                                              opacity=1.0, scale=0.3))
    box = changed_box(base, out)
    assert box is not None
    x0, y0, x1, y1 = box
    assert 0.7 * 120 <= x1 - x0 <= 1.05 * 120  # about scale × width
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if position == "center":
        assert abs(cx - 200) < 20 and abs(cy - 150) < 20
    else:
        vertical, horizontal = position.split("-")
        assert (cx > 200) == (horizontal == "right") and (cy > 150) == (vertical == "bottom")
        assert min(x0, y0, 400 - x1, 300 - y1) >= 3  # kept a margin from the edges
        assert min(x0, 400 - x1) <= 15 and min(y0, 300 - y1) <= 15  # but hugs its corner


def test_watermark_opacity_zero_changes_nothing_and_more_opacity_changes_more() -> None:
    base = scene(400, 300)
    assert changed_box(base, apply_watermark(base, WatermarkSpec(text="x y z", opacity=0))) is None

    def change(opacity: float) -> float:
        diff = ImageChops.difference(base, apply_watermark(base, WatermarkSpec(
            text="Promptboard", opacity=opacity)))
        return sum(ImageStat.Stat(diff).sum)

    assert 0 < change(0.2) < change(0.5) < change(0.9)


def test_watermark_returns_a_new_image_of_the_same_size_and_mode() -> None:
    for mode in ("RGB", "RGBA"):
        base = scene(200, 100, mode)
        before = base.tobytes()
        out = apply_watermark(base, WatermarkSpec(text="hello"))
        assert out is not base and out.size == base.size and out.mode == mode
        assert base.tobytes() == before
    with pytest.raises(ValueError, match="RGB or RGBA"):
        apply_watermark(Image.new("L", (50, 50)), WatermarkSpec(text="x"))


def test_watermark_with_logo_and_text_puts_the_logo_above_the_text() -> None:
    base = Image.new("RGB", (400, 300), (128, 128, 128))
    spec = WatermarkSpec(text="Team", logo=LOGO, position="top-left", opacity=1.0, scale=0.25)
    out = apply_watermark(base, spec)
    box = changed_box(base, out)
    text_only = changed_box(base, apply_watermark(base, WatermarkSpec(
        text="Team", position="top-left", opacity=1.0, scale=0.25)))
    assert box is not None and text_only is not None
    assert box[3] - box[1] > text_only[3] - text_only[1]
    assert out.getpixel((box[0] + 5, box[1] + 5)) == (255, 0, 0)  # the logo is at the top
    assert out.getpixel((box[0] + 5, box[3] - 1)) != (255, 0, 0)


@pytest.mark.parametrize("size", [(1, 1), (16, 16), (3, 200), (200, 3)])
@pytest.mark.parametrize("position", POSITIONS)
def test_watermark_never_crashes_on_tiny_images(size, position: str) -> None:
    base = Image.new("RGBA", size, (10, 20, 30, 255))
    spec = WatermarkSpec(text="Promptboard 🐱 שלום", logo=LOGO, position=position, scale=1.0)
    out = apply_watermark(base, spec)
    assert out.size == size and out.mode == "RGBA"


def test_watermark_on_a_large_image_stays_in_its_corner() -> None:
    base = Image.new("RGB", (4000, 2400), (128, 128, 128))
    box = changed_box(base, apply_watermark(base, WatermarkSpec(text="Promptboard", opacity=1)))
    assert box is not None  # margin is 2.5% of the short side: 60 px
    assert box[0] > 3000 and box[1] > 2000 and box[2] <= 4000 - 50 and box[3] <= 2400 - 50


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, "needs text, a logo, or both"),
        ({"text": 5}, "must be text"),
        ({"text": "   "}, "needs text, a logo, or both"),
        ({"text": "x" * 201}, "201 characters"),
        ({"text": "x", "position": "middle"}, "not one of"),
        ({"text": "x", "opacity": 1.5}, "opacity"),
        ({"text": "x", "opacity": -0.1}, "opacity"),
        ({"text": "x", "opacity": math.nan}, "opacity"),
        ({"text": "x", "opacity": "0.5"}, "opacity"),
        ({"text": "x", "scale": 0}, "scale"),
        ({"text": "x", "scale": 1.2}, "scale"),
        ({"logo": b"not an image"}, "watermark logo was refused: This file contains text"),
        ({"logo": encode(scene(), "PDF")}, "watermark logo was refused: PDF"),
    ],
)
def test_watermark_spec_refuses_bad_settings(kwargs: dict, expected: str) -> None:
    with pytest.raises(ImageError, match=expected):
        WatermarkSpec(**kwargs)


def test_watermark_spec_round_trips_through_json() -> None:
    spec = WatermarkSpec(text="© Team", logo=LOGO, position="top-left", opacity=0.3, scale=0.1)
    stored = json.loads(json.dumps(spec.to_dict()))
    assert stored["logo"] == base64.b64encode(LOGO).decode()
    assert WatermarkSpec.from_dict(stored) == spec
    text_only = WatermarkSpec(text="hi")
    assert WatermarkSpec.from_dict(json.loads(json.dumps(text_only.to_dict()))) == text_only
    with pytest.raises(ImageError, match="not valid base64"):
        WatermarkSpec.from_dict({**stored, "logo": "***"})


# --- thumbnails -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [((1024, 768), (384, 288)), ((100, 50), (100, 50)), ((300, 1000), (115, 384)),
     ((384, 384), (384, 384))],
)
def test_thumbnail_is_webp_with_long_side_384_at_most(size, expected) -> None:
    thumb = Image.open(io.BytesIO(make_thumbnail(scene(*size))))
    assert (thumb.format, thumb.size) == ("WEBP", expected)


def test_thumbnail_keeps_transparency() -> None:
    im = Image.new("RGBA", (800, 400), (255, 0, 0, 0))
    thumb = Image.open(io.BytesIO(make_thumbnail(im)))
    assert thumb.mode == "RGBA" and thumb.getpixel((10, 10))[3] == 0


# --- PNG metadata -----------------------------------------------------------------------------

META = {
    "prompt": "a cat in a hat 🐱🎩",
    "rtl": "שלום עולם — مرحبا بالعالم",
    "latin": "café crème",
    "params": json.dumps({"seed": 42, "steps": 30, "note": "x" * 5000}),
    "long_unicode": "猫" * 3000,
}


def test_encode_png_round_trips_metadata_and_pixels() -> None:
    im = scene(64, 48, "RGBA")
    png = encode_png(im, META)
    back = Image.open(io.BytesIO(png))
    assert back.tobytes() == im.tobytes()
    assert dict(back.text) == META
    assert read_png_metadata(png) == META
    types = {data.split(b"\x00", 1)[0].decode(): ctype for ctype, data, _ in png_chunks(png)
             if ctype in (b"tEXt", b"zTXt", b"iTXt")}
    assert types == {"prompt": b"iTXt", "rtl": b"iTXt", "latin": b"tEXt", "params": b"zTXt",
                     "long_unicode": b"iTXt"}


def test_embed_png_metadata_inserts_valid_chunks_without_touching_pixels() -> None:
    original = encode(scene(), compress_level=6)
    png = embed_png_metadata(original, META)
    assert png.endswith(original[33:])  # everything after IHDR is byte-for-byte the same
    assert all(zlib.crc32(ctype + data) == crc for ctype, data, crc in png_chunks(png))
    back = Image.open(io.BytesIO(png))
    back.verify()  # Pillow checks every chunk's CRC
    back = Image.open(io.BytesIO(png))
    assert back.tobytes() == Image.open(io.BytesIO(original)).tobytes()
    assert dict(back.text) == META == read_png_metadata(png)


def test_embed_png_metadata_replaces_existing_keys() -> None:
    png = embed_png_metadata(embed_png_metadata(encode(scene()), {"a": "old", "b": "keep"}),
                             {"a": "new 🆕"})
    assert read_png_metadata(png) == {"a": "new 🆕", "b": "keep"} == dict(Image.open(
        io.BytesIO(png)).text)
    assert sum(1 for c, d, _ in png_chunks(png) if d.startswith(b"a\x00")) == 1


@pytest.mark.parametrize("data", [b"", b"hello", encode(scene(), "JPEG"), encode(scene())[:60]],
                         ids=["empty", "text", "jpeg", "truncated"])
def test_png_metadata_functions_refuse_non_png_bytes(data: bytes) -> None:
    with pytest.raises(ImageError):
        embed_png_metadata(data, {"a": "b"})
    with pytest.raises(ImageError):
        read_png_metadata(data)


@pytest.mark.parametrize("key", ["", "k" * 80, "ключ", "a\x00b"])
def test_png_metadata_keys_must_be_short_latin1(key: str) -> None:
    with pytest.raises(ImageError, match="1-79 latin-1"):
        embed_png_metadata(encode(scene()), {key: "v"})


# --- provider output --------------------------------------------------------------------------


def test_to_png_original_keeps_png_pixels_and_bytes() -> None:
    data = encode(scene(), compress_level=9)
    png, decoded = to_png_original(data, "image/png", META, **LIMITS)
    assert png.endswith(data[33:])
    assert Image.open(io.BytesIO(png)).tobytes() == Image.open(io.BytesIO(data)).tobytes()
    assert read_png_metadata(png) == META
    assert isinstance(decoded, DecodedImage) and decoded.format == "PNG"


@pytest.mark.parametrize(("fmt", "mime"), [("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
def test_to_png_original_converts_other_formats(fmt: str, mime: str) -> None:
    png, decoded = to_png_original(encode(scene(), fmt), mime, {"prompt": "🐱"}, **LIMITS)
    back = Image.open(io.BytesIO(png))
    assert back.format == "PNG" and decoded.format == fmt
    assert back.tobytes() == decoded.image.tobytes()
    assert read_png_metadata(png) == {"prompt": "🐱"}


def test_to_png_original_notes_a_wrong_mime_type() -> None:
    _, decoded = to_png_original(encode(scene(), "JPEG"), "image/png", {}, **LIMITS)
    assert decoded.format == "JPEG"
    assert "the provider said image/png but sent JPEG" in decoded.notes


@pytest.mark.parametrize("data", [encode(scene())[:500], b'{"error": "quota"}', b""],
                         ids=["truncated", "json", "empty"])
def test_to_png_original_refuses_broken_provider_output(data: bytes) -> None:
    with pytest.raises(ImageError):
        to_png_original(data, "image/png", {"a": "b"}, **LIMITS)
