"""Run the dashboard with `streamlit run` and drive it with Playwright: the shared helpers.

Conventions (stack notes §3): each server gets its own free port and its own data dir (DuckDB
allows one process per file); it is ready when GET /_stcore/health says "ok"; a page is ready
when ``stApp`` reports ``data-test-script-state=notRunning``. Pages are told apart by their
``h1`` title; buttons by role with an exact name (a Material icon's ligature is not part of
the accessible name, although it is part of ``inner_text``).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
FAILURES = ARTIFACTS / "browser-failures"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]
CHROMIUM_MISSING = (f"{CHROMIUM} is not an executable: install Debian's chromium "
                    "(`apt-get install chromium`; `bash scripts/test.sh` does it)")

SERVER_START_TIMEOUT = 30.0  # s: process start to /_stcore/health == "ok"
PAGE_TIMEOUT = 30_000  # ms: first page load imports the whole app on a cold server
JOB_TIMEOUT = 30_000  # ms: a sandbox job of two images takes ~2.5 s plus worker pick-up

DESKTOP: ViewportSize = {"width": 1400, "height": 1000}
PHONE: ViewportSize = {"width": 390, "height": 844}

ADMIN_USER = "admin"
ADMIN_PASSWORD = "correct horse battery staple"

_STAPP = "[data-testid=stApp]"
IDLE = f"{_STAPP}[data-test-script-state=notRunning]"
# streamlit-authenticator's CookieManager (element key "init") shows a skeleton, mounts an
# iframe, sends its first value and so triggers one more run that removes it again: until then
# the page is still moving (and a form typed into before that rerun can lose its text).
_UNSETTLED = ("[data-testid=stMain] [data-testid=stSkeleton], "
              "[data-testid=stMain] .st-key-init")


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment minus every Promptboard setting and provider key, plus ours.

    Only the offline sandbox provider is configured, whatever the developer's shell holds.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PROMPTBOARD_", "A1111_"))
           and not k.endswith(("_API_KEY", "_API_TOKEN", "_BASE_URL"))}
    env.update(PROMPTBOARD_DATA_DIR=str(data_dir), PROMPTBOARD_STORAGE="local",
               PROMPTBOARD_SANDBOX_LATENCY="2", PROMPTBOARD_WORKERS="2",
               PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def run_cli(env: dict[str, str], *args: str) -> str:
    """``python -m lib.cli ...`` against a data dir no server holds yet (seeding)."""
    done = subprocess.run([sys.executable, "-m", "lib.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"lib.cli {' '.join(args)} exited {done.returncode}:\n"
                           f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return done.stdout


RUNNING: list[AppServer] = []  # started and not yet stopped, for failure reports


@dataclass(eq=False)  # identity: one object per process
class AppServer:
    """One `streamlit run serve.py` process (the README's command) on its own port and data dir."""

    name: str
    data_dir: Path
    log_path: Path
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    script: str = "serve.py"  # the README's command: app.py behind the security headers

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "") -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def start(self) -> AppServer:
        self.port = free_port()
        cmd = [sys.executable, "-m", "streamlit", "run", self.script,
               "--server.headless", "true", "--server.port", str(self.port),
               "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
        with self.log_path.open("ab") as log:
            log.write(f"$ {' '.join(cmd)}  (data dir {self.data_dir})\n".encode())
            log.flush()
            # Its own process group, so stop() ends streamlit and anything it started.
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        RUNNING.append(self)
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        last: object = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"server {self.name} exited with {self.proc.returncode} "
                                   f"before it was healthy:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/_stcore/health", timeout=2) as r:
                    body = r.read().decode(errors="replace").strip()
                if body == "ok":
                    return
                last = body
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                last = exc
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server {self.name} not healthy after {SERVER_START_TIMEOUT:.0f} s "
                           f"(last answer: {last!r}):\n{self.log_tail()}")

    def stop(self) -> None:
        if self in RUNNING:
            RUNNING.remove(self)
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the group we created for this server only
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass

    def log_tail(self, lines: int = 200) -> str:
        try:
            with self.log_path.open(errors="replace") as f:
                return "".join(deque(f, maxlen=lines))
        except OSError as exc:
            return f"(no log: {exc})"


def start_server(name: str, workdir: Path, *, seed: bool = False, **env: str) -> AppServer:
    """A server on a fresh data dir under ``workdir``; ``seed`` adds history before it starts."""
    data = workdir / "data"
    data.mkdir(parents=True)
    server = AppServer(name, data, workdir / "server.log", env=clean_env(data, **env))
    if seed:
        # A finished job of the admin's (History, Gallery, Home) and the demo team's history
        # (costs, many tiles, other people's jobs), so the screenshots show real layouts.
        quick = {**server.env, "PROMPTBOARD_SANDBOX_LATENCY": "0"}
        run_cli(quick, "generate", "--provider", "sandbox", "--user", ADMIN_USER, "--n", "2",
                "--size", "512x512", "--prompt", "A lighthouse on a cliff at dusk, warm light")
        run_cli(quick, "demo-data", "--images", "300", "--days", "14", "--users", "4")
    return server.start()


# --------------------------------------------------------------------------- pages


@dataclass
class Browsing:
    """The contexts and pages one test opened: closed after it, captured if it fails."""

    browser: Browser
    contexts: list[BrowserContext] = field(default_factory=list)
    servers: list[AppServer] = field(default_factory=list)

    def new_page(self, server: AppServer, viewport: ViewportSize = DESKTOP,
                 storage_state: Any = None) -> Page:
        context = self.browser.new_context(viewport=viewport, accept_downloads=True,
                                           storage_state=storage_state)
        context.set_default_timeout(PAGE_TIMEOUT)
        self.contexts.append(context)
        if server not in self.servers:
            self.servers.append(server)
        return context.new_page()

    def open_signed_in(self, server: AppServer, storage_state: Any, path: str,
                       heading: str) -> Page:
        """A new tab with a saved sign-in, on ``path``, once its title reads ``heading``."""
        page = self.new_page(server, storage_state=storage_state)
        open_app(page, server, path)
        expect(title(page)).to_have_text(heading)
        return page

    @property
    def pages(self) -> list[Page]:
        return [p for c in self.contexts for p in c.pages]

    def close(self) -> None:
        for context in self.contexts:
            try:
                context.close()
            except Exception:  # noqa: BLE001 - teardown of a crashed browser must go on
                pass
        self.contexts.clear()


def wait_settled(page: Page, timeout: float = PAGE_TIMEOUT) -> None:
    """The script has finished and the sign-in cookie component's extra run is over."""
    expect(page.locator(IDLE)).to_be_attached(timeout=timeout)
    expect(page.locator(_UNSETTLED)).to_have_count(0, timeout=timeout)
    expect(page.locator(IDLE)).to_be_attached(timeout=timeout)


def open_app(page: Page, server: AppServer, path: str = "") -> None:
    page.goto(server.url(path))
    expect(page.get_by_test_id("stAppViewContainer")).to_be_visible(timeout=PAGE_TIMEOUT)
    wait_settled(page)


def title(page: Page) -> Any:
    """The page's title: its first level-1 heading."""
    return page.get_by_role("heading", level=1).first


def sign_in(page: Page, username: str, password: str) -> None:
    """Fill and submit the sign-in form (the screen must be showing)."""
    expect(title(page)).to_have_text("Sign in")
    wait_settled(page)
    user_box = page.get_by_label("Username", exact=True)
    password_box = page.get_by_label("Password", exact=True)
    user_box.fill(username)
    password_box.fill(password)
    expect(user_box).to_have_value(username)
    expect(password_box).to_have_value(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def signed_in_as(page: Page) -> Any:
    return page.get_by_test_id("stSidebar").get_by_text(re.compile(r"^Signed in as "))


def wait_for_cookie(page: Page, name: str = "promptboard_auth", timeout: float = 20.0) -> None:
    """The re-login cookie is written by a component in the run after sign-in."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(c["name"] == name for c in page.context.cookies()):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"no {name} cookie {timeout:.0f} s after signing in")


def nav_link(page: Page, label: str) -> Any:
    """A page link in the sidebar navigation (the icon is aria-hidden: not in the name)."""
    return page.get_by_test_id("stSidebarNav").get_by_role("link", name=label, exact=True)


def navigate(page: Page, label: str, heading: str | re.Pattern[str] | None = None) -> None:
    """Click a sidebar link (in this session, no reload) and wait for the page to settle.

    Waits for the current page to settle first: a run triggered by the cookie component
    still carries the page it started on, so a click during it can be undone.
    """
    wait_settled(page)
    nav_link(page, label).click()
    expect(title(page)).to_have_text(heading or label)
    wait_settled(page)


def nav_labels(page: Page) -> list[str]:
    links = page.get_by_test_id("stSidebarNav").get_by_test_id("stSidebarNavLink")
    return [str(span.get_attribute("label")) for span in links.locator("span[label]").all()]


# --------------------------------------------------------------------------- layout checks

OVERFLOW_JS = """() => {
  const vw = window.innerWidth, doc = document.documentElement;
  const main = document.querySelector('[data-testid=stMain]');
  const scrollsX = (el) => {
    for (let p = el.parentElement; p && p !== main; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden' || o === 'clip') return true;
    }
    return false;
  };
  const offenders = [];
  if (main) for (const el of main.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && r.right > vw + 1 && !scrollsX(el)) {
      const id = el.getAttribute('data-testid') || el.tagName.toLowerCase();
      offenders.push(`${id}.${[...el.classList].slice(0, 2).join('.')} right=${Math.round(r.right)}`
                     + ` text=${JSON.stringify((el.innerText || '').slice(0, 40))}`);
    }
  }
  return {docScrollWidth: doc.scrollWidth, innerWidth: vw,
          mainScrollWidth: main ? main.scrollWidth : 0,
          mainClientWidth: main ? main.clientWidth : 0,
          offenders: offenders.slice(0, 12)};
}"""


def overflow(page: Page) -> dict[str, Any]:
    return dict(page.evaluate(OVERFLOW_JS))


def screenshot(page: Page, name: str) -> list[Path]:
    """``<name>.png`` as the viewport shows it, and ``<name>-full.png`` when the page is longer.

    Streamlit scrolls inside ``stMain``, so Playwright's ``full_page`` shows one screen only: the
    full shot briefly makes the viewport as tall as the content (the width does not change).
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot, full = SCREENSHOTS / f"{name}.png", SCREENSHOTS / f"{name}-full.png"
    full.unlink(missing_ok=True)  # from an earlier run, when the page was longer
    page.screenshot(path=shot)
    paths = [shot]
    size = page.viewport_size
    assert size is not None
    height = page.evaluate("""() => Math.max(document.documentElement.scrollHeight,
        ...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stSidebarContent]')]
           .map(e => e.scrollHeight))""")
    if height > size["height"] + 1:
        page.set_viewport_size({"width": size["width"], "height": min(int(height), 8000)})
        try:
            page.wait_for_timeout(150)  # one layout pass for elements that size to the viewport
            page.screenshot(path=full)
            paths.append(full)
        finally:
            page.set_viewport_size(size)
    return paths


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:120]
