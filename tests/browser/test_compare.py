"""The Compare journey in a real Chromium: build a 2×3 grid, run it, rate cells, open its link."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser import harness as h

PROMPTS = "a lighthouse at dusk\na lighthouse in a storm"


def _cells_done(page: Page) -> Any:
    return page.get_by_test_id("stMain").get_by_text(re.compile(r"^\d+ of 6 cells done$"))


@pytest.mark.browser
def test_build_a_2x3_grid_run_it_rate_cells_and_open_it_from_its_link(
        browsing: h.Browsing, shared_server: h.AppServer, admin_state: Any) -> None:
    page = browsing.open_signed_in(shared_server, admin_state, "compare", "Compare")

    main = page.get_by_test_id("stMain")
    page.get_by_label("Title", exact=True).fill("Lighthouse seeds")
    page.get_by_label(re.compile(r"^Prompts \(one per line")).fill(PROMPTS)
    page.get_by_label("Seeds", exact=True).fill("11, 22, 33")
    page.get_by_label("Seeds", exact=True).press("Enter")
    h.wait_settled(page)
    images = main.get_by_test_id("stMetric").filter(has_text="Images")
    expect(images).to_contain_text("6")
    expect(images).to_contain_text("2 rows × 3 columns")
    h.screenshot(page, "compare-builder-desktop")

    page.get_by_role("button", name="Run comparison", exact=True).click()
    expect(main.get_by_role("heading", name="Lighthouse seeds")).to_be_visible()
    expect(_cells_done(page)).to_have_text("6 of 6 cells done", timeout=h.JOB_TIMEOUT * 2)
    h.wait_settled(page)
    grid_images = main.get_by_test_id("stImage")
    expect(grid_images).to_have_count(6)
    for label in ("seed 11", "seed 22", "seed 33"):
        heading = main.locator("strong").filter(has_text=re.compile(rf"^{label}$"))
        expect(heading).to_be_visible()  # the column headings (cells repeat them in captions)

    stars = main.get_by_test_id("stFeedback")
    expect(stars).to_have_count(6)
    # four stars for the first cell, two for the second row's middle one
    stars.nth(0).get_by_role("radio", name="4 out of 5 stars").click()
    h.wait_settled(page)
    expect(main.get_by_text(re.compile(r"4\.0★ \(1\)"))).to_have_count(1)
    stars.nth(4).get_by_role("radio", name="2 out of 5 stars").click()
    h.wait_settled(page)
    expect(main.get_by_text(re.compile(r"2\.0★ \(1\)"))).to_have_count(1)
    h.screenshot(page, "compare-grid-desktop")
    page.set_viewport_size(h.PHONE)
    h.wait_settled(page)
    h.screenshot(page, "compare-grid-phone")
    box = h.overflow(page)
    assert box["docScrollWidth"] <= box["innerWidth"] + 1 and not box["offenders"], box
    page.set_viewport_size(h.DESKTOP)

    link = page.get_by_label("Link", exact=True).input_value()
    assert re.search(r"/compare\?id=[0-9a-f]{16}$", link), link
    other = browsing.new_page(shared_server, storage_state=admin_state)
    other.goto(link)
    expect(other.get_by_test_id("stAppViewContainer")).to_be_visible()
    h.wait_settled(other)
    expect(h.title(other)).to_have_text("Compare")
    again = other.get_by_test_id("stMain")
    expect(again.get_by_role("heading", name="Lighthouse seeds")).to_be_visible()
    expect(again.get_by_test_id("stImage")).to_have_count(6)
    expect(again.get_by_text(re.compile(r"4\.0★ \(1\)"))).to_have_count(1)
    expect(again.get_by_text("6 of 6 cells done", exact=True)).to_be_visible()
