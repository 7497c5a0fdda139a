"""The load scenario: many signed-in sessions using one dashboard server at once, and its report.

One ``streamlit run`` process (the only way DuckDB is meant to be served: one read-write
process) with its worker pool; every session is a :class:`~tests.reliability._wsclient.Session`
in a thread of the test process, so the server sees real websocket sessions while the client
side stays cheap. Members submit, browse, filter, favourite and watch their job cards;
analysts browse the gallery and the analytics page.

After the load stops, :func:`drain` watches the Queue page until nothing is queued or running,
and :func:`verify` reads the database (after the server stopped) to check that every submit
the UI acknowledged became exactly one finished job with its images, and every favourite a
row.
"""

from __future__ import annotations

import random
import re
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.reliability._wsclient import RUN_TIMEOUT, ProtocolError, Render, Session

PASSWORD = "load test password 123"
DRAIN_BOUND = 90.0  # s after the load stops: a generous bound; the measured value is reported
WORDS = ("fox", "lighthouse", "neon", "harbour", "forest", "robot", "desert", "castle")
SORTS = ("Newest", "Cost", "Duration", "Rating", "Oldest")
# Messages that mean a database problem reached a person.
DB_TROUBLE = re.compile(r"lock|conflict|transaction|duckdb|database", re.IGNORECASE)
LOG_TROUBLE = re.compile(r"Traceback|TransactionContext|Transaction conflict|Could not set lock"
                         r"|database is locked|Error while running the worker",
                         re.IGNORECASE)


@dataclass
class Shared:
    """What every session records, read after they all stopped."""

    renders: list[Render] = field(default_factory=list)
    submitted: list[str] = field(default_factory=list)  # prompts the UI said were queued
    refused: list[str] = field(default_factory=list)  # submits the UI did not queue
    favourites: set[tuple[str, str]] = field(default_factory=set)  # (user, image id)
    failures: list[str] = field(default_factory=list)  # a session that broke off, and why
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, render: Render) -> Render:
        with self.lock:
            self.renders.append(render)
        return render


def user_names(sessions: int) -> list[tuple[str, str]]:
    """(username, role) per session: every tenth an analyst, the rest members."""
    return [(f"load{i:02d}", "analyst" if i % 10 == 9 else "member") for i in range(sessions)]


def seed(sessions: int, demo_images: int) -> None:
    """Users for the sessions and a demo history to browse, before the server opens the file.

    Runs in the test process on PROMPTBOARD_DATA_DIR; hashes use bcrypt cost 4 so that
    signing twenty people in measures the dashboard, not bcrypt (the cost is in the hash).
    """
    from lib import demo
    from lib.auth import accounts as auth
    from lib.core.clock import utcnow
    from lib.engine import Engine

    rounds, auth.BCRYPT_ROUNDS = auth.BCRYPT_ROUNDS, 4
    eng = Engine()
    try:
        auth.create_user(eng.db, "admin", "Admin", None, "admin", PASSWORD, now=utcnow())
        for name, role in user_names(sessions):
            auth.create_user(eng.db, name, name.title(), None, role, PASSWORD, now=utcnow())
        demo.generate(eng, images=demo_images, days=14, users=4)
    finally:
        auth.BCRYPT_ROUNDS = rounds
        eng.close()


def sign_in(base_url: str, username: str, shared: Shared) -> Session:
    """A new tab, signed in through the real form."""
    sess = Session(base_url, username)
    shared.add(sess.open(action="sign-in form"))
    sess.set("auth_login_username", string_value=username)
    sess.set("auth_login_password", string_value=PASSWORD)
    render = shared.add(sess.click("Sign in", action="sign in"))
    if f"Signed in as {username.title()} · " not in render.text():
        raise ProtocolError(f"{username} is not signed in: {render.errors or render.texts[:3]}")
    return sess


class Visitor:
    """One person's habits: a weighted choice of actions with short pauses between them."""

    def __init__(self, sess: Session, role: str, shared: Shared, rng: random.Random) -> None:
        self.sess, self.role, self.shared, self.rng = sess, role, shared, rng
        self.submits = 0

    def act(self) -> None:
        """Do one thing a person would do next."""
        if self.role == "analyst":
            options = {self.browse: 4, self.filter: 3, self.analytics: 2, self.home: 1}
        else:
            options = {self.submit: 4, self.watch: 3, self.browse: 3, self.filter: 2,
                       self.favourite: 1, self.history: 1, self.queue: 1, self.home: 1}
        action = self.rng.choices(list(options), weights=list(options.values()))[0]
        action()

    def _go(self, page: str) -> None:
        if self.sess.page != page:
            self.shared.add(self.sess.open(page))

    def submit(self) -> None:
        self._go("generate")
        self.submits += 1
        prompt = (f"load {self.sess.name} #{self.submits}: a {self.rng.choice(WORDS)} "
                  f"by the {self.rng.choice(WORDS)}")
        self.sess.set("gen_prompt", string_value=prompt)
        self.sess.set("gen_size_sandbox_sandbox-v1", string_value="512x512")
        render = self.shared.add(self.sess.click("gen_submit", action="submit"))
        with self.shared.lock:
            if any(t.startswith("Queued.") for t in render.toasts):  # "Queued. It is first…"
                self.shared.submitted.append(prompt)
            else:
                self.shared.refused.append(f"{prompt}: {render.errors or render.toasts}")

    def watch(self) -> None:
        """Look at the job cards a moment (the browser's 1 s fragment timer)."""
        self._go("generate")
        for _ in range(self.rng.randint(1, 3)):
            render = self.sess.poll()
            if render is None:
                return
            self.shared.add(render)
            time.sleep(0.5)

    def browse(self) -> None:
        self._go("gallery")
        if "gal_page-next" in self.sess.widgets and self.rng.random() < 0.7:
            self.shared.add(self.sess.click("gal_page-next", action="next page"))

    def filter(self) -> None:
        self._go("gallery")
        if self.rng.random() < 0.6:
            self.sess.set("gal_text", string_value=self.rng.choice(("", *WORDS)))
        else:
            self.sess.set("gal_sort", string_value=self.rng.choice(SORTS))
        self.shared.add(self.sess.rerun(action="filter"))

    def favourite(self) -> None:
        self._go("gallery")
        tiles = [t["target"] for t in self.sess.tiles.get("gal_grid", [])
                 if t["event"] == "open"] if "gal_grid" in self.sess.widgets else []
        if not tiles:
            return
        image_id = self.rng.choice(tiles)
        opened = self.shared.add(self.sess.click_tile("gal_grid", "open", image_id,
                                                      action="open image"))
        if "dlg-fav" not in self.sess.widgets:
            raise ProtocolError(f"{self.sess.name}: image {image_id} opened without its "
                                f"favourite toggle: {opened.errors or opened.texts[:3]}")
        self.shared.add(self.sess.change("dlg-fav", action="favourite", bool_value=True))
        with self.shared.lock:
            self.shared.favourites.add((self.sess.name, image_id))
        self.sess.page = "(dialog)"  # the next action opens its page afresh, closing the dialog

    def analytics(self) -> None:
        self._go("analytics")

    def history(self) -> None:
        self._go("history")

    def queue(self) -> None:
        self._go("queue")

    def home(self) -> None:
        self._go("")


def run_sessions(base_url: str | list[str], sessions: int, seconds: float, shared: Shared,
                 think: tuple[float, float] = (1.0, 3.0), seed_: int = 7) -> float:
    """Everyone signs in at once, then acts for ``seconds``; the load's wall time.

    ``think`` is the pause between two actions of one person, in seconds (uniform). With
    several servers (replicas) each person keeps to one, as a sticky proxy would place them.
    """
    urls = [base_url] if isinstance(base_url, str) else base_url
    window: dict[str, float] = {}
    ready = threading.Barrier(sessions + 1, action=lambda: window.update(
        end=time.monotonic() + seconds))  # runs once, before anyone is let through

    def person(index: int, name: str, role: str) -> None:
        rng = random.Random(seed_ * 1000 + index)
        sess: Session | None = None
        try:
            try:
                sess = sign_in(urls[index % len(urls)], name, shared)
            finally:
                ready.wait(timeout=RUN_TIMEOUT * 2)
            visitor = Visitor(sess, role, shared, rng)
            while time.monotonic() < window["end"]:
                visitor.act()
                time.sleep(rng.uniform(*think))
        except Exception as exc:  # noqa: BLE001 - recorded and asserted on by the test
            where = sess.page or "home" if sess else "sign-in"
            with shared.lock:
                shared.failures.append(f"{name} on {where}: {type(exc).__name__}: {exc}")
        finally:
            if sess is not None:
                sess.close()

    threads = [threading.Thread(target=person, args=(i, name, role), name=name, daemon=True)
               for i, (name, role) in enumerate(user_names(sessions))]
    for t in threads:
        t.start()
    ready.wait(timeout=RUN_TIMEOUT * 2)
    started = window["end"] - seconds
    for t in threads:
        t.join(seconds + RUN_TIMEOUT * 2)
    return time.monotonic() - started


def drain(base_url: str, timeout: float, shared: Shared) -> float | None:
    """Seconds until the admin's Queue page says nothing is left; None if it never did."""
    sess = sign_in_as_admin(base_url, shared)
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            render = sess.open("queue", action="drain check")
            if "Nothing is queued or running." in render.text():
                return time.monotonic() - started
            time.sleep(0.5)
        return None
    finally:
        sess.close()


def sign_in_as_admin(base_url: str, shared: Shared) -> Session:
    sess = Session(base_url, "admin")
    sess.open(action="sign-in form")
    sess.set("auth_login_username", string_value="admin")
    sess.set("auth_login_password", string_value=PASSWORD)
    sess.click("Sign in")
    return sess


def verify(data_dir: Path, shared: Shared, database_url: str = "") -> dict[str, Any]:
    """Read the database (the server has stopped): what became of every acknowledged action."""
    from lib.db.database import Database

    db = Database(database_url or data_dir / "promptboard.duckdb", migrate=False)
    try:
        jobs = db.dicts(
            "SELECT j.id, j.prompt, j.status, j.n, j.attempts, j.created_at, j.started_at, "
            "j.finished_at, j.error_message, (SELECT count(*) FROM images i "
            "WHERE i.job_id = j.id) AS images FROM jobs j WHERE j.prompt LIKE 'load %'")
        favourites = {(str(u), str(i)) for u, i in db.fetchall(
            "SELECT user_id, image_id FROM favourites WHERE user_id LIKE 'load%'")}
    finally:
        db.close()
    return {"jobs": jobs, "favourites": favourites}


def run_load(data_dir: Path, log_path: Path, sessions: int, seconds: float, *,
             demo_images: int, think: tuple[float, float] = (1.0, 3.0),
             latency: float = 0.2, workers: int = 4
             ) -> tuple[dict[str, Any], dict[str, Any], Shared, str]:
    """Seed, serve, load, drain, stop, verify: the report, what the DB holds, the server log.

    ``data_dir`` must be PROMPTBOARD_DATA_DIR (the seeding opens the engine from it).
    """
    from tests.browser import harness

    seed(sessions, demo_images)
    env = harness.clean_env(data_dir, PROMPTBOARD_SANDBOX_LATENCY=str(latency),
                            PROMPTBOARD_WORKERS=str(workers))
    server = harness.AppServer("load", data_dir, log_path, env=env).start()
    shared = Shared()
    try:
        load_s = run_sessions(server.base_url, sessions, seconds, shared, think=think)
        drain_s = drain(server.base_url, DRAIN_BOUND, shared)
    finally:
        server.stop()
    log = server.log_tail(5000)
    found = verify(data_dir, shared)
    rep = report(shared, found["jobs"], load_s, drain_s, sessions)
    rep["settings"] = {"think_s": list(think), "sandbox_latency_s": latency,
                       "workers": workers, "demo_images": demo_images}
    return rep, found, shared, log


def percentiles(values: list[float]) -> dict[str, float]:
    """Count, p50, p95 and max, rounded to whole milliseconds (or seconds)."""
    ordered = sorted(values)
    if not ordered:
        return {"count": 0}
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"count": len(ordered), "p50": round(statistics.median(ordered), 1),
            "p95": round(p95, 1), "max": round(ordered[-1], 1)}


def report(shared: Shared, jobs: list[dict[str, Any]], load_s: float,
           drain_s: float | None, sessions: int) -> dict[str, Any]:
    """The numbers issue #7 asks for: throughput, queue wait, render times per page."""
    done = [j for j in jobs if j["status"] == "succeeded"]
    waits = [(j["started_at"] - j["created_at"]).total_seconds() for j in jobs
             if j["started_at"] is not None]
    span = 0.0
    if done:
        first = min(j["created_at"] for j in jobs)
        last = max(j["finished_at"] for j in done)
        span = (last - first).total_seconds()
    by_page: dict[str, list[float]] = {}
    by_action: dict[str, list[float]] = {}
    for r in shared.renders:
        by_page.setdefault(r.page, []).append(r.ms)
        by_action.setdefault(r.action, []).append(r.ms)
    return {
        "sessions": sessions,
        "load_seconds": round(load_s, 1),
        "submitted": len(shared.submitted),
        "jobs_succeeded": len(done),
        "images": sum(int(j["images"]) for j in jobs),
        "jobs_per_minute_completed": round(len(done) / span * 60, 1) if span else 0.0,
        "drain_seconds_after_load": None if drain_s is None else round(drain_s, 1),
        "queue_wait_seconds": percentiles(waits),
        "page_renders": len(shared.renders),
        "render_ms_by_page": {p: percentiles(v) for p, v in sorted(by_page.items())},
        "render_ms_by_action": {a: percentiles(v) for a, v in sorted(by_action.items())},
        "slowest_render": max(((r.ms, r.page, r.action) for r in shared.renders), default=None),
        "favourites": len(shared.favourites),
    }


def summary_lines(rep: dict[str, Any]) -> list[str]:
    """The report as a few lines for the terminal."""
    lines = [f"load: {rep['sessions']} sessions for {rep['load_seconds']} s, "
             f"{rep['page_renders']} page renders, {rep['submitted']} submits, "
             f"{rep['jobs_succeeded']} jobs succeeded "
             f"({rep['jobs_per_minute_completed']}/min), queue drained "
             f"{rep['drain_seconds_after_load']} s after the load",
             f"queue wait s: {rep['queue_wait_seconds']}",
             f"slowest render: {rep['slowest_render']}"]
    for page, stats in rep["render_ms_by_page"].items():
        lines.append(f"  {page:<10} {stats}")
    return lines
