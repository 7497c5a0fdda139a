"""History's thumbnails, and the Compare winner's frame and Enlarge, as a browser draws them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser import harness as h

THUMBS = "[class*='st-key-hthumbs-'] [data-testid=stImage] img"
WINNER = "[class*='st-key-cmp_winner_']"
MATRIX = ".st-key-cmp_matrix"

# Each thumbnail's drawn size and its image's own, so a squashed one is seen.
_SIZES_JS = """els => els.map(e => ({w: e.getBoundingClientRect().width,
    h: e.getBoundingClientRect().height, nw: e.naturalWidth, nh: e.naturalHeight}))"""


@pytest.mark.browser
def test_history_thumbnails_keep_their_shape_and_the_compare_winner_is_framed(
        browsing: h.Browsing, shared_server: h.AppServer, admin_state: Any) -> None:
    # History: the seeded two-image job shows both images, drawn at their own aspect ratio.
    page = browsing.open_signed_in(shared_server, admin_state, "history", "History")
    h.wait_settled(page)
    thumbs = page.locator(THUMBS)
    expect(thumbs.first).to_be_visible()
    assert thumbs.count() >= 2
    page.wait_for_function(f"""() => [...document.querySelectorAll("{THUMBS}")]
        .every(i => i.complete && i.naturalWidth > 0)""")
    for size in thumbs.evaluate_all(_SIZES_JS):
        assert size["h"] > 0 and abs(size["w"] / size["h"] - size["nw"] / size["nh"]) < 0.05, size
    expect(page.get_by_placeholder("Search prompts…")).to_have_value("")
    h.screenshot(page, "history-thumbnails-desktop")

    # Compare: a 1×2 grid; "Pick as winner" frames that cell, and only that one.
    h.navigate(page, "Compare", "Compare")
    page.get_by_label("Title", exact=True).fill("Winner frame")
    page.get_by_label(re.compile(r"^Prompts \(one per line")).fill("a lighthouse at dusk")
    page.get_by_label("Seeds", exact=True).fill("5, 6")
    page.get_by_label("Seeds", exact=True).press("Enter")
    h.wait_settled(page)
    page.get_by_role("button", name="Run comparison", exact=True).click()
    main = page.get_by_test_id("stMain")
    expect(main.get_by_text("2 of 2 cells done", exact=True)).to_be_visible(
        timeout=h.JOB_TIMEOUT * 2)
    h.wait_settled(page)
    expect(page.locator(WINNER)).to_have_count(0)
    main.get_by_role("button", name="Enlarge", exact=True).first.click()  # large, in a dialog
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_test_id("stImage")).to_be_visible()
    expect(dialog.get_by_text("seed 5 · a lighthouse at dusk", exact=True)).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    main.get_by_role("button", name="Pick as winner", exact=True).nth(1).click()
    h.wait_settled(page)
    frame = page.locator(WINNER)
    expect(frame).to_have_count(1)
    expect(frame).to_have_css("border-top-color", "rgb(214, 160, 0)")
    expect(frame).to_have_css("box-shadow", re.compile(r"rgb\(214, 160, 0\).*inset"))
    expect(frame.get_by_text("seed 6", exact=False).first).to_be_visible()  # the second cell
    expect(frame.get_by_role("button", name="Clear winner", exact=True)).to_be_visible()
    h.screenshot(page, "compare-winner-desktop")

    # On a phone the matrix keeps its rows and columns and scrolls sideways.
    page.set_viewport_size(h.PHONE)
    h.wait_settled(page)
    page.wait_for_timeout(600)  # the sidebar slides shut (a CSS transition) before the shot
    layout = page.locator(MATRIX).evaluate("""m => {
        const cols = [...m.querySelectorAll('[data-testid=stColumn]')];
        const box = e => e.getBoundingClientRect();
        return {scroll: m.scrollWidth, client: m.clientWidth,
                headTop: box(cols[1]).top, promptLeft: box(cols[0]).left,
                cellLeft: box(cols[1]).left, rows: new Set(cols.map(c => box(c).top)).size};
    }""")
    assert layout["scroll"] > layout["client"], layout  # it scrolls sideways
    assert layout["cellLeft"] > layout["promptLeft"], layout  # beside the prompt, not below
    assert layout["rows"] == 2, layout  # the heading row and one grid row, nothing stacked
    box = h.overflow(page)
    assert box["docScrollWidth"] <= box["innerWidth"] + 1, box  # only the matrix scrolls
    h.screenshot(page, "compare-winner-phone")
