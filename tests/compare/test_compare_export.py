"""Comparison exports: one labelled PNG of the grid, and a CSV with a line per cell."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from PIL import Image

from lib.compare import export, store
from lib.compare import grid as cmp
from lib.core import config
from lib.engine import Engine
from lib.gallery import queries as gallery
from tests.helpers import TickingClock, run_next

ANN = gallery.Viewer("ann", "member")


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine(config.load(), clock=TickingClock())
    yield eng
    eng.close()


@pytest.fixture
def finished(engine: Engine) -> store.Comparison:
    grid = cmp.Grid(rows=("a red fox", "a blue boat [[fail:safety]]"),
                    columns=cmp.columns_from_axes([cmp.Axis("quality", ("draft", "high")),
                                                   cmp.Axis("size", ("512x512",))]), seed=9)
    cid = store.start(engine, ANN, grid, "Fox and boat")
    while run_next(engine) is not None:
        pass
    store.set_winner(engine, ANN, cid, 0, 1)
    comp = store.get(engine, ANN, cid)
    assert comp is not None
    return comp


def test_the_png_has_the_grid_with_headings_and_a_box_per_cell(
        engine: Engine, finished: store.Comparison) -> None:
    states = store.cell_states(engine, ANN, finished)
    png = export.grid_png(engine, finished, states, store.winners(engine, finished.id))
    im = Image.open(io.BytesIO(png))
    assert im.format == "PNG"
    assert im.size == (export.LABEL_W + 2 * (export.CELL + export.PAD) + export.PAD,
                       export.HEAD_H + 2 * (export.CELL + export.CAPTION_H + export.PAD)
                       + export.PAD)
    rgb = im.convert("RGB")
    ok_x = export.LABEL_W + export.CELL // 2
    ok_y = export.HEAD_H + export.CELL // 2
    failed_y = ok_y + export.CELL + export.CAPTION_H + export.PAD
    assert rgb.getpixel((ok_x, ok_y)) != (240, 240, 240)  # a drawn image
    assert rgb.getpixel((export.LABEL_W + 2, failed_y)) == (240, 240, 240)  # the failed box
    winner_x = export.LABEL_W + export.CELL + export.PAD - 2
    assert rgb.getpixel((winner_x, ok_y)) == export.WIN  # the winner's frame
    heading = rgb.crop((export.LABEL_W, 0, rgb.width, export.HEAD_H))
    assert heading.getextrema() != ((255, 255), (255, 255), (255, 255))  # headings drawn


def test_the_csv_has_a_line_per_cell_with_axes_results_and_the_winner(
        engine: Engine, finished: store.Comparison) -> None:
    states = store.cell_states(engine, ANN, finished)
    text = export.grid_csv(finished, states, store.winners(engine, finished.id))
    lines = list(csv.DictReader(io.StringIO(text)))
    assert [(r["row"], r["column"]) for r in lines] == [("1", "1"), ("1", "2"), ("2", "1"),
                                                        ("2", "2")]
    first, second = lines[0], lines[1]
    assert first["prompt"] == "a red fox" and first["quality"] == "draft"
    assert first["size"] == "512x512" and first["seed"] == "9" and first["status"] == "succeeded"
    assert first["image_id"] and first["cost_usd"] == "0" and first["duration_s"]
    assert second["winner"] == "yes" and first["winner"] == ""
    assert lines[2]["status"] == "failed" and "safety filter" in lines[2]["error"]


def test_csv_cells_that_look_like_formulas_are_defused(engine: Engine) -> None:
    grid = cmp.Grid(rows=('=HYPERLINK("http://x","y")', "@SUM(A1)"),
                    columns=cmp.columns_from_axes([cmp.Axis("size", ("512x512",))]), seed=9)
    cid = store.start(engine, ANN, grid, "formulas")
    comp = store.get(engine, ANN, cid)
    assert comp is not None
    states = store.cell_states(engine, ANN, comp)
    lines = list(csv.DictReader(io.StringIO(export.grid_csv(comp, states, {}))))
    assert [r["prompt"] for r in lines] == ['\'=HYPERLINK("http://x","y")', "'@SUM(A1)"]


def test_the_png_font_draws_a_star_and_captions_use_the_money_format() -> None:
    from decimal import Decimal

    from lib.compare import export as ex
    from lib.compare.store import CellState

    font = ex._font(13)
    assert getattr(font, "path", None) == str(ex.FONT)  # the shipped DejaVu Sans
    star, missing = font.getmask("★"), font.getmask("\ue000")  # a private-use char: no glyph
    assert bytes(star) != bytes(missing)  # a real star, not the "□" of a missing glyph
    state = CellState(row=0, col=0, job_id="j", status="succeeded", note=None, error=None,
                      cost_usd=Decimal("0E-8"), duration_ms=1500, seed=1, image_id="i",
                      thumb_key="t", image_hidden=False, my_rating=None, avg_rating=4.5,
                      ratings=2)
    assert ex._caption(state, True) == "$0.00 · 1.5 s · 4.5★ (2) · WINNER"


def test_without_the_shipped_font_ratings_read_out_of_five_never_a_missing_star(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from decimal import Decimal
    from pathlib import Path

    from lib.compare import export as ex
    from lib.compare.store import CellState

    # not a font name Pillow would find among the system fonts instead
    monkeypatch.setattr(ex, "FONT", Path("/nonexistent/no-such-font.ttf"))
    ex._font.cache_clear()
    try:
        state = CellState(row=0, col=0, job_id="j", status="succeeded", note=None, error=None,
                          cost_usd=Decimal(0), duration_ms=1500, seed=1, image_id="i",
                          thumb_key="t", image_hidden=False, my_rating=None, avg_rating=5.0,
                          ratings=1)
        assert ex._caption(state, False) == "$0.00 · 1.5 s · 5.0/5 (1)"  # Pillow's font: no ★
    finally:
        ex._font.cache_clear()
