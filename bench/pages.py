"""Benchmark of the Gallery page; prints one JSON object.

    python -m bench.pages [--images 100000] [--runs 7] [--flips 100]

- ``gallery_100k_render_ratio``: AppTest render of the Gallery's first page with 100,000
  demo images / with an empty gallery (medians of ``--runs`` renders each). Target <= 1.5.
  The two pages render turn about (empty, full, empty, ...), each on its own data dir and
  engine, so a slow spell of this shared machine slows both sides alike.
  (The Gallery hides demo data by default, so that page shows none of the 100k.)
- ``gallery_100k_demo_shown_ratio``: with "Include demo data" on, all 100,000 in view;
  ``gallery_100k_tag_filter_ratio``: that and the Filters' tag filter set (one tag of 37,
  about 3,300 images); ``gallery_100k_tag_all_ratio``: two tags an image must both carry
  ("match all"). Each / the empty gallery. The 100,000 images carry one "theme-N" tag each
  (30 themes) and every third one a "mood-N" too (7 moods): 133,334 tag rows. Target <= 1.5.
- ``search_query_ms_p50``: ``gallery.search`` alone at 100k (no page cache): all images,
  one tag, two tags "match all", and the search box finding text in tags or in prompts.
- ``gallery_flip_rss_growth_mb``: resident memory growth of this process over 100 page flips
  of the Gallery, after 20 warm-up flips over the same page range (so DuckDB's buffer
  cache is warm and what is left is growth per flip). Target <= 50.

Both run the real page in AppTest (in this process), signed in as an admin with a session
record (``tests.helpers.sign_in``), on temporary data dirs filled by ``lib.demo``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    """Current resident set size of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


TAGS_SQL = """
    INSERT INTO image_tags (image_id, tag, added_by, added_at)
    SELECT id, 'theme-' || (rn % 30), user_id, created_at FROM n
    UNION ALL SELECT id, 'mood-' || (rn % 7), user_id, created_at FROM n WHERE rn % 3 = 0"""
TAG_FILTERS = {"demo_shown": ([], False), "tag_filter": (["theme-3"], False),
               "tag_all": (["theme-3", "mood-3"], True)}


def _tag_all(eng: Any) -> None:
    """A theme tag on every image, and a mood tag on every third (see the docstring)."""
    with eng.db.write() as cur:
        cur.execute("WITH n AS (SELECT id, user_id, created_at, row_number() OVER (ORDER BY id) "
                    "AS rn FROM images) " + TAGS_SQL)


def _gallery(data_dir: str, images: int, tags: tuple[list[str], bool] | None = None) -> Any:
    """An AppTest on the Gallery page for a fresh data dir holding ``images`` demo images
    (tagged, see :func:`_tag_all`); ``tags``: the tag filter to set (and "match all")."""
    from streamlit.testing.v1 import AppTest

    from lib import demo, ui
    from lib.auth import accounts as auth
    from lib.core import config
    from lib.core.clock import utcnow
    from lib.engine import Engine
    from tests.helpers import sign_in

    os.environ["PROMPTBOARD_DATA_DIR"] = data_dir  # ui.engine() keeps one per data dir
    if images:
        eng = Engine(config.load())
        demo.generate(eng, images=images, days=90)
        _tag_all(eng)
        eng.close()
    eng = ui.engine()
    if auth.get_user(eng.db, "bench") is None:
        auth.create_user(eng.db, "bench", "Bench", None, "admin", "bench-password-1",
                         now=utcnow())
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    sign_in(at, "bench")
    if tags is not None:
        at.session_state["gal_tags"], at.session_state["gal_tags_all"] = tags
        at.session_state["gal_demo"] = True  # the demo images are the 100k: in view
    at.run()
    at.switch_page("screens/gallery.py").run()
    if at.exception:
        raise RuntimeError([e.value for e in at.exception])
    return at


def query_ms(data_dir: str, runs: int) -> dict[str, float]:
    """p50 of ``gallery.search`` itself (no page cache) on the first page, as the bench admin:
    everything, one tag, two tags with "match all", and the search box finding a tag."""
    from lib import ui
    from lib.auth.access import Viewer
    from lib.gallery import queries as gallery

    os.environ["PROMPTBOARD_DATA_DIR"] = data_dir
    db, viewer = ui.engine().db, Viewer("bench", "admin")
    cases = {"all_images": {}, "tag": {"tags": ("theme-3",)},
             "tag_all": {"tags": ("theme-3", "mood-3"), "tags_all": True},
             "search_tag_text": {"text": "mood-3"}, "search_prompt_text": {"text": "lighthouse"}}
    out = {}
    for name, kw in cases.items():
        f = gallery.GalleryFilter(**kw)  # type: ignore[arg-type]
        times = []
        for _ in range(runs + 1):
            t = time.perf_counter()
            gallery.search(db, viewer, f)
            times.append((time.perf_counter() - t) * 1000)
        out[name] = round(statistics.median(times[1:]), 1)
    return out


def paired_ms(pages: dict[str, tuple[str, Any]], runs: int,
              before: Callable[[], None] | None = None) -> dict[str, list[float]]:
    """Re-render each (data dir, AppTest) of ``pages`` in turn, ``runs`` rounds (after one
    warm-up round), calling ``before()`` ahead of each render; wall times per page."""
    out: dict[str, list[float]] = {name: [] for name in pages}
    for i in range(runs + 1):
        for name, (data_dir, at) in pages.items():
            os.environ["PROMPTBOARD_DATA_DIR"] = data_dir
            if before is not None:
                before()
            t = time.perf_counter()
            at.run()
            if i:
                out[name].append((time.perf_counter() - t) * 1000)
            if at.exception:
                raise RuntimeError([e.value for e in at.exception])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--flips", type=int, default=100)
    args = ap.parse_args()
    os.environ.update(PROMPTBOARD_SANDBOX_LATENCY="0",
                      PROMPTBOARD_LOG_LEVEL="WARNING")
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as empty_dir, tempfile.TemporaryDirectory() as full_dir:
        empty = _gallery(empty_dir, 0)
        t = time.perf_counter()
        full = _gallery(full_dir, args.images)
        fill_s = time.perf_counter() - t
        pages = {"empty": (empty_dir, empty), "full": (full_dir, full)}
        pages |= {name: (full_dir, _gallery(full_dir, 0, f)) for name, f in TAG_FILTERS.items()}
        paired = paired_ms(pages, args.runs)
        empty_ms, full_ms = paired["empty"], paired["full"]
        tag_captions = {name: next(c.value for c in pages[name][1].caption if "match" in c.value)
                        for name in TAG_FILTERS}
        search_ms = query_ms(full_dir, args.runs)
        os.environ["PROMPTBOARD_DATA_DIR"] = full_dir
        for i in range(20):  # warm up over the same range the flips visit (DuckDB's buffers)
            full.session_state["gal_page"] = (i * 211) % 4000
            full.run()
        before = rss_mb()
        flip_ms = []
        for i in range(args.flips):
            full.session_state["gal_page"] = (i * 37) % 4000  # jump around, like a reader
            t = time.perf_counter()
            full.run()
            flip_ms.append((time.perf_counter() - t) * 1000)
        after = rss_mb()
        if full.exception:
            raise RuntimeError([e.value for e in full.exception])
        matches = next(c.value for c in full.caption if "match" in c.value)
    out = {
        "gallery_100k_render_ratio": round(statistics.median(full_ms)
                                           / statistics.median(empty_ms), 3),
        **{f"gallery_100k_{name}_ratio": round(statistics.median(paired[name])
                                               / statistics.median(empty_ms), 3)
           for name in TAG_FILTERS},
        "gallery_flip_rss_growth_mb": round(after - before, 1),
        "render_ms_p50": {name: round(statistics.median(ms), 1) for name, ms in paired.items()},
        "search_query_ms_p50": search_ms,
        "flip_ms_p50": round(statistics.median(flip_ms), 1),
        "flip_ms_max": round(max(flip_ms), 1),
        "rss_mb": {"before_flips": round(before, 1), "after_flips": round(after, 1)},
        "config": {"images": args.images, "runs": args.runs, "flips": args.flips,
                   "fill_s": round(fill_s, 1), "last_page_caption": matches,
                   "tag_filter_captions": tag_captions,
                   "cpus": os.cpu_count()},
        "targets": {"gallery_100k_render_ratio": 1.5, "gallery_100k_tag_filter_ratio": 1.5,
                    "gallery_100k_tag_all_ratio": 1.5, "gallery_flip_rss_growth_mb": 50},
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
