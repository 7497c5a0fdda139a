"""Fixtures for the browser tests: Chromium, the dashboard servers, pages, failure artifacts.

Servers (each its own port and data dir):

* ``shared_server`` (session): history seeded through the CLI, and the first admin created
  headlessly (PROMPTBOARD_ADMIN_USER / _PASSWORD), so tests start from the sign-in screen.
* ``blank_server`` (session): no account at all, only ever looked at (the set-up screen).
* ``fresh_server`` (per test): for a test that goes through first-run set-up itself;
  ``server_factory.start(name, **env)`` starts others for one test.

When a test fails, every page it opened is saved (PNG and HTML) with the tail of each
server's log under ``artifacts/browser-failures/<test>/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api", reason="pip install playwright (requirements-dev.txt)")

from playwright.sync_api import Browser, expect, sync_playwright  # noqa: E402

from tests.browser import harness as h  # noqa: E402

expect.set_options(timeout=h.PAGE_TIMEOUT)


# Package scope: Chromium and the shared servers stop when the browser tests are done, not at
# the end of the whole session (a driver kept open for the rest of the run hung once in its
# teardown there).
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not os.access(h.CHROMIUM, os.X_OK):
        pytest.skip(h.CHROMIUM_MISSING)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(h.CHROMIUM), args=h.CHROMIUM_ARGS,
                                      headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="package")
def shared_server(browser: Browser, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[h.AppServer]:
    server = h.start_server("shared", tmp_path_factory.mktemp("shared-server"), seed=True,
                            PROMPTBOARD_ADMIN_USER=h.ADMIN_USER,
                            PROMPTBOARD_ADMIN_PASSWORD=h.ADMIN_PASSWORD)
    yield server
    server.stop()


@pytest.fixture(scope="package")
def blank_server(browser: Browser, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[h.AppServer]:
    server = h.start_server("blank", tmp_path_factory.mktemp("blank-server"))
    yield server
    server.stop()


class ServerFactory:
    """Servers for one test: ``server_factory.start("name", **env)``; stopped after it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.servers: list[h.AppServer] = []

    def start(self, name: str, **env: str) -> h.AppServer:
        server = h.start_server(name, self.workdir / f"{name}-server", **env)
        self.servers.append(server)
        return server

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture
def server_factory(browser: Browser, tmp_path: Path) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path)
    yield factory
    factory.stop_all()


@pytest.fixture
def fresh_server(server_factory: ServerFactory) -> h.AppServer:
    """No account yet: the first-run set-up screen."""
    return server_factory.start("fresh")


@pytest.fixture(scope="package")
def admin_state(browser: Browser, shared_server: h.AppServer) -> Any:
    """Cookies of a signed-in admin on the shared server: new contexts start signed in."""
    browsing = h.Browsing(browser)
    try:  # no retry: a lost cookie write was a bug (fixed in lib/ui/signin.py), not noise
        page = browsing.new_page(shared_server)
        h.open_app(page, shared_server)
        h.sign_in(page, h.ADMIN_USER, h.ADMIN_PASSWORD)
        expect(h.signed_in_as(page)).to_be_visible()
        h.wait_for_cookie(page, timeout=15)
        return page.context.storage_state()
    finally:
        browsing.close()


@pytest.fixture
def browsing(browser: Browser) -> Iterator[h.Browsing]:
    session = h.Browsing(browser)
    yield session
    session.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed and report.when in ("setup", "call"):
        try:
            saved = _save_failure(item)
        except Exception as exc:  # noqa: BLE001 - never hide the real failure
            saved = f"(could not save failure artifacts: {exc!r})"
        report.sections.append(("browser failure artifacts", saved))


def _save_failure(item: pytest.Item) -> str:
    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    out = h.FAILURES / h.safe_name(item.nodeid.split("::", 1)[-1])
    out.mkdir(parents=True, exist_ok=True)
    browsing = funcargs.get("browsing")
    servers = [v for v in funcargs.values() if isinstance(v, h.AppServer)]
    factory = funcargs.get("server_factory")
    if isinstance(factory, ServerFactory):
        servers += [s for s in factory.servers if s not in servers]
    if isinstance(browsing, h.Browsing):
        servers += [s for s in browsing.servers if s not in servers]
        for i, page in enumerate(browsing.pages):
            try:
                page.screenshot(path=out / f"page{i}.png")
                (out / f"page{i}.html").write_text(f"<!-- {page.url} -->\n{page.content()}")
            except Exception as exc:  # noqa: BLE001 - a closed page: note it, save the rest
                (out / f"page{i}.error.txt").write_text(repr(exc))
    if not servers:  # e.g. a session fixture failed: every server still running may matter
        servers = list(h.RUNNING)
    for server in servers:
        (out / f"server-{server.name}.log").write_text(server.log_tail(400))
    return str(out.relative_to(h.ROOT))
