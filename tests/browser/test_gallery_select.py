"""Gallery select mode in a real browser: the count follows the ticks and Clear unticks."""

from __future__ import annotations

import os
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser import harness as h

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.access(h.CHROMIUM, os.X_OK), reason=h.CHROMIUM_MISSING),
]


def test_ticks_are_counted_at_once_and_clear_unticks_every_box(
        browsing: h.Browsing, shared_server: h.AppServer, admin_state: Any) -> None:
    page = browsing.open_signed_in(shared_server, admin_state, "gallery", "Gallery")
    # The shared server's images are its demo history (hidden by default): shown here, so
    # the test does not depend on images other tests made.
    page.get_by_text("Filters", exact=True).click()
    page.get_by_text("Include demo data", exact=True).click()
    h.wait_settled(page)
    page.get_by_test_id("stMain").get_by_text("Select", exact=True).first.click()
    boxes = page.get_by_role("checkbox", name="Select", exact=True)  # a toggle is a switch
    labels = page.locator("[data-testid=stCheckbox]:has(input:not([role=switch]))")
    expect(boxes.first).to_be_visible()
    selected = page.get_by_text("selected", exact=False).filter(has_text=" selected")
    for n in (1, 2, 3):
        labels.nth(n - 1).click()  # the label, as a person clicks it
        expect(boxes.nth(n - 1)).to_be_checked()
        expect(selected).to_have_text(f"{n} selected")  # not one behind
        h.wait_settled(page)
    page.get_by_role("button", name="Clear", exact=True).click()
    expect(selected).to_have_count(0)
    h.wait_settled(page)
    for i in range(3):
        expect(boxes.nth(i)).not_to_be_checked()
    labels.nth(3).click()  # the next interaction: only the new tick counts
    expect(selected).to_have_text("1 selected")
