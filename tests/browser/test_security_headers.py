"""serve.py answers every HTTP request with anti-framing headers, and the app still works.

A real ``streamlit run serve.py`` (st.App + lib.web.headers) on loopback: the page, health check and
a deep link say DENY; the dashboard's own component frames (the sign-in cookie is written from
one) are allowed for the same origin only, so signing in still stores the cookie; and a page
that frames the dashboard gets no dashboard in its frame.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Response, expect

from tests.browser import harness as h

pytestmark = pytest.mark.browser
DENY = {"x-frame-options": "DENY", "content-security-policy": "frame-ancestors 'none'"}


@pytest.fixture(scope="module")
def served(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.AppServer]:
    work = tmp_path_factory.mktemp("serve-py")
    data = work / "data"
    data.mkdir()
    server = h.AppServer("serve-py", data, work / "server.log", script="serve.py",
                         env=h.clean_env(data, PROMPTBOARD_ADMIN_USER=h.ADMIN_USER,
                                         PROMPTBOARD_ADMIN_PASSWORD=h.ADMIN_PASSWORD))
    server.start()
    yield server
    server.stop()


def _headers(url: str) -> dict[str, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return {k.lower(): v for k, v in resp.headers.items()}


@pytest.mark.parametrize("path", ["", "_stcore/health", "admin", "gallery?image=x"])
def test_every_page_and_the_health_check_forbid_framing(served: h.AppServer, path: str) -> None:
    headers = _headers(served.url(path))
    assert {k: headers.get(k) for k in DENY} == DENY
    assert headers.get("x-content-type-options") == "nosniff"


def test_signing_in_still_writes_the_cookie_from_a_same_origin_component_frame(
    served: h.AppServer, browsing: h.Browsing
) -> None:
    page = browsing.new_page(served)
    components: list[Response] = []
    page.on("response", lambda r: components.append(r) if "/component/" in r.url else None)
    h.open_app(page, served)
    h.sign_in(page, h.ADMIN_USER, h.ADMIN_PASSWORD)
    expect(h.signed_in_as(page)).to_be_visible()
    h.wait_for_cookie(page)
    assert components, "the cookie component's frame was never loaded"
    assert {r.headers.get("content-security-policy") for r in components} == {
        "frame-ancestors 'self'"}


def test_another_page_framing_the_dashboard_gets_an_empty_frame(
    served: h.AppServer, browsing: h.Browsing
) -> None:
    page = browsing.new_page(served)
    page.set_content(f'<iframe id="victim" src="{served.url()}" width="800" height="600">'
                     "</iframe>")
    page.wait_for_load_state("load")
    frame = page.frame_locator("#victim")
    expect(frame.get_by_test_id("stAppViewContainer")).to_have_count(0)
    # the same URL in a tab of its own does load
    h.open_app(page, served)
    expect(page.get_by_test_id("stAppViewContainer")).to_be_visible()
