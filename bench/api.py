"""Benchmark of the HTTP API and of what a gallery page flip sends; prints one JSON object.

    python -m bench.api [--requests 60] [--images 300]

One real server (``streamlit run serve.py``, the README's command) on a fresh data dir with
``--images`` demo images and a finished job, measured from this process over loopback:

- ``submit_p50_ms``: ``POST /api/v1/jobs`` (a new prompt each time, so every call queues a
  job: validation, budget check, the INSERT), keep-alive connection. Target <= 10.
- ``thumbnail_p50_ms``: ``GET …/thumbnail`` of distinct images, first fetch (200 with the
  bytes). Target <= 5. ``thumbnail_304_p50_ms``: the same with ``If-None-Match`` (304).
- Gallery page flips in Debian's Chromium, signed in as the admin: page 1 → 2 (first visit)
  → 1 (revisit) → 2 (revisit). Each flip's bytes are what reached the browser: WebSocket
  frames plus HTTP response bodies. ``flip_first_bytes`` / ``flip_revisit_bytes`` are the
  flips to page 2 (first visit) and back to page 1 (revisit). ``flip_revisit_ratio`` =
  revisit / first; target <= 0.05. ``flip_before_bytes`` is what the same revisit sent
  before this change, *computed*, not measured: the revisit's WebSocket bytes plus the data
  URLs (``data:image/webp;base64,…``) of the page's thumbnails, which the old code inlined
  into every run's message.

Medians of ``--requests`` calls; the run's machine load is whatever else is running.
``--db both`` also measures ``submit`` and ``thumbnail`` (not the flips: their bytes do not
depend on the database) with the server on PostgreSQL (a private cluster for the run, as in
``bench.pipeline``), keyed ``postgres``.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from playwright.sync_api import Page, sync_playwright

from tests.api.server import ApiServer, start
from tests.browser import harness as h

SETTLE_MS = 2000
PAGE_TILES = 24  # a Gallery page
TARGETS = {"submit_p50_ms": 10, "thumbnail_p50_ms": 5, "flip_revisit_ratio": 0.05}


def _ms(fn: Any, n: int) -> list[float]:
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def _server_ms(r: requests.Response) -> float:
    """The handler's own time from the answer's ``Server-Timing: app;dur=…``."""
    return float(r.headers.get("server-timing", "app;dur=nan").split("dur=")[1])


def api_latency(api: ApiServer, n: int) -> dict[str, float]:
    """Submit and thumbnail medians over one keep-alive session."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {api.tokens['ada']}"
    base = api.server.base_url
    app_ms: dict[str, list[float]] = {"submit": [], "thumbnail": [], "revisit": []}

    def submit(i: int) -> None:
        r = session.post(base + "/api/v1/jobs", json={"prompt": f"bench fox {i} {time.time()}"})
        assert r.status_code == 202, r.text
        app_ms["submit"].append(_server_ms(r))

    submit_ms = _ms(submit, n)
    ids = [img["id"] for img in session.get(
        base + "/api/v1/images", params={"limit": 96}).json()["images"]][:n]
    etags: dict[str, str] = {}

    def thumb(i: int) -> None:
        r = session.get(f"{base}/api/v1/images/{ids[i % len(ids)]}/thumbnail")
        assert r.status_code == 200
        etags[ids[i % len(ids)]] = r.headers["etag"]
        app_ms["thumbnail"].append(_server_ms(r))

    def revisit(i: int) -> None:
        image = ids[i % len(ids)]
        r = session.get(f"{base}/api/v1/images/{image}/thumbnail",
                        headers={"If-None-Match": etags[image]})
        assert r.status_code == 304
        app_ms["revisit"].append(_server_ms(r))

    thumb_ms = _ms(thumb, min(n, len(ids)))
    revisit_ms = _ms(revisit, min(n, len(ids)))
    return {**{f"{k}_in_app_p50_ms": round(statistics.median(v), 2) for k, v in app_ms.items()
               if v},
            "submit_p50_ms": round(statistics.median(submit_ms), 2),
            "thumbnail_p50_ms": round(statistics.median(thumb_ms), 2),
            "thumbnail_304_p50_ms": round(statistics.median(revisit_ms), 2)}


class Meter:
    """Bytes that crossed the network to the page, from Chromium's own accounting (CDP):
    WebSocket frames received, and every HTTP response's encoded length (0 for an answer
    from the browser's cache, which never reaches the network)."""

    def __init__(self, page: Page) -> None:
        self.ws = self.http = self.images = 0
        self._urls: dict[str, str] = {}
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.on("Network.webSocketFrameReceived", self._frame)
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.loadingFinished", self._finished)

    def _frame(self, event: dict[str, Any]) -> None:
        payload = event["response"]["payloadData"]  # base64 for a binary frame (opcode 2)
        binary = event["response"].get("opcode") == 2
        self.ws += len(base64.b64decode(payload)) if binary else len(payload.encode())

    def _sent(self, event: dict[str, Any]) -> None:
        self._urls[event["requestId"]] = event["request"]["url"]

    def _finished(self, event: dict[str, Any]) -> None:
        size = int(event.get("encodedDataLength", 0))
        self.http += size
        if size and "/api/v1/images/" in self._urls.get(event["requestId"], ""):
            self.images += 1

    def take(self) -> tuple[int, int, int]:
        got = (self.ws, self.http, self.images)
        self.ws = self.http = self.images = 0
        return got


def _quiet(page: Page) -> None:
    """Let the flip finish: the script, then the grid's images (loaded after it renders), and
    Chromium's events reach this process (they are delivered while Playwright waits)."""
    h.wait_settled(page)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(SETTLE_MS)


def _flip(page: Page, meter: Meter, label: str) -> dict[str, int]:
    _quiet(page)
    meter.take()
    page.get_by_role("button", name=label, exact=True).first.click()
    _quiet(page)
    ws, http, images = meter.take()
    return {"ws": ws, "http": http, "image_requests": images, "total": ws + http}


def flips(api: ApiServer) -> dict[str, Any]:
    """The four flips in Chromium, and the computed data-URL size of page 1's thumbnails."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(h.CHROMIUM), args=h.CHROMIUM_ARGS)
        page = browser.new_context(viewport=h.DESKTOP).new_page()
        meter = Meter(page)
        h.open_app(page, api.server)
        h.sign_in(page, "ada", "correct horse battery staple")
        h.wait_settled(page)
        h.wait_for_cookie(page)
        h.open_app(page, api.server, "gallery")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(h.SCREENSHOTS / "bench-api-gallery.png"))
        first = _flip(page, meter, "Next")
        back = _flip(page, meter, "Previous")
        again = _flip(page, meter, "Next")
        browser.close()
    if first["image_requests"] < PAGE_TILES:  # a grid that drew nothing would look cheap
        raise RuntimeError(f"the first flip loaded {first['image_requests']} thumbnails, not "
                           f"{PAGE_TILES}: the grid did not render (see bench-api-gallery.png)")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {api.tokens['ada']}"
    cards = session.get(api.server.base_url + "/api/v1/images", params={"limit": 24}).json()
    inline = 0
    for card in cards["images"]:
        body = session.get(api.server.base_url + card["thumbnail_url"]).content
        inline += len("data:image/webp;base64,") + len(base64.b64encode(body))
    return {"flip_first": first, "flip_revisit": back, "flip_revisit_again": again,
            "flip_first_bytes": first["total"], "flip_revisit_bytes": back["total"],
            "flip_before_bytes": back["ws"] + inline,
            "flip_revisit_ratio": round(back["total"] / max(1, first["total"]), 4)}


def _real_images(count: int) -> Any:
    """A ``prepare`` hook: ``count`` finished sandbox jobs of ada's (the Gallery hides demo
    data by default, so the flips need real images), made before the server starts."""
    def prepare(eng: Any, now: Any) -> None:
        from lib import jobs
        for i in range(count):
            jobs.submit(eng, "ada", jobs.JobSpec(prompt=f"bench gallery fox {i}"))
        eng.start_workers()
        deadline = time.monotonic() + 300
        while eng.db.scalar("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')"):
            if time.monotonic() > deadline:
                raise RuntimeError("the bench's gallery jobs did not finish")
            time.sleep(0.2)
    return prepare


def on_postgres(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Submit and thumbnail latency with the server's database in PostgreSQL."""
    from tests import pgserver

    with pgserver.running_postgres(pgserver.find_bindir()) as server:
        api = start(tmp, "bench-pg", database_url=server.new_database("bench_api"),
                    prepare=_real_images(args.gallery), PROMPTBOARD_SANDBOX_LATENCY="30")
        try:
            return api_latency(api, args.requests)
        finally:
            api.server.stop()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run everything once; print and return the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--images", type=int, default=300, help="demo images (not in the flips)")
    ap.add_argument("--gallery", type=int, default=60, help="real images: 2.5 gallery pages")
    ap.add_argument("--db", choices=("duckdb", "both"), default="duckdb")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        # Sandbox jobs sleep most of their 30 s, so the submits queued by the benchmark do
        # not draw images on the cores the measured requests need.
        api = start(Path(tmp), "bench", demo_images=args.images,
                    prepare=_real_images(args.gallery), PROMPTBOARD_SANDBOX_LATENCY="30")
        try:
            out: dict[str, Any] = {**api_latency(api, args.requests), **flips(api)}
        finally:
            api.server.stop()
        if args.db == "both":
            out["postgres"] = on_postgres(Path(tmp), args)
    out["targets"] = TARGETS
    out["met"] = {k: out[k] <= v for k, v in TARGETS.items()}
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
