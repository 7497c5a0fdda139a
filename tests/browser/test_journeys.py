"""The dashboard in a real browser: first run to download, sign-in, every page on two widths.

Run: ``python -m pytest tests/browser -q`` (under two minutes on two cores; Chromium from Debian).
Screenshots land in ``artifacts/screenshots/``; failures in ``artifacts/browser-failures/``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from lib.auth import accounts as auth
from lib.imaging.pngmeta import read_png_metadata
from tests.browser import harness as h

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.access(h.CHROMIUM, os.X_OK), reason=h.CHROMIUM_MISSING),
]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PROMPT = "A red fox in fresh snow, morning light"


# --------------------------------------------------------------------------- journeys


@pytest.mark.browser
def test_first_run_generate_gallery_download_sign_out(fresh_server: h.AppServer,
                                                      browsing: h.Browsing) -> None:
    page = browsing.new_page(fresh_server)
    h.open_app(page, fresh_server)

    # First run: nobody exists yet, so the set-up screen creates the admin and signs them in.
    expect(h.title(page)).to_have_text("Create the first admin account")
    page.get_by_label("Username", exact=True).fill("ada")
    page.get_by_label("Your name", exact=True).fill("Ada Admin")
    page.get_by_label("E-mail (optional)", exact=True).fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill(h.ADMIN_PASSWORD)
    page.get_by_label("Confirm password", exact=True).fill(h.ADMIN_PASSWORD)
    page.get_by_role("button", name="Create admin and sign in", exact=True).click()
    expect(h.signed_in_as(page)).to_have_text("Signed in as Ada Admin · admin")

    # Generate two sandbox images.
    h.navigate(page, "Generate")
    page.get_by_label("Prompt", exact=True).fill(PROMPT)
    images = page.get_by_label("Images", exact=True)
    images.fill("2")
    images.press("Enter")  # commits the number (and the prompt, which lost focus before)
    expect(page.get_by_text(re.compile(r"^Estimate: .* for 2 images"))).to_be_visible()
    h.wait_settled(page)
    page.get_by_role("button", name="Generate", exact=True).click()

    # The job card shows progress while the job runs, then its two images.
    live = page.get_by_test_id("stMain")
    card = live.get_by_test_id("stVerticalBlock").filter(
        has=page.get_by_text(f"· {PROMPT}", exact=False)).last
    expect(card.get_by_test_id("stProgress")).to_be_visible(timeout=h.JOB_TIMEOUT)
    expect(card.get_by_text("Running", exact=True)).to_be_visible(timeout=h.JOB_TIMEOUT)
    expect(card.get_by_text("Succeeded", exact=True)).to_be_visible(timeout=h.JOB_TIMEOUT)
    expect(card.get_by_test_id("stProgress")).to_have_count(0)
    pictures = card.get_by_test_id("stImage").locator("img")
    expect(pictures).to_have_count(2)
    for i in range(2):
        expect(pictures.nth(i)).to_be_visible()
        assert pictures.nth(i).evaluate("img => img.complete && img.naturalWidth > 0"), \
            f"job image {i} did not load"
    expect(card.get_by_role("button", name=re.compile(r"^Download [12]$"))).to_have_count(2)

    # Both are in the Gallery; the detail dialog shows the prompt and downloads the original.
    h.navigate(page, "Gallery")
    expect(page.get_by_text("2 images match.", exact=True)).to_be_visible()
    opens = page.get_by_role("button", name=f"Open image: {PROMPT}", exact=True)
    expect(opens).to_have_count(2)
    pictures = opens.locator("img")
    for i in range(2):
        expect(pictures.nth(i)).to_be_visible()
        assert pictures.nth(i).evaluate("img => img.complete && img.naturalWidth > 0"), \
            f"gallery thumbnail {i} did not load"
    opens.first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text("Image", exact=True)).to_be_visible()
    expect(dialog.get_by_text(f"Prompt: {PROMPT}", exact=True)).to_be_visible()
    preview = dialog.get_by_test_id("stImage").locator("img").first
    # the preview comes from the API's route, by a link signed for this session
    expect(preview).to_have_attribute("src", re.compile(r"/api/v1/images/\w+/preview\?u="))
    # (the preview is made on its first request: wait for it to load, or fail to)
    preview.element_handle().wait_for_element_state("visible")
    page.wait_for_function("img => img.complete", arg=preview.element_handle(),
                           timeout=h.JOB_TIMEOUT)
    assert preview.evaluate("img => img.naturalWidth > 0"), "the preview did not load"
    page.screenshot(path=str(h.SCREENSHOTS / "journey-image-dialog.png"))
    with page.expect_download(timeout=h.JOB_TIMEOUT) as download_info:
        dialog.get_by_role("button", name="Download original", exact=True).click()
    download = download_info.value
    assert download.failure() is None, download.failure()
    assert download.suggested_filename.endswith(".png"), download.suggested_filename
    data = open(download.path(), "rb").read()  # noqa: SIM115 - Playwright owns the temp file
    assert data[:8] == PNG_SIGNATURE, f"not a PNG: {data[:16]!r}"
    assert len(data) > 1000, f"a PNG of {len(data)} bytes is no picture"
    assert PROMPT in " ".join(read_png_metadata(data).values()), \
        "the original PNG does not carry its prompt in its text metadata"

    # A click is one event: closed, the dialog stays closed; the other tile opens again.
    dialog.get_by_role("button", name="Close", exact=True).click()
    expect(dialog).to_be_hidden()
    h.wait_settled(page)
    expect(dialog).to_have_count(0)
    opens.last.click()
    expect(dialog.get_by_text(f"Prompt: {PROMPT}", exact=True)).to_be_visible()
    dialog.get_by_role("button", name="Close", exact=True).click()
    expect(dialog).to_be_hidden()

    # Sign out: the sign-in screen, and a reload does not sign back in.
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(h.title(page)).to_have_text("Sign in")
    expect(h.signed_in_as(page)).to_have_count(0)
    page.reload()
    h.wait_settled(page)
    expect(h.title(page)).to_have_text("Sign in")
    expect(h.signed_in_as(page)).to_have_count(0)


@pytest.mark.browser
def test_wrong_password_shows_the_generic_message_then_the_right_one_signs_in(
        shared_server: h.AppServer, browsing: h.Browsing) -> None:
    page = browsing.new_page(shared_server)
    h.open_app(page, shared_server)
    alert = page.get_by_test_id("stAlert").get_by_test_id("stMarkdownContainer")

    h.sign_in(page, h.ADMIN_USER, "not the password at all")
    expect(alert).to_have_text(auth.LOGIN_FAILED_MESSAGE)
    wrong_password = alert.inner_text()
    expect(h.title(page)).to_have_text("Sign in")
    expect(h.signed_in_as(page)).to_have_count(0)

    # An unknown user gets the very same words: nothing tells the two cases apart. (A fresh
    # load first, so the message on screen cannot be the one left from the attempt above.)
    h.open_app(page, shared_server)
    expect(alert).to_have_count(0)
    h.sign_in(page, "nobody-here", "not the password at all")
    expect(alert).to_have_text(auth.LOGIN_FAILED_MESSAGE)
    assert alert.inner_text() == wrong_password
    expect(h.signed_in_as(page)).to_have_count(0)

    h.sign_in(page, h.ADMIN_USER, h.ADMIN_PASSWORD)
    expect(h.signed_in_as(page)).to_have_text(f"Signed in as {h.ADMIN_USER} · admin")
    expect(h.title(page)).not_to_have_text("Sign in")
    expect(alert).to_have_count(0)


@pytest.mark.browser
def test_before_anyone_signs_in_a_visitor_sees_only_the_sign_in_screen(
        server_factory: Any, browsing: h.Browsing) -> None:
    """A fresh server nobody has signed in to: no page list, and deep links lead to sign-in.

    Regression: app.py used to stop at the sign-in screen before any st.navigation call, so
    with a pages/ directory Streamlit stayed in its old pages/-directory mode until the first
    sign-in in the process: a sidebar listed every file in pages/ and /admin ran
    pages/admin.py without app.py (no sign-in form, only "Please sign in first.").
    """
    server = server_factory.start("signed-out", PROMPTBOARD_ADMIN_USER=h.ADMIN_USER,
                                  PROMPTBOARD_ADMIN_PASSWORD=h.ADMIN_PASSWORD)
    page = browsing.new_page(server)
    for path in ("", "admin", "setup", "gallery", ""):
        h.open_app(page, server, path)
        expect(h.title(page)).to_have_text("Sign in")
        expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
        expect(page.get_by_text("Please sign in first.")).to_have_count(0)
    h.sign_in(page, h.ADMIN_USER, h.ADMIN_PASSWORD)
    expect(h.signed_in_as(page)).to_have_text(f"Signed in as {h.ADMIN_USER} · admin")


@pytest.mark.browser
def test_a_page_url_as_the_first_request_after_a_start_gets_the_sign_in_screen(
        server_factory: Any, browsing: h.Browsing) -> None:
    """Regression: Streamlit starts in its pages/-directory mode and left it only when app.py
    called st.navigation, so a page URL as a fresh server's first request (a bookmark, tabs
    reconnecting after a restart) ran pages/admin.py without app.py, listed every file of
    pages/ and said 'Please sign in first.' with no form, for every visitor, until someone
    loaded /."""
    server = server_factory.start("deep-link", PROMPTBOARD_ADMIN_USER=h.ADMIN_USER,
                                  PROMPTBOARD_ADMIN_PASSWORD=h.ADMIN_PASSWORD)
    page = browsing.new_page(server)
    page.goto(server.url("admin"))
    expect(page.locator(h.IDLE)).to_be_attached()
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0, timeout=3000)
    expect(h.title(page)).to_have_text("Sign in", timeout=3000)


@pytest.mark.browser
def test_a_signed_out_deep_link_shows_a_usable_sign_in_form(
        shared_server: h.AppServer, browsing: h.Browsing) -> None:
    """Regression: a signed-out visit to a page's URL (a bookmark, a shared /gallery link, an
    expired cookie) showed Streamlit's modal 'Page not found' over an inert sign-in form, and
    after signing in the visitor landed on Home instead of the page they asked for."""
    page = browsing.new_page(shared_server)
    h.open_app(page, shared_server)
    h.open_app(page, shared_server, "gallery")
    expect(h.title(page)).to_have_text("Sign in")
    expect(page.get_by_role("dialog")).to_have_count(0, timeout=3000)
    h.sign_in(page, h.ADMIN_USER, h.ADMIN_PASSWORD)
    expect(h.title(page)).to_have_text("Gallery")


# --------------------------------------------------------------------------- screenshots


@dataclass(frozen=True)
class Screen:
    slug: str
    path: str  # URL path
    title: str | re.Pattern[str]  # the h1
    nav: str | None  # its label in the signed-in admin's navigation
    server: str = "shared_server"
    signed_in: bool = True


SCREENS = [
    Screen("home", "", re.compile(r"^Hello, "), "Home"),
    Screen("generate", "generate", "Generate", "Generate"),
    Screen("history", "history", "History", "History"),
    Screen("queue", "queue", "Queue", "Queue"),
    Screen("gallery", "gallery", "Gallery", "Gallery"),
    Screen("boards", "boards", "Boards", "Boards"),
    Screen("styles", "styles", "Styles", "Styles"),
    Screen("analytics", "analytics", "Analytics", "Analytics"),
    Screen("compare", "compare", "Compare", "Compare"),
    Screen("admin", "admin", "Admin", "Admin"),
    Screen("account", "account", "Account", "Account"),
    Screen("signin", "", "Sign in", None, signed_in=False),
    Screen("setup", "", "Create the first admin account", None, server="blank_server",
           signed_in=False),
]
VIEWPORTS: dict[str, ViewportSize] = {"desktop": h.DESKTOP, "phone": h.PHONE}


def _open_screen(request: pytest.FixtureRequest, browsing: h.Browsing, screen: Screen,
                 viewport: ViewportSize) -> Page:
    server: h.AppServer = request.getfixturevalue(screen.server)
    state: Any = request.getfixturevalue("admin_state") if screen.signed_in else None
    page = browsing.new_page(server, viewport=viewport, storage_state=state)
    h.open_app(page, server, screen.path)
    return page


@pytest.mark.browser
@pytest.mark.parametrize("width", list(VIEWPORTS))
@pytest.mark.parametrize("screen", SCREENS, ids=[s.slug for s in SCREENS])
def test_screenshot_every_page(request: pytest.FixtureRequest, browsing: h.Browsing,
                               screen: Screen, width: str) -> None:
    viewport = VIEWPORTS[width]
    page = _open_screen(request, browsing, screen, viewport)

    expect(h.title(page)).to_have_text(screen.title)
    expect(h.title(page)).to_be_in_viewport()
    if screen.signed_in:
        expect(h.signed_in_as(page)).to_have_count(1)
    h.screenshot(page, f"{screen.slug}-{width}")

    if width == "phone":
        box = h.overflow(page)
        assert box["docScrollWidth"] <= box["innerWidth"] + 1, \
            f"{screen.slug} scrolls sideways on a phone: {box}"
        assert box["mainScrollWidth"] <= box["mainClientWidth"] + 1, \
            f"{screen.slug}'s main area scrolls sideways on a phone: {box}"
        assert not box["offenders"], f"{screen.slug} has elements past the right edge: {box}"


@pytest.mark.browser
def test_screenshots_cover_every_page_in_the_admin_navigation(
        request: pytest.FixtureRequest, browsing: h.Browsing) -> None:
    page = _open_screen(request, browsing, SCREENS[0], h.DESKTOP)
    expect(page.get_by_test_id("stSidebarNav")).to_be_visible()
    expected = [s.nav for s in SCREENS if s.nav]
    assert sorted(h.nav_labels(page)) == sorted(expected), \
        "the admin's navigation changed: update SCREENS in tests/browser/test_journeys.py"


def _ledger_rows(page: Page) -> int:
    text = page.get_by_text(re.compile(r"[\d,]+ rows?:")).first.inner_text()
    found = re.search(r"([\d,]+) rows?:", text)
    assert found, text
    return int(found.group(1).replace(",", ""))


@pytest.mark.browser
def test_analytics_filters_the_period_and_downloads_the_ledger_as_csv(
        browsing: h.Browsing, shared_server: h.AppServer, admin_state: Any) -> None:
    page = browsing.open_signed_in(shared_server, admin_state, "analytics", "Analytics")
    h.wait_settled(page)
    alone = _ledger_rows(page)  # demo data is off by default: the admin's own job only
    page.get_by_test_id("stMain").get_by_text("Demo data", exact=True).click()
    h.wait_settled(page)
    expect(page.get_by_text("Demo data is on", exact=False).first).to_be_visible()
    month = _ledger_rows(page)  # the last 30 days of the 14-day demo history, too
    assert month > alone
    page.get_by_test_id("stMain").get_by_text("7 days", exact=True).first.click()
    h.wait_settled(page)
    expect(page.get_by_text(re.compile(r"[\d,]+ rows?:")).first).not_to_have_text(
        re.compile(rf"^{month:,} row"))
    week = _ledger_rows(page)
    assert 0 < week < month  # the filter really narrowed what the page shows
    with page.expect_download() as info:
        page.get_by_test_id("stDownloadButton").filter(has_text="CSV").first.click()
    lines = Path(info.value.path()).read_text(encoding="utf-8").splitlines()
    assert "provider" in lines[0].lower() and "cost" in lines[0].lower()
    assert len(lines) - 1 == week  # the download has exactly the rows the page counts


@pytest.mark.browser
def test_a_half_filled_admin_form_survives_a_look_at_another_tab(
        browsing: h.Browsing, shared_server: h.AppServer, admin_state: Any) -> None:
    """An admin types half a new user, checks the Budgets tab, comes back: the text is there."""
    page = browsing.open_signed_in(shared_server, admin_state, "admin", "Admin")
    main = page.get_by_test_id("stMain")
    username = main.get_by_label("Username", exact=True)
    username.fill("half-typed")
    main.get_by_label("Full name", exact=True).fill("Half Typed")
    main.get_by_role("tab", name="Budgets").click()
    h.wait_settled(page)
    expect(main.get_by_role("tab", name="Budgets")).to_have_attribute("aria-selected", "true")
    main.get_by_role("tab", name="Users").click()
    h.wait_settled(page)
    expect(username).to_have_value("half-typed")
    expect(main.get_by_label("Full name", exact=True)).to_have_value("Half Typed")
