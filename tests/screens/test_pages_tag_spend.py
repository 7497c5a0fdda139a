"""The Analytics page's "Spend by tag" under AppTest: hand-computed sums with an image in two
tags and untagged as its own row; a member sees their own images' tags only."""

from __future__ import annotations

from typing import Any

import pytest

from lib import ui
from lib.gallery import tags
from lib.ui import tag_spend
from tests.builders import ADMIN, T0
from tests.builders import analytics_history as _history
from tests.helpers import analytics_page as _page

pytestmark = pytest.mark.usefixtures("page_engine")  # tests/conftest.py


def _tagged() -> None:
    """ann's a1-0 ($0.04) fox; bob's b1-0 ($0.04) fox and boat, b1-1 ($0.04) a private
    "boat"; b1-2 ($0.04) and carol's c1-0 ($1.00) untagged."""
    _history()
    db = ui.engine().db
    for image, on in (("a1-0", ["fox"]), ("b1-0", ["Boat", "fox"]), ("b1-1", ["boat"])):
        tags.set_tags(db, ADMIN, image, on, T0)


def _table(at: Any) -> list[tuple[str, int, str]]:
    [df] = [d.value for d in at.dataframe if "unpriced_images" in d.value.columns]
    return [(r.tag, int(r.images), r.spend_usd) for r in df.itertuples()]


def test_an_admin_sees_spend_by_tag_with_an_image_in_both_of_its_tags() -> None:
    _tagged()
    at = _page("root", "admin")
    assert _table(at) == [(tag_spend.UNTAGGED, 2, "$1.04"), ("boat", 2, "$0.08"),
                          ("fox", 2, "$0.08")]
    assert any("An image with two tags counts in both rows" in c.value for c in at.caption)


def test_a_member_sees_only_the_tags_of_their_own_images() -> None:
    _tagged()
    at = _page("ann", "member")
    assert _table(at) == [("fox", 1, "$0.04")]
