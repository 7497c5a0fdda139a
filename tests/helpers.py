"""Drivers shared by tests: the CLI in a subprocess, pages under AppTest, waiting, clocks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lib.core.clock import Clock, FakeClock

if TYPE_CHECKING:
    from lib.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def wait_until(predicate: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.05,
               what: str | Callable[[], str] | None = None) -> T:
    """Call ``predicate`` every ``interval`` seconds until it returns something true; return it.

    ``timeout`` is a liveness bound, never a speed assertion: past it, raise AssertionError
    naming what was awaited (``what``, a string or a function called then for the latest state,
    else the predicate's docstring or name)."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() >= deadline:
            if callable(what):
                awaited = what()
            else:
                awaited = what or (predicate.__doc__ or predicate.__qualname__).strip()
            raise AssertionError(f"waited {timeout:g} s in vain for: {awaited}")
        time.sleep(interval)
    return result


def run_cli(*args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m lib.cli ...`` from the repo root with this test's environment."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "lib.cli", *args], cwd=ROOT, env=full_env,
        capture_output=True, text=True, timeout=timeout,
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    """Parse one JSON object per non-empty line."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def run_next(engine: Engine) -> str | None:
    """Claim the next job and run it in this thread; its end state, or None if none queued."""
    from lib.jobs.claim import claim
    from lib.jobs.pipeline import process

    job = claim(engine, "test")
    return None if job is None else process(engine, job)


def closed_port_url() -> str:
    """The address of a port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class MemoryContext:
    """A job context for provider tests: records progress, keeps state, can be cancelled."""

    def __init__(self, attempt: int = 1) -> None:
        self.attempt = attempt
        self.state: dict[str, Any] = {}
        self.progress: list[tuple[float, str | None]] = []
        self.cancelled = False

    def save_state(self, state: dict[str, Any]) -> None:
        self.state = dict(state)

    def report_progress(self, fraction: float, note: str | None = None) -> None:
        self.progress.append((fraction, note))

    def cancel_requested(self) -> bool:
        return self.cancelled


APP = str(ROOT / "app.py")
TEST_PASSWORD = "correct horse battery"


def ensure_user(username: str, role: str) -> None:
    """Create a user in the dashboard's engine (once)."""
    from lib import ui
    from lib.auth import accounts as auth
    from lib.core.clock import utcnow

    eng = ui.engine()
    if auth.get_user(eng.db, username) is None:
        auth.create_user(eng.db, username, username.title(), None, role, TEST_PASSWORD,
                         now=utcnow())


def sign_in(at: Any, username: str, *, issued_at: datetime | None = None) -> Any:
    """Sign ``username`` in to the AppTest ``at`` (before its next run) as the sign-in form
    does: the server-side session record it keeps (who, when, how), which ``current_user``
    re-checks against the users table on every run, so a deleted, disabled or revoked account
    is refused here as in the app. AppTest has no cookies: this is the whole sign-in.

    ``issued_at`` defaults to now on the dashboard engine's clock (pinned in page tests)."""
    from lib import ui
    from lib.ui import signin

    issued = issued_at or ui.engine().clock.now()
    at.session_state[signin.SESSION_KEY] = signin.session_record(username, issued)
    return at


def app_as(username: str | None, role: str = "member", *, run: bool = True,
           page: str | None = None) -> Any:
    """An AppTest of app.py signed in as ``username`` (created with ``role`` if new)."""
    from streamlit.testing.v1 import AppTest

    if username is not None:
        ensure_user("admin", "admin")  # so the first-run set-up page is not shown
        ensure_user(username, role)
    at = AppTest.from_file(APP, default_timeout=30)
    if username is not None:
        sign_in(at, username)
    if run:
        at.run()
        if page is not None:
            at.switch_page(page).run()
    return at


def analytics_page(user: str, role: str, **state: Any) -> Any:
    """An AppTest of screens/analytics.py run once as ``user``, with ``state`` preset."""
    from streamlit.testing.v1 import AppTest

    ensure_user(user, role)
    at = AppTest.from_file(str(ROOT / "screens" / "analytics.py"), default_timeout=60)
    sign_in(at, user)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def count_queries(monkeypatch: Any) -> list[tuple[str, str]]:
    """Record each call of a query (a public function taking the database first) of
    lib.reporting.analytics or ledger from outside them (not their calls of each other) as
    (name, thread name), in the list returned."""
    import inspect
    import threading

    from lib.reporting import analytics, ledger

    ran: list[tuple[str, str]] = []
    depth = threading.local()

    def counting(name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            if getattr(depth, "n", 0) == 0:
                ran.append((name, threading.current_thread().name))
            depth.n = getattr(depth, "n", 0) + 1
            try:
                return real(*args, **kwargs)
            finally:
                depth.n -= 1
        return call

    for module in (analytics, ledger):
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            params = list(inspect.signature(fn).parameters)
            if (not name.startswith("_") and fn.__module__ == module.__name__
                    and params[:1] == ["db"]):
                monkeypatch.setattr(module, name, counting(f"{module.__name__}.{name}", fn))
    return ran


PINNED_START = datetime(2026, 11, 2, 9, 0, 0)  # FakeClock's default day


class PinnedClock(Clock):
    """Real time moved to a fixed day: ``now()`` starts at ``start`` and moves with the real
    monotonic clock. Page tests run on it, so what they show (a model's shutdown, this month's
    budget, "today") is the same whatever day the suite runs."""

    def __init__(self, start: datetime = PINNED_START) -> None:
        self._start, self._t0 = start, time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0)


class TickingClock(FakeClock):
    """Monotonic time moves a second per read, so the job context never throttles."""

    def monotonic(self) -> float:
        with self._lock:
            self._mono += 1.0
            return self._mono


def grid_tiles(at: Any, key: str = "gal_grid") -> list[dict[str, Any]]:
    """The tiles a ``lib.ui.grid`` component was given in the last run (empty: none drawn)."""
    from lib.ui.grid import describe

    for el in at.get("bidi_component"):
        if el.key == key:
            page = json.loads(el.proto.bytes)
            return [describe(t, page["q"]) for t in page["tiles"]]
    return []


def click_tile(at: Any, event: str, value: str, key: str = "gal_grid") -> Any:
    """Rerun as the browser does after a click on a grid tile: with the component's trigger.

    AppTest cannot click inside a custom component, so this sends the trigger widget state
    the frontend would (``setTriggerValue(event, value)``) next to the other widgets'.
    """
    from streamlit.components.v2.bidi_component.main import _make_trigger_id
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    [el] = [e for e in at.get("bidi_component") if e.key == key]
    states = at._tree.get_widget_states()
    states.widgets.append(WidgetState(
        id=_make_trigger_id(el.proto.id, "events"),
        json_trigger_value=json.dumps([{"event": event, "value": value}])))
    return at._run(states)
