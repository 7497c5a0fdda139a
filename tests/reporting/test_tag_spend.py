"""Spend by tag over the November history (tests/reporting/test_analytics.py's docstring):
hand-computed sums with an image in two tags, untagged as its own row, a member's own only,
the filters, and the report's ``--by tag`` (both backends)."""

from __future__ import annotations

import argparse
import io
import json
from dataclasses import replace
from decimal import Decimal

import pandas as pd
import pytest

from lib.db.database import Database
from lib.gallery import tags
from lib.reporting import report
from lib.reporting.tags import spend_by_tag
from tests.builders import ADMIN, ALICE, NOV, T0


@pytest.fixture
def tagged(db: Database) -> Database:
    """j1-0 fox+red (0.04), j2-0 fox (0.04), j2-1 red (0.04), j2-2 none (0.04), j6-0 fox
    (unpriced), j6-1 none (unpriced), j7-0 fox (0.05); j8-0 fox is October's."""
    for image, on in (("j1-0", ["fox", "Red"]), ("j2-0", ["fox"]), ("j2-1", ["red"]),
                      ("j6-0", ["fox"]), ("j7-0", ["fox"]), ("j8-0", ["fox"])):
        tags.set_tags(db, ADMIN, image, on, T0)
    return db


def rows(df: pd.DataFrame) -> list[tuple[object, int, Decimal, int]]:
    return [(None if pd.isna(r.tag) else r.tag, int(r.images),
             Decimal(str(r.spend_usd)).quantize(Decimal("0.0001")), int(r.unpriced_images))
            for r in df.itertuples()]


def test_spend_by_tag_counts_an_image_in_each_of_its_tags(tagged: Database) -> None:
    assert rows(spend_by_tag(tagged, ADMIN, NOV)) == [
        ("fox", 4, Decimal("0.1300"), 1), ("red", 2, Decimal("0.0800"), 0),
        (None, 2, Decimal("0.0400"), 1)]


def test_a_member_sees_the_tags_of_their_own_images_only(tagged: Database) -> None:
    tags.set_tags(tagged, ADMIN, "j6-1", ["carols secret"], T0)
    assert rows(spend_by_tag(tagged, ALICE, NOV)) == [
        ("fox", 3, Decimal("0.1300"), 0), ("red", 2, Decimal("0.0800"), 0),
        (None, 1, Decimal("0.0400"), 0)]


def test_the_filters_narrow_it(tagged: Database) -> None:
    assert rows(spend_by_tag(tagged, ADMIN, replace(NOV, providers=("stability",)))) == [
        ("fox", 1, Decimal("0"), 1), (None, 1, Decimal("0"), 1)]
    assert rows(spend_by_tag(tagged, ADMIN, replace(NOV, statuses=("failed",)))) == []


def test_the_report_by_tag_is_the_same_rows(tagged: Database) -> None:
    tags.set_tags(tagged, ADMIN, "j2-2", ["=cmd()"], T0)
    args = argparse.Namespace(start=NOV.start, end=NOV.end, by="tag", fmt="json", out=None,
                              users=[], providers=[], models=[], statuses=[],
                              include_demo=True)
    out = io.StringIO()
    report.write(report.table(tagged, args, ADMIN), args, out)
    doc = json.loads(out.getvalue())
    assert doc["by"] == "tag" and [r["tag"] for r in doc["rows"]] == ["fox", "red", "=cmd()",
                                                                      None]
    assert sum(r["spend_usd"] for r in doc["rows"]) == pytest.approx(0.13 + 0.08 + 0.04 + 0)
    csv = io.StringIO()
    report.write(report.table(tagged, args, ADMIN), replace_ns(args, fmt="csv"), csv)
    assert "'=cmd()" in csv.getvalue()  # a formula-looking tag is defused in a spreadsheet


def replace_ns(ns: argparse.Namespace, **kw: object) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(ns), **kw})
