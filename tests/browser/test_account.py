"""The Account page in a real browser: sign in, make a token, see its secret once, revoke it.

Screenshots in ``artifacts/screenshots/``: ``account.png`` (desktop, the secret on show),
``account-token-phone.png`` (390 px wide, the same moment), ``account-confirm.png``,
``account-revoked.png`` and ``admin-tokens.png``.
"""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from tests.browser import harness as h

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.access(h.CHROMIUM, os.X_OK), reason=h.CHROMIUM_MISSING),
]

NAME = "CI pipeline"


def test_a_token_is_made_shown_once_and_revoked(
        browsing: h.Browsing, shared_server: h.AppServer) -> None:
    page = browsing.new_page(shared_server)
    h.open_app(page, shared_server)
    h.sign_in(page, h.ADMIN_USER, h.ADMIN_PASSWORD)
    expect(h.signed_in_as(page)).to_be_visible()
    h.navigate(page, "Account")
    main = page.get_by_test_id("stMain")
    expect(main.get_by_text("Authorization: Bearer <token>")).to_be_visible()

    main.get_by_label("Name", exact=True).fill(NAME)
    main.get_by_test_id("stRadioGroup").get_by_text("Read-only", exact=True).click()
    main.get_by_role("button", name="Create token", exact=True).click()
    h.wait_settled(page)
    expect(main.get_by_text("Copy it now: it will not be shown again.", exact=False)
           ).to_be_visible()
    code = main.get_by_test_id("stCode")
    expect(code).to_have_count(1)
    secret = code.inner_text().strip()
    assert re.fullmatch(r"pb_[A-Za-z0-9_-]{43}", secret), secret
    h.screenshot(page, "account")
    page.set_viewport_size(h.PHONE)
    h.wait_settled(page)
    sidebar = page.get_by_test_id("stSidebar")
    if sidebar.get_attribute("aria-expanded") == "true":  # still open from the desktop width
        sidebar.get_by_test_id("stSidebarCollapseButton").get_by_role("button").click()
        expect(sidebar).to_have_attribute("aria-expanded", "false")
        page.wait_for_function("() => document.querySelector('[data-testid=stSidebar]')"
                               ".getBoundingClientRect().right <= 1")  # slid out of view
    h.screenshot(page, "account-token-phone")
    box = h.overflow(page)
    assert box["docScrollWidth"] <= box["innerWidth"] + 1, box
    assert not box["offenders"], box
    page.set_viewport_size(h.DESKTOP)

    main.get_by_role("button", name="I have copied it", exact=True).click()
    h.wait_settled(page)
    expect(main.get_by_test_id("stCode")).to_have_count(0)
    expect(main.get_by_text(secret)).to_have_count(0)
    h.navigate(page, "Home", re.compile(r"^Hello, "))
    h.navigate(page, "Account")
    expect(main.get_by_test_id("stCode")).to_have_count(0)  # once means once

    revoke = main.get_by_role("button", name=f"Revoke “{NAME}”", exact=True)
    revoke.click()
    h.wait_settled(page)
    expect(main.get_by_text(f"Revoke the token “{NAME}”", exact=False)).to_be_visible()
    h.screenshot(page, "account-confirm")
    main.get_by_role("button", name="Revoke token", exact=True).click()
    h.wait_settled(page)
    expect(main.get_by_text(f"Revoked “{NAME}”: it no longer works.")).to_be_visible()
    expect(revoke).to_have_count(0)
    h.screenshot(page, "account-revoked")

    h.navigate(page, "Admin")  # the admin sees it among everyone's tokens, revoked
    main.get_by_role("tab", name="Tokens").click()
    h.wait_settled(page)
    expect(main.get_by_text("Every user's personal API tokens", exact=False)).to_be_visible()
    h.screenshot(page, "admin-tokens")
