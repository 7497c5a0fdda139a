"""Exports of a comparison: one labelled PNG of the grid, and a CSV with a line per cell.

The PNG is built from the cells' stored thumbnails (never the originals), with the column
settings as headings along the top and the prompts down the left; a cell without an image
says why (its error, "not shared", "queued" ...), and a row's winner is framed. Only what
the viewer may see goes in: the caller passes :func:`lib.compare.store.cell_states` for
that viewer, which has already withheld private images.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

from lib import jobs
from lib.compare.grid import expand
from lib.compare.store import CellState, Comparison
from lib.core import csvsafe
from lib.core.fmt import amount, money
from lib.storage.base import StorageError

if TYPE_CHECKING:
    from lib.core.context import Services

log = logging.getLogger(__name__)

CELL = 256  # px: each cell's image box
LABEL_W = 240  # px: the prompt column
HEAD_H = 64  # px: the column headings
CAPTION_H = 36  # px: cost and duration under each image
PAD = 8
BG, INK, MUTED, WIN = (255, 255, 255), (20, 20, 20), (110, 110, 110), (214, 160, 0)
CSV_FIELDS = ("row", "column", "prompt", "column_settings", "provider", "model", "quality",
              "size", "seed", "status", "job_id", "image_id", "cost_usd", "duration_s",
              "error", "note", "avg_rating", "ratings", "winner")


FONT = Path(__file__).parent / "fonts" / "DejaVuSans.ttf"  # has ★ and ·; see fonts/README.md


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(str(FONT), size=size)
    except OSError:  # the file is part of the repo; should it be missing, still export
        log.warning("%s could not be loaded: the PNG uses Pillow's font (no ★)", FONT)
        return ImageFont.load_default(size=size)


def _draws(char: str, size: int = 13) -> bool:
    """Does the caption font have a glyph for ``char`` (not the box of a missing one)?"""
    def ink(text: str) -> bytes:
        im = Image.new("L", (size * 3, size * 3))
        ImageDraw.Draw(im).text((size, size), text, font=_font(size), fill=255)
        return im.tobytes()

    return ink(char) != ink("\ue000")  # a private-use character: the missing-glyph box


def _text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, width_chars: int,
          lines: int, size: int = 14, fill: tuple[int, int, int] = INK) -> None:
    wrapped = textwrap.wrap(text, width_chars)[:lines] or [""]
    draw.multiline_text(xy, "\n".join(wrapped), font=_font(size), fill=fill, spacing=3)


def _status_text(state: CellState) -> str:
    if state.image_hidden:
        return "Image not shared with you."
    if state.status in jobs.ACTIVE:
        return f"{state.status.title()}…"
    return state.error or state.note or state.status


def _cell_image(engine: Services, state: CellState) -> Image.Image | None:
    if not state.thumb_key:
        return None
    try:
        with Image.open(io.BytesIO(engine.storage.get(state.thumb_key))) as opened:
            im = opened.convert("RGB")
            im.thumbnail((CELL, CELL))
            return im
    except (StorageError, OSError):
        log.warning("thumbnail %s could not be read for an export", state.thumb_key)
        return None


def grid_png(engine: Services, comp: Comparison, states: list[CellState],
             winners: dict[int, int]) -> bytes:
    """The grid as one PNG, with axes as headings."""
    rows, cols = len(comp.grid.rows), len(comp.grid.columns)
    row_h = CELL + CAPTION_H + PAD
    width = LABEL_W + cols * (CELL + PAD) + PAD
    height = HEAD_H + rows * row_h + PAD
    canvas = Image.new("RGB", (width, height), BG)
    draw = ImageDraw.Draw(canvas)
    _text(draw, (PAD, PAD), comp.title, 28, 3, size=16)
    for c, column in enumerate(comp.grid.columns):
        _text(draw, (LABEL_W + c * (CELL + PAD), PAD), column.label, 30, 3)
    for r, prompt in enumerate(comp.grid.rows):
        _text(draw, (PAD, HEAD_H + r * row_h), prompt, 28, 14)
    for state in states:
        x = LABEL_W + state.col * (CELL + PAD)
        y = HEAD_H + state.row * row_h
        image = _cell_image(engine, state)
        if image is None:
            draw.rectangle((x, y, x + CELL - 1, y + CELL - 1), fill=(240, 240, 240))
            _text(draw, (x + PAD, y + PAD), _status_text(state), 30, 12, size=13, fill=MUTED)
        else:
            canvas.paste(image, (x + (CELL - image.width) // 2, y + (CELL - image.height) // 2))
        if winners.get(state.row) == state.col:
            draw.rectangle((x - 3, y - 3, x + CELL + 2, y + CELL + 2), outline=WIN, width=4)
        _text(draw, (x, y + CELL + 4), _caption(state, winners.get(state.row) == state.col),
              34, 2, size=13, fill=MUTED)
    out = io.BytesIO()
    canvas.save(out, "PNG", compress_level=3)  # big grids: speed over the last few %
    return out.getvalue()


def _caption(state: CellState, winner: bool) -> str:
    parts = []
    if state.cost_usd is not None:
        parts.append(money(state.cost_usd))
    if state.duration_ms is not None:
        parts.append(f"{state.duration_ms / 1000:.1f} s")
    if state.avg_rating is not None:
        out_of = "★" if _draws("★") else "/5"  # Pillow's own font draws ★ as a box
        parts.append(f"{state.avg_rating:.1f}{out_of} ({state.ratings})")
    if winner:
        parts.append("WINNER")
    return " · ".join(parts)


def grid_csv(comp: Comparison, states: list[CellState], winners: dict[int, int]) -> str:
    """One line per cell with its axes, result, cost, duration, error and ratings."""
    specs = {(c.row, c.col): c.spec for c in expand(comp.grid, comp.id)}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for s in states:
        spec = specs.get((s.row, s.col))
        column = comp.grid.columns[s.col]
        size = (f"{spec.width}x{spec.height}" if spec and spec.width else
                (spec.aspect_ratio if spec else column.size)) or ""
        writer.writerow({k: csvsafe.cell(v) for k, v in {
            "row": s.row + 1, "column": s.col + 1, "prompt": comp.grid.rows[s.row],
            "column_settings": column.label,
            "provider": spec.provider if spec else (column.provider or ""),
            "model": (spec.model if spec else column.model) or "",
            "quality": (spec.quality if spec else column.quality) or "", "size": size,
            "seed": "" if s.seed is None else s.seed, "status": s.status,
            "job_id": s.job_id or "", "image_id": s.image_id or "",
            "cost_usd": amount(s.cost_usd),
            "duration_s": "" if s.duration_ms is None else f"{s.duration_ms / 1000:.3f}",
            "error": s.error or "", "note": s.note or "",
            "avg_rating": "" if s.avg_rating is None else f"{s.avg_rating:.2f}",
            "ratings": s.ratings, "winner": "yes" if winners.get(s.row) == s.col else "",
        }.items()})  # prompts, notes and errors must not run as spreadsheet formulas
    return out.getvalue()
