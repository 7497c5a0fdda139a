"""One money format and one way to count things, for every page, file and the CLI."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lib.core import fmt


@pytest.mark.parametrize(("value", "shown"), [
    (None, "cost unknown"),
    (0, "$0.00"),
    (Decimal("0E-8"), "$0.00"),
    (2.5, "$2.50"),
    (Decimal("86.954"), "$86.95"),
    (Decimal("1234.5"), "$1,234.50"),
    (Decimal("0.3460"), "$0.346"),
    (Decimal("0.04"), "$0.04"),
    (Decimal("0.5"), "$0.50"),
    (Decimal("0.0408"), "$0.0408"),
    (Decimal("0.00155"), "$0.0016"),
    (Decimal("0.00004"), "<$0.0001"),
    (Decimal("-0.04"), "-$0.04"),
    (0.1 + 0.2, "$0.30"),
])
def test_money_has_one_format(value: object, shown: str) -> None:
    assert fmt.money(value) == shown


@pytest.mark.parametrize(("value", "written"), [
    (None, ""), (Decimal("0E-8"), "0"), (Decimal("0.04000000"), "0.04"), (Decimal("2.5"), "2.5"),
    (Decimal("1E+2"), "100"),
])
def test_amounts_for_tools_are_plain_decimals(value: object, written: str) -> None:
    assert fmt.amount(value) == written


def test_counts_are_singular_or_plural() -> None:
    assert fmt.plural(1, "image") == "1 image"
    assert fmt.plural(2, "image") == "2 images"
    assert fmt.plural(1200, "job") == "1,200 jobs"
    assert fmt.plural(3, "variation") == "3 variations"


@pytest.mark.parametrize(("units", "shown"), [
    ({"images": 1.0}, "1 image"), ({"images": 2}, "2 images"),
    ({"output_image_tokens": 1290}, "1,290 output image tokens"),
    ({"credits": 3.5}, "3.5 credits"), ({}, "—"), (None, "—"),
])
def test_usage_reads_as_words_not_json(units: dict[str, object] | None, shown: str) -> None:
    assert fmt.usage(units) == shown


def test_missing_settings_show_a_dash_not_none() -> None:
    assert [fmt.shown(v) for v in (None, "None", "", 42, "high")] == ["—", "—", "—", "42",
                                                                       "high"]


@pytest.mark.parametrize(("cost", "status", "shown"), [
    (None, "failed", "$0.00 (not charged)"), (None, "cancelled", "$0.00 (not charged)"),
    (None, "succeeded", "cost unknown"), (None, "queued", "cost pending"),
    (Decimal("0.039"), "failed", "$0.039"), (Decimal("0.04"), "succeeded", "$0.04"),
    (Decimal(0), "failed", "$0.00 (not charged)"), (Decimal(0), "cancelled",
                                                     "$0.00 (not charged)"),
    (Decimal(0), "succeeded", "$0.00"),
])
def test_a_job_without_a_charge_says_why(cost: Decimal | None, status: str, shown: str) -> None:
    assert fmt.job_cost(cost, status) == shown
