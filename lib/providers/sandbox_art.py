"""The sandbox's drawings: deterministic, good-looking placeholder art in pure Pillow.

``render`` draws one image from prompt, seed, size, style and quality (and blends a
reference image when given). The same arguments always give the same pixels.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import unicodedata
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageFilter, ImageFont

REFERENCE_WEIGHT = 0.55  # share of the reference image in a blended result
SOFT_SIDE = 256  # long side of the small canvas the soft background is drawn on
STYLES = ("realistic", "artistic", "cartoon", "abstract", "photographic")
Color = tuple[int, int, int]
PALETTES: dict[str, tuple[str, ...]] = {  # five "rrggbb" colours each, dark to light or not
    "realistic": ("0b132b 1c2541 3a506b f4a261 ffd6a5", "1d3557 457b9d a8dadc f1faee e9c46a",
                  "081c15 1b4332 40916c 95d5b2 fefae0", "2b1d14 7f5539 b08968 ddb892 fbe9d0"),
    "photographic": ("0d0d14 22223b 4a4e69 c9ada7 f2e9e4", "050a14 0f2a3d 1f6f8b 99c1de fff1d6",
                     "120b08 3d1f10 a4581b f2a65a ffe8c2"),
    "artistic": ("264653 2a9d8f e9c46a f4a261 e76f51", "5f0f40 9a031e fb8b24 e36414 0f4c5c",
                 "355070 6d597a b56576 e56b6f eaac8b"),
    "cartoon": ("ffbe0b fb5607 ff006e 8338ec 3a86ff", "70d6ff ff70a6 ff9770 ffd670 e9ff70",
                "06d6a0 118ab2 ffd166 ef476f fcfcfc"),
    "abstract": ("f72585 7209b7 3a0ca3 4361ee 4cc9f0", "10002b 3c096c 7b2cbf c77dff e0aaff",
                 "03045e 0077b6 00b4d8 90e0ef caf0f8"),
}


def digest(*parts: object) -> bytes:
    """A stable hash of the parts."""
    return hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode()).digest()


def render(prompt: str, negative_prompt: str | None, seed: int, width: int, height: int,
           style: str | None = None, quality: str | None = None,
           reference: Image.Image | None = None) -> Image.Image:
    """Draw one placeholder image; the same arguments always give the same pixels."""
    rng = random.Random(digest(prompt, negative_prompt, seed, width, height, style, quality))
    kind = style if style in STYLES else rng.choice(STYLES)
    pal = [_rgb(c) for c in rng.choice(PALETTES[kind]).split()]
    density = {"draft": 0.6, "high": 1.5}.get(quality or "", 1.0)
    img = _backdrop(rng, pal, kind, width, height, density)
    _PAINTERS[kind](img, rng, pal, density)
    if reference is not None:
        img = Image.blend(img, reference, REFERENCE_WEIGHT)
    _caption(img, prompt, seed)
    return img


def _backdrop(rng: random.Random, pal: list[Color], kind: str, w: int, h: int,
              density: float) -> Image.Image:
    """A mesh gradient with soft blobs and a vignette, drawn small (cheap) and scaled up."""
    scale = min(1.0, SOFT_SIDE / max(w, h))
    size = max(8, round(w * scale)), max(8, round(h * scale))
    cols, rows = (4, 3) if w > h else (3, 4) if h > w else (3, 3)
    light = sorted(pal, key=lambda c: 0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2])
    grid = Image.new("RGB", (cols, rows))
    for r in range(rows):
        for c in range(cols):
            if kind == "realistic":  # a sky, dark at the top and light at the horizon
                color = light[min(4, round(r / (rows - 1) * 3 + rng.random()))]
            elif kind == "photographic":  # a dark room
                color = light[rng.choice((0, 0, 1, 1, 2))]
            elif kind == "cartoon":  # bright and pale
                color = _mix(light[-1], pal[(r + c) % 2], 0.55)
            else:
                color = rng.choice(pal)
            grid.putpixel((c, r), _jitter(rng, color, 14))
    small = grid.resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(small, "RGBA")
    for _ in range({"cartoon": 3, "photographic": 4, "realistic": 2}.get(kind, 7)):
        x, y = rng.uniform(-0.1, 1.1) * size[0], rng.uniform(-0.1, 1.1) * size[1]
        rx, ry = rng.uniform(0.15, 0.45) * size[0], rng.uniform(0.15, 0.45) * size[1]
        draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=(*rng.choice(pal), rng.randint(40, 90)))
    if kind == "photographic":  # far-away lights, the most out of focus
        for _ in range(round(14 * density)):
            x, y, rad = rng.uniform(0, size[0]), rng.uniform(0, size[1]), rng.uniform(5, 20)
            draw.ellipse((x - rad, y - rad, x + rad, y + rad), fill=(*light[-rng.randint(1, 3)],
                                                             rng.randint(60, 140)))
    small = small.filter(ImageFilter.GaussianBlur(max(size) * 0.05))
    strength = {"photographic": 0.9, "cartoon": 0.0, "artistic": 0.35}.get(kind, 0.5)
    if strength:
        ramp = Image.radial_gradient("L").point(lambda v: min(255, int(max(0, v - 100) * strength)))
        small.paste((0, 0, 0), None, ramp.resize(size, Image.Resampling.BILINEAR))
    return small.resize((w, h), Image.Resampling.BILINEAR)


def _stamp(img: Image.Image, shape: str, pts: list[tuple[float, float]], color: Color,
           alpha: int = 255, *, width: int = 0, soften: float = 0.0) -> None:
    """Blend one anti-aliased or soft shape onto ``img``, working inside its bounding box.

    A crisp shape's mask is drawn 4x larger and reduced (anti-aliasing); a soft one's is
    drawn smaller, blurred and scaled up, far cheaper than a full-size blur.
    """
    down = 1 if soften < 4 else min(16, int(soften / 2))
    pad = width + 3 * soften + 2 * down
    x0, y0 = (max(0, int(min(p[i] for p in pts) - pad)) // down * down for i in (0, 1))
    x1 = min(img.width, int(max(p[0] for p in pts) + pad) + 1)
    y1 = min(img.height, int(max(p[1] for p in pts) + pad) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    area = (x1 - x0) * (y1 - y0)
    up = 1 if down > 1 or area > 4_000_000 else 4 if area < 300_000 else 2
    f = up / down  # mask pixels per image pixel
    mask = Image.new("L", (math.ceil((x1 - x0) * f), math.ceil((y1 - y0) * f)))
    draw = ImageDraw.Draw(mask)
    local = [((x - x0) * f, (y - y0) * f) for x, y in pts]
    line = max(1, round(width * f)) if width else 0
    if shape == "ellipse":
        box = [*local[0], *local[1]]
        draw.ellipse(box, fill=None if line else alpha, outline=alpha if line else None, width=line)
    elif shape == "polygon" and not line:
        draw.polygon(local, fill=alpha)
    elif shape == "polygon":  # closed with round joints (polygon(width=) notches corners)
        draw.line([*local, *local[:2]], fill=alpha, width=line, joint="curve")
    else:  # a stroke with round ends
        draw.line(local, fill=alpha, width=line, joint="curve")
        for x, y in (local[0], local[-1]):
            draw.ellipse((x - line / 2, y - line / 2, x + line / 2, y + line / 2), fill=alpha)
    if up > 1:
        mask = mask.reduce(up)
    if soften and soften * f > 0.3:
        mask = mask.filter(ImageFilter.GaussianBlur(soften * f))
    if down > 1 and (ink := mask.getbbox()):  # scale up only the part that has ink
        mask = mask.resize(((ink[2] - ink[0]) * down, (ink[3] - ink[1]) * down),
                           Image.Resampling.BILINEAR, box=ink)
        x0, y0 = x0 + ink[0] * down, y0 + ink[1] * down
    img.paste(color, (x0, y0, x0 + mask.width, y0 + mask.height), mask)


def _disc(x: float, y: float, r: float) -> list[tuple[float, float]]:
    """The bounding box of a circle, as two corners."""
    return [(x - r, y - r), (x + r, y + r)]


def _paint_realistic(img: Image.Image, rng: random.Random, pal: list[Color], d: float) -> None:
    """A landscape: a glowing sun over ridges that darken towards the viewer."""
    w, h = img.size
    light = sorted(pal, key=lambda c: sum(c))
    x, y, r = rng.uniform(0.2, 0.8) * w, rng.uniform(0.18, 0.4) * h, rng.uniform(0.05, 0.08) * h
    sun = _mix(light[-1], (255, 250, 235), 0.5)
    _stamp(img, "ellipse", _disc(x, y, r * 2.6), sun, 70, soften=r * 0.9)
    _stamp(img, "ellipse", _disc(x, y, r), sun, 240)
    far, near = _mix(light[2], light[-1], 0.35), _mix(light[0], (0, 0, 0), 0.45)
    layers = max(2, round(4 * d))
    for k in range(layers):
        base, amp = h * (0.5 + 0.3 * k / (layers - 1)), h * rng.uniform(0.05, 0.1)
        waves = [(rng.uniform(0.6, 1.4) * f, rng.uniform(0, 6.3), a)
                 for f, a in ((1, 0.6), (2.7, 0.3), (6.1, 0.12))]
        ridge = [(i * w / 96, base - amp * sum(a * math.sin(f * i / 15 + p) for f, p, a in waves))
                 for i in range(97)]
        low, color = int(max(y for _, y in ridge)) + 1, _mix(far, near, k / (layers - 1))
        img.paste(color, (0, low, w, h))  # a plain fill below the ridge; only the edge needs a mask
        _stamp(img, "polygon", [*ridge, (w, low + 1), (0, low + 1)], color)


def _paint_photographic(img: Image.Image, rng: random.Random, pal: list[Color], d: float) -> None:
    """Bokeh: out-of-focus lights, a few of them sharp."""
    w, h = img.size
    lights = sorted(pal, key=lambda c: sum(c))[2:]
    for _ in range(round(14 * d)):
        x, y, r = rng.uniform(0, w), rng.uniform(0, 0.9 * h), rng.uniform(0.02, 0.08) * min(w, h)
        blur, color = r * rng.choice((0.04, 0.04, 0.12, 0.25)), _jitter(rng, rng.choice(lights), 20)
        _stamp(img, "ellipse", _disc(x, y, r), color, rng.randint(50, 150), soften=blur)
        if blur < r * 0.1:
            _stamp(img, "ellipse", _disc(x, y, r), color, 180, width=max(2, round(w / 400)))


def _paint_artistic(img: Image.Image, rng: random.Random, pal: list[Color], d: float) -> None:
    """Loose brush strokes and dabs of paint."""
    w, h = img.size
    s = min(w, h)
    for _ in range(round(8 * d)):
        x, y, a0 = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0, 6.3)
        length, bend = rng.uniform(0.25, 0.6) * s, rng.uniform(-1.8, 1.8)
        pts = [(x + math.cos(a0 + bend * t) * length * t, y + math.sin(a0 + bend * t) * length * t)
               for t in (i / 16 for i in range(17))]
        _stamp(img, "line", pts, _jitter(rng, rng.choice(pal), 18), rng.randint(140, 220),
               width=round(rng.uniform(0.02, 0.06) * s))
    for _ in range(round(14 * d)):
        x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.01, 0.035) * s
        _stamp(img, "ellipse", _disc(x, y, r), rng.choice(pal), rng.randint(120, 220))


def _paint_cartoon(img: Image.Image, rng: random.Random, pal: list[Color], d: float) -> None:
    """Bold outlined circles and stars with drop shadows."""
    w, h = img.size
    ink, line = (34, 28, 48), max(2, round(min(w, h) / 140))
    for _ in range(round(9 * d)):
        x, y = rng.uniform(0.05, 0.95) * w, rng.uniform(0.05, 0.9) * h
        r, turn = rng.uniform(0.04, 0.13) * min(w, h), rng.uniform(0, 6.3)
        shape = "ellipse" if rng.random() < 0.6 else "polygon"
        pts = _disc(x, y, r) if shape == "ellipse" else [
            (x + math.cos(turn + i * math.pi / 5) * r * (1 - 0.55 * (i % 2)),
             y + math.sin(turn + i * math.pi / 5) * r * (1 - 0.55 * (i % 2))) for i in range(10)]
        _stamp(img, shape, [(px + r * 0.12, py + r * 0.15) for px, py in pts], ink, 70,
               soften=r * 0.08)
        _stamp(img, shape, pts, rng.choice(pal))
        _stamp(img, shape, pts, ink, width=line)


def _paint_abstract(img: Image.Image, rng: random.Random, pal: list[Color], d: float) -> None:
    """Translucent waves, rings and triangles."""
    w, h = img.size
    s = min(w, h)
    for _ in range(round(3 * d)):
        base, amp, thick = (rng.uniform(*r) * h for r in ((0.2, 0.9), (0.03, 0.1), (0.04, 0.12)))
        f, p = rng.uniform(1, 3), rng.uniform(0, 6.3)
        top = [(i * w / 48, base + amp * math.sin(f * i / 7.6 + p)) for i in range(49)]
        band = top + [(x, y + thick) for x, y in reversed(top)]
        _stamp(img, "polygon", band, rng.choice(pal), rng.randint(80, 140))
    for _ in range(round(2 * d)):
        x, y = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
        for k in range(rng.randint(2, 5)):
            _stamp(img, "ellipse", _disc(x, y, s * (0.06 + 0.045 * k)), rng.choice(pal),
                   rng.randint(110, 200), width=max(2, round(s * rng.uniform(0.004, 0.012))))
    for _ in range(round(4 * d)):
        x, y, turn = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0, 6.3)
        r = rng.uniform(0.06, 0.16) * s
        tri = [(x + math.cos(turn + i * 2.094) * r, y + math.sin(turn + i * 2.094) * r)
               for i in range(3)]
        _stamp(img, "polygon", tri, rng.choice(pal), rng.randint(130, 210))


_PAINTERS: dict[str, Callable[[Image.Image, random.Random, list[Color], float], None]] = {
    "realistic": _paint_realistic,
    "photographic": _paint_photographic,
    "artistic": _paint_artistic,
    "cartoon": _paint_cartoon,
    "abstract": _paint_abstract,
}


def _caption(img: Image.Image, prompt: str, seed: int) -> None:
    """A dark band at the bottom: the start of the prompt and "SANDBOX · seed N"."""
    w, h = img.size
    size = max(9, min(36, round(min(w, h) / 42)))
    font = _font(size)
    band, pad = round(size * 1.9), round(size * 0.7)
    draw = ImageDraw.Draw(img, "RGBA")
    draw.rectangle((0, h - band, w, h), fill=(0, 0, 0, 155))
    top = h - band + (band - size) // 2 - round(size * 0.1)
    tag = f"SANDBOX · seed {seed}"
    if draw.textlength(tag, font=font) > w - 2 * pad:
        tag = "SANDBOX"
    tag_w = draw.textlength(tag, font=font)
    draw.text((w - pad - tag_w, top), tag, font=font, fill=(255, 209, 102))
    room = w - 3 * pad - tag_w
    # the built-in font is ASCII only: fold accents away, show other characters as "?"
    folded = unicodedata.normalize("NFKD", " ".join(prompt.split()))
    text = "".join(c if c.isascii() else "?" for c in folded if not unicodedata.combining(c))
    text = text if len(text) <= 60 else text[:59].rstrip() + "…"
    while text and draw.textlength(text, font=font) > room:
        text = text[:-2].rstrip() + "…" if len(text) > 2 else ""
    draw.text((pad, top), text, font=font, fill=(255, 255, 255))


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at ``size``, so every machine draws the same caption."""
    return ImageFont.load_default(size)


def _rgb(hex_color: str) -> Color:
    """``"rrggbb"`` as a tuple."""
    return int(hex_color[0:2], 16), int(hex_color[2:4], 16), int(hex_color[4:6], 16)


def _mix(a: Color, b: Color, t: float) -> Color:
    """The colour ``t`` of the way from ``a`` to ``b``."""
    r, g, b_ = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return r, g, b_


def _jitter(rng: random.Random, c: Color, amount: int) -> Color:
    """``c`` nudged a little, so images that share a palette still differ."""
    r, g, b = (max(0, min(255, v + rng.randint(-amount, amount))) for v in c)
    return r, g, b
