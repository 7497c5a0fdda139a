"""A readiness probe that reaches a fresh server before any browser does leaves the dashboard
working: the routes build the process's engine without importing lib.ui (importing it outside a
page run declared the sign-in cookie's component too early, and every page hung on its
skeleton: the same steps, scripted, showed it before lib/ui/shared.py and the lazy
lib.ui package)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser import harness as h

pytestmark = pytest.mark.browser


def test_readyz_before_the_first_page_then_sign_in(
    server_factory: Any, browsing: h.Browsing
) -> None:
    server = server_factory.start("probe-first", PROMPTBOARD_ADMIN_USER=h.ADMIN_USER,
                                  PROMPTBOARD_ADMIN_PASSWORD=h.ADMIN_PASSWORD)
    with urllib.request.urlopen(server.url("/readyz"), timeout=30) as resp:
        assert json.loads(resp.read())["ready"] is True
    page = browsing.new_page(server)
    h.open_app(page, server)  # waits until no skeleton is left
    h.sign_in(page, h.ADMIN_USER, h.ADMIN_PASSWORD)
    expect(h.signed_in_as(page)).to_be_visible()
    h.wait_for_cookie(page, timeout=15)
