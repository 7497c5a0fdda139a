"""Decoding and validating untrusted images, watermarks, thumbnails and PNG metadata.

Every image that enters Promptboard (an upload, a provider's output, a watermark logo) goes
through `decode_image`, which refuses anything doubtful with one exception whose message is
written for the person who sent the file:

    ValueError
    └── ImageError   empty, too many bytes, not an image (text, HTML, SVG, PDF), unsupported
                     format, too many pixels (read from the header, before decoding),
                     incomplete or damaged; also bad watermark settings or PNG metadata

Nothing here changes Pillow's global state (MAX_IMAGE_PIXELS, LOAD_TRUNCATED_IMAGES, warning
filters), so every function is safe to call from several worker threads at once.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from lib.imaging.pngmeta import ImageError, embed_png_metadata, megabytes, read_png_metadata
from lib.imaging.sniff import DAMAGED as _DAMAGED
from lib.imaging.sniff import unidentified as _unidentified
from lib.imaging.stream import DECODE_SLOTS, reduce_png

__all__ = ["ImageError", "embed_png_metadata", "read_png_metadata"]  # re-exported

logger = logging.getLogger(__name__)

# Register every decoder now, once: Image.open would otherwise initialise plugins lazily, from
# whichever worker thread gets there first.
Image.init()

ALLOWED_FORMATS: frozenset[str] = frozenset({"PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"})
_OPEN_ORDER = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")  # most common first
_MIME_FORMATS = {f"image/{f.lower()}": f for f in ALLOWED_FORMATS} | {"image/jpg": "JPEG"}
_LOGO_MAX_BYTES, _LOGO_MAX_PIXELS = 2 * 1024 * 1024, 4096 * 4096
_TO_RGB = {"1": "RGB", "L": "RGB", "LA": "RGBA", "La": "RGBA", "PA": "RGBA", "RGBa": "RGBA"}


@dataclass(frozen=True)
class DecodedImage:
    """A validated image: loaded, upright, 8-bit RGB or RGBA, with notes on what we changed."""

    image: Image.Image
    format: str
    width: int
    height: int
    notes: tuple[str, ...] = ()


def _fit_box(size: tuple[int, int], max_w: int, max_h: int) -> tuple[int, int]:
    """The size scaled (up or down) to fit max_w × max_h, aspect kept."""
    k = min(max_w / size[0], max_h / size[1])
    return max(1, round(size[0] * k)), max(1, round(size[1] * k))


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """The size scaled down (never up) so its long side is at most max_side."""
    return size if max(size) <= max_side else _fit_box(size, max_side, max_side)


def decode_image(data: bytes, *, max_bytes: int, max_pixels: int) -> DecodedImage:
    """Validate untrusted image bytes and decode them, or raise ImageError saying why not."""
    return _decode(data, max_bytes=max_bytes, max_pixels=max_pixels, max_side=None)


def prepare_reference(
    data: bytes, *, max_bytes: int, max_pixels: int, max_side: int = 2048
) -> tuple[bytes, DecodedImage]:
    """Validate an uploaded reference image, shrink it to max_side, return (PNG, decoded)."""
    decoded = _decode(data, max_bytes=max_bytes, max_pixels=max_pixels, max_side=max_side)
    return encode_png(decoded.image), decoded


def display_preview(data: bytes, *, max_pixels: int, max_side: int = 2048,
                    max_bytes: int = 2 * 1024 * 1024) -> bytes:
    """WebP of a stored image for a screen: long side at most max_side (halved until the file
    is at most max_bytes, for noise-like images), decoded at a bounded peak."""
    image = _decode(data, max_bytes=len(data), max_pixels=max_pixels, max_side=max_side).image
    while len(webp := make_thumbnail(image, max_side, quality=85)) > max_bytes and max_side > 256:
        max_side //= 2
    return webp


def _decode(data: bytes, *, max_bytes: int, max_pixels: int, max_side: int | None) -> DecodedImage:
    """decode_image, optionally downscaling on the way (a JPEG decodes at a smaller scale)."""
    if not data:
        raise ImageError("The file is empty (0 bytes). Upload it again; the transfer may have "
                         "been interrupted.")
    if len(data) > max_bytes:
        raise ImageError(f"The image is {megabytes(len(data))}, over the "
                         f"{megabytes(max_bytes)} limit. "
                         "Use a smaller file, for example a JPEG export or a resized copy.")
    try:
        with DECODE_SLOTS, Image.open(io.BytesIO(data), formats=_OPEN_ORDER) as im:
            return _decode_opened(im, max_pixels, max_side, data)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise _unidentified(data) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError) as exc:
        raise ImageError("The image has far too many pixels to open safely. Resize it (for "
                         "example to 4000 pixels on the long side) and try again.") from exc
    except Exception as exc:  # noqa: BLE001 - any decoder failure on untrusted bytes is "damaged"
        logger.info("refused a damaged image: %r", exc)
        raise ImageError(_DAMAGED) from exc


def _decode_opened(im: Image.Image, max_pixels: int, max_side: int | None,
                   data: bytes) -> DecodedImage:
    """The checks and conversions once Pillow has read the header (pixels not decoded yet).

    A large PNG to be shrunk is read band by band (``lib.imaging.stream``), never whole."""
    fmt = "JPEG" if im.format == "MPO" else str(im.format)
    _check_pixels(im.size, max_pixels)
    notes: list[str] = []
    if getattr(im, "is_animated", False):  # reads frame headers only, not pixels
        kind = "page of a multi-page" if fmt == "TIFF" else "frame of an animated"
        notes.append(f"used the first {kind} {fmt}")
        im.seek(0)
    original = im.size
    if max_side and fmt == "JPEG" and max(original) > max_side:
        # Decode straight at 1/2, 1/4 or 1/8 scale (never below max_side): far less work.
        im.draft(None, _fit_box(original, max_side, max_side))
    elif max_side and fmt == "PNG" and (banded := reduce_png(data, max_side)) is not None:
        im = banded  # already shrunk by a whole factor, at a bounded peak
    im.load()
    _check_pixels(im.size, max_pixels)  # a GIF frame may grow the canvas while loading
    loaded = im.size
    try:
        ImageOps.exif_transpose(im, in_place=True)
    except Exception as exc:  # noqa: BLE001 - a bad EXIF block should not sink a good image
        logger.info("ignored unreadable EXIF orientation: %r", exc)
        notes.append("ignored its unreadable orientation data")
    if im.size != loaded:  # the orientation swapped width and height
        original = original[::-1]
    out, note = _to_rgb(im)
    notes += [note] if note else []
    if max_side and max(out.size) > max_side:
        out = out.resize(_fit(out.size, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    if max_side and out.size != original:
        notes.append(f"downscaled from {original[0]}×{original[1]} to {out.width}×{out.height}")
    if out is im:
        out = im.copy()  # detach from the file object, which is closed on return
    return DecodedImage(out, fmt, out.width, out.height, tuple(notes))


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    """Refuse an image whose size is over the pixel budget."""
    w, h = size
    if w * h > max_pixels:
        raise ImageError(f"The image is {w}×{h} pixels ({w * h / 1e6:.1f} megapixels), over the "
                         f"{max_pixels / 1e6:g} megapixel limit. Resize it and try again.")


def _to_rgb(im: Image.Image) -> tuple[Image.Image, str | None]:
    """The image as 8-bit RGB or RGBA, and a note when the conversion lost something."""
    mode = im.mode
    if mode in ("RGB", "RGBA"):
        return im, None
    if mode == "P":
        alpha = "transparency" in im.info or (im.palette is not None and im.palette.mode == "RGBA")
        return im.convert("RGBA" if alpha else "RGB"), None
    if mode in _TO_RGB:
        return im.convert(_TO_RGB[mode]), None
    if mode == "CMYK":
        return im.convert("RGB"), "converted from CMYK"
    if mode.startswith(("I", "F")):  # 16-bit (I;16*), 32-bit integer (I) or float (F) grey
        wide = im.convert(mode[0])
        high = wide.getextrema()[1]
        assert isinstance(high, (int, float))
        if high > 255:
            wide = wide.point(lambda v: v / 256)  # 0..65535 to 0..255: scale, don't clip
        elif mode == "F" and high <= 1:
            wide = wide.point(lambda v: v * 255)
        bits = "16-bit" if mode.startswith("I;16") else "32-bit"
        return wide.convert("L").convert("RGB"), f"converted from {bits} grey to 8-bit"
    try:
        return im.convert("RGB"), f"converted from {mode}"
    except ValueError:
        raise ImageError(f"The image uses the {mode} colour mode, which we can't convert. Save "
                         "it as an ordinary RGB PNG or JPEG and try again.") from None


# --- watermarks -------------------------------------------------------------------------------

POSITIONS = ("top-left", "top-right", "bottom-left", "bottom-right", "center")


@dataclass(frozen=True)
class WatermarkSpec:
    """What to stamp on generated images: text and/or a logo, where, how opaque, how wide."""

    text: str | None = None
    logo: bytes | None = None
    position: str = "bottom-right"
    opacity: float = 0.5
    scale: float = 0.2

    def __post_init__(self) -> None:
        """Refuse settings that can't make a sensible watermark."""
        if self.text is not None and not isinstance(self.text, str):
            raise ImageError("Watermark text must be text.")
        text = self.text.strip() if self.text else None
        object.__setattr__(self, "text", text or None)
        if not text and not self.logo:
            raise ImageError("A watermark needs text, a logo, or both.")
        if text and len(text) > 200:
            raise ImageError(f"Watermark text is {len(text)} characters; keep it to 200 or fewer.")
        if self.position not in POSITIONS:
            raise ImageError(f"Watermark position {self.position!r} is not one of: "
                             f"{', '.join(POSITIONS)}.")
        if not _is_number(self.opacity) or not 0 <= self.opacity <= 1:
            raise ImageError("Watermark opacity must be between 0 and 1 (0.5 is half see-"
                             f"through), not {self.opacity!r}.")
        if not _is_number(self.scale) or not 0 < self.scale <= 1:
            raise ImageError("Watermark scale is its width as a fraction of the image width, so "
                             f"it must be above 0 and at most 1, not {self.scale!r}.")
        if self.logo is not None:
            if not isinstance(self.logo, bytes):
                raise ImageError("The watermark logo must be image bytes.")
            try:
                _logo_image(self.logo)
            except ImageError as exc:
                raise ImageError(f"The watermark logo was refused: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (the logo as base64) to store on a job row."""
        logo = base64.b64encode(self.logo).decode("ascii") if self.logo else None
        return {"text": self.text, "logo": logo, "position": self.position,
                "opacity": float(self.opacity), "scale": float(self.scale)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WatermarkSpec:
        """The spec stored by to_dict; raises ImageError if it is not valid any more."""
        logo = d.get("logo")
        if logo is not None:
            try:
                logo = base64.b64decode(logo, validate=True)
            except (binascii.Error, TypeError, ValueError):
                raise ImageError("The stored watermark logo is not valid base64; upload the "
                                 "logo again.") from None
        return cls(text=d.get("text"), logo=logo, position=d.get("position", "bottom-right"),
                   opacity=d.get("opacity", 0.5), scale=d.get("scale", 0.2))


def _is_number(x: object) -> bool:
    """A real int or float (not a bool, not a string)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


@functools.lru_cache(maxsize=16)
def _logo_image(logo: bytes) -> Image.Image:
    """The decoded logo as RGBA; cached, so it is only ever read (resizing makes a copy)."""
    img = decode_image(logo, max_bytes=_LOGO_MAX_BYTES, max_pixels=_LOGO_MAX_PIXELS).image
    return img.convert("RGBA")


@functools.cache
def _font_path() -> str | None:
    """A bold TrueType font with wide glyph coverage, if the system has one (looked up once)."""
    for name in ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf", "Arial Bold.ttf",
                 "arialbd.ttf", "DejaVuSans.ttf"):
        try:
            return str(ImageFont.truetype(name, 12).path)
        except OSError:
            continue
    return None


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A font `size` pixels high: a system TrueType font, else the one bundled with Pillow."""
    path = _font_path()
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)


def _text_layer(text: str, max_w: int, max_h: int) -> Image.Image:
    """White text with a dark outline on a transparent layer, about max_w wide."""
    draw = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=_font(100), stroke_width=6)
    size = max(1, int(min(100 * max_w / max(1, x1 - x0), 100 * max_h / max(1, y1 - y0))))
    font, stroke = _font(size), max(1, round(size / 16))
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
    # Pillow types the box as floats; at (0, 0) it is whole pixels, and ceil keeps it whole.
    layer = Image.new("RGBA", (max(1, math.ceil(x1 - x0)), max(1, math.ceil(y1 - y0))),
                      (0, 0, 0, 0))
    ImageDraw.Draw(layer).text((-x0, -y0), text, font=font, fill=(255, 255, 255, 255),
                               stroke_width=stroke, stroke_fill=(0, 0, 0, 200))
    return layer


def _watermark_layer(size: tuple[int, int], spec: WatermarkSpec, margin: int) -> Image.Image:
    """The whole watermark (logo above text) as one RGBA layer, opacity applied."""
    avail_w, avail_h = max(1, size[0] - 2 * margin), max(1, size[1] - 2 * margin)
    target_w = max(1, min(avail_w, round(size[0] * spec.scale)))
    gap = max(1, margin // 2) if spec.text and spec.logo else 0
    parts: list[Image.Image] = []
    if spec.logo:
        logo = _logo_image(spec.logo)
        share = 0.6 if spec.text else 1.0
        box = _fit_box(logo.size, target_w, max(1, int((avail_h - gap) * share)))
        parts.append(logo.resize(box, Image.Resampling.LANCZOS, reducing_gap=3.0))
    if spec.text:
        share = 0.4 if spec.logo else 1.0
        parts.append(_text_layer(spec.text, target_w, max(1, int((avail_h - gap) * share))))
    layer_w = min(avail_w, max(p.width for p in parts))
    layer_h = min(avail_h, sum(p.height for p in parts) + gap * (len(parts) - 1))
    layer = Image.new("RGBA", (layer_w, layer_h), (0, 0, 0, 0))
    side, y = spec.position.rpartition("-")[2], 0
    for part in parts:  # aligned to the side the watermark sits on
        x = {"left": 0, "right": layer_w - part.width}.get(side, (layer_w - part.width) // 2)
        layer.alpha_composite(part.crop((0, 0, min(part.width, layer_w), part.height)),
                              (max(0, x), min(y, layer_h - 1)))
        y += part.height + gap
    if spec.opacity < 1:
        layer.putalpha(layer.getchannel("A").point([round(a * spec.opacity) for a in range(256)]))
    return layer


def apply_watermark(img: Image.Image, spec: WatermarkSpec) -> Image.Image:
    """A new image, same size and mode (RGB or RGBA), with the watermark composited on it."""
    if img.mode not in ("RGB", "RGBA"):
        raise ValueError(f"apply_watermark needs an RGB or RGBA image, not {img.mode}; "
                         "decode it with decode_image first")
    out = img.copy()
    if spec.opacity <= 0:
        return out
    margin = max(1, round(min(img.size) * 0.025))
    layer = _watermark_layer(img.size, spec, margin)
    w, h = layer.size
    vertical, _, horizontal = spec.position.partition("-")
    x = {"left": margin, "right": img.width - margin - w}.get(horizontal, (img.width - w) // 2)
    y = {"top": margin, "bottom": img.height - margin - h}.get(vertical, (img.height - h) // 2)
    if out.mode == "RGBA":
        out.alpha_composite(layer, (max(0, x), max(0, y)))  # touches the covered region only
    else:
        out.paste(layer, (max(0, x), max(0, y)), mask=layer)  # "over" an opaque image
    return out


# --- thumbnails and PNG files -----------------------------------------------------------------


def make_thumbnail(img: Image.Image, max_side: int = 384, quality: int = 80) -> bytes:
    """WebP bytes of the image with its long side at most max_side (never upscaled)."""
    if img.mode not in ("RGB", "RGBA"):
        img = img.convert("RGBA" if "A" in img.mode or "transparency" in img.info else "RGB")
    size = _fit(img.size, max_side)
    if size != img.size:  # a box pre-shrink then Lanczos: half the time, no visible difference
        img = img.resize(size, Image.Resampling.LANCZOS, reducing_gap=1.0)
    buf = io.BytesIO()
    img.save(buf, "WEBP", quality=quality, method=2)  # method 4 is ~2x slower for ~5% smaller
    return buf.getvalue()


def encode_png(img: Image.Image, metadata: Mapping[str, str] | None = None,
               compress_level: int = 3) -> bytes:
    """PNG bytes of the image, with metadata as tEXt/zTXt (latin-1) or iTXt (other) chunks."""
    if not 0 <= compress_level <= 9:
        raise ValueError(f"compress_level must be 0-9, not {compress_level}")
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=compress_level)
    return embed_png_metadata(buf.getvalue(), metadata) if metadata else buf.getvalue()


def to_png_original(
    data: bytes, mime_type: str, metadata: Mapping[str, str], *, compress_level: int = 3,
    max_bytes: int, max_pixels: int,
) -> tuple[bytes, DecodedImage]:
    """Validate a provider's image and return it as PNG with metadata (a PNG is not re-encoded)."""
    decoded = decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    claimed = _MIME_FORMATS.get(mime_type.split(";")[0].strip().lower())
    if claimed and claimed != decoded.format:
        note = f"the provider said {mime_type} but sent {decoded.format}"
        decoded = replace(decoded, notes=(*decoded.notes, note))
    if decoded.format == "PNG":
        return embed_png_metadata(data, metadata), decoded
    return encode_png(decoded.image, metadata, compress_level), decoded
