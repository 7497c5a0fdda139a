"""Tags in a real browser: type a new tag in the image dialog, find the image by the Filters'
tag filter; desktop and phone screenshots of both."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser import harness as h

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.access(h.CHROMIUM, os.X_OK), reason=h.CHROMIUM_MISSING),
]
TYPED, KEPT = "Harbour   Night", "harbour night"


def _open_first(page: Page) -> Any:
    page.get_by_role("button", name=re.compile(r"^Open image: A lighthouse")).first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    return dialog


def test_a_tag_typed_in_the_dialog_is_kept_and_found_by_the_filter(
        browsing: h.Browsing, shared_server: h.AppServer, admin_state: Any) -> None:
    page = browsing.open_signed_in(shared_server, admin_state, "gallery", "Gallery")
    dialog = _open_first(page)
    box = dialog.locator("[class*='st-key-dlg-tags-']")
    box.locator("input").click()
    box.locator("input").fill(TYPED)
    page.keyboard.press("Enter")
    expect(box.get_by_text(KEPT, exact=True)).to_be_visible()  # kept in its one form
    dialog.get_by_text("Prompt:", exact=False).first.click()  # away: the menu closes
    h.wait_settled(page)
    h.screenshot(page, "gallery-tags-dialog-desktop")
    page.get_by_role("button", name="Close", exact=True).click()
    expect(dialog).to_be_hidden()
    h.wait_settled(page)

    page.get_by_text("Filters", exact=True).click()
    h.wait_settled(page)
    tags, option = page.locator(".st-key-gal_tags"), page.get_by_role("option", name=KEPT)
    for _ in range(3):  # a rerun landing meanwhile redraws the box and empties what was typed
        tags.locator("input").click()
        tags.locator("input").fill("harb")
        try:
            expect(option).to_be_visible(timeout=5000)
            break
        except AssertionError:
            h.wait_settled(page)
    option.click()
    page.keyboard.press("Escape")
    expect(page.get_by_text("1 image matches.", exact=True)).to_be_visible()
    h.wait_settled(page)
    h.screenshot(page, "gallery-tags-filter-desktop")

    phone = browsing.new_page(shared_server, h.PHONE, admin_state)
    h.open_app(phone, shared_server, "gallery")
    expect(h.title(phone)).to_have_text("Gallery")
    dialog = _open_first(phone)
    chip = dialog.locator("[class*='st-key-dlg-tags-']").get_by_text(KEPT, exact=True)
    for _ in range(3):  # the dialog scrolls inside itself on a phone, and a rerun (its
        chip.scroll_into_view_if_needed()  # boards list drawn) may move it again
        h.wait_settled(phone)
    chip.scroll_into_view_if_needed()
    expect(chip).to_be_in_viewport()
    h.screenshot(phone, "gallery-tags-dialog-phone")
    assert h.overflow(phone)["offenders"] == []  # nothing sticks out of a 390 px screen
