"""Benchmark of the Analytics page and its queries; prints one JSON object.

    python -m bench.analytics [--images 1000000] [--days 365] [--runs 7]

- ``analytics_1m_query_ms``: every query behind the page's default view (last 30 days,
  an admin, spend split by provider, durations by provider, ledger page 1, filter choices,
  budget, this month), run straight against DuckDB with no cache: the median of ``--runs``
  passes. Target <= 300.
- ``analytics_1m_render_ratio``: AppTest render of the Analytics page with the demo history
  / with an empty ledger, medians of ``--runs`` renders each. Like ``bench.pages``, a
  render re-runs the whole script (widgets, figures built and serialised, the ledger
  table) with the queries served from the page's cache, which holds until the next write.
  Target <= 2.0. Cold renders (the cache cleared first, so every query runs, as after a
  write or a change of filters) are reported beside it.
- ``export_1m_csv_s``: the full-year ledger (one row per image, plus failed jobs) written
  as CSV by ``lib.reporting.report.export``: the median of 3. Target <= 10. Parquet is reported too.
- ``cold_render_queries``: the analytics and ledger functions one cold render of the full page
  calls, which of them ran on the page's prefetch pool (threads named ``analytics*``) and
  which in the script, any called more than once, and what a change of "Split by" runs.
  No target: the ideal is each query once, all but the filter choices and budget prefetched.

The page runs in AppTest in this process, signed in as an admin with a session record
(``tests.helpers.sign_in``), on temporary data dirs; the history comes from ``lib.demo``
(``--images`` images over ``--days`` days: a job asks for 1 to 4 images, some fail).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.pages import paired_ms

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "screens" / "analytics.py"
TARGETS = {"analytics_1m_query_ms": 300, "analytics_1m_render_ratio": 2.0,
           "export_1m_csv_s": 10}


def _page(data_dir: str, images: int, days: int) -> tuple[Any, dict[str, Any]]:
    """A rendered AppTest of the page on a fresh data dir with ``images`` demo images, and
    what the demo wrote."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from lib import demo, ui
    from lib.auth import accounts as auth
    from lib.core import config
    from lib.core.clock import utcnow
    from lib.engine import Engine
    from tests.helpers import sign_in

    st.cache_data.clear()
    os.environ["PROMPTBOARD_DATA_DIR"] = data_dir  # ui.engine() keeps one per data dir
    made: dict[str, Any] = {"images": 0, "jobs": 0}
    if images:
        eng = Engine(config.load())
        t = time.perf_counter()
        summary = demo.generate(eng, images=images, days=days, events=False)
        made = {"images": summary.images, "jobs": summary.jobs, "failed": summary.failed,
                "cancelled": summary.cancelled, "fill_s": round(time.perf_counter() - t, 1)}
        eng.close()
    eng = ui.engine()
    if auth.get_user(eng.db, "bench") is None:
        auth.create_user(eng.db, "bench", "Bench", None, "admin", "bench-password-1",
                         now=utcnow())
    at = AppTest.from_file(str(PAGE), default_timeout=300)
    sign_in(at, "bench")
    at.run()
    if at.exception:
        raise RuntimeError([e.value for e in at.exception])
    return at, made


def _clear() -> None:
    """Empty the page's caches, so a render runs every query (a cold render)."""
    import streamlit as st

    from lib.ui import dashboard

    st.cache_data.clear()
    dashboard.clear_cache()


def default_view_ms(runs: int, db: Any = None) -> tuple[list[float], dict[str, float]]:
    """Every query behind the default view, uncached: total per pass, and median per query.
    ``db``: another database holding the same rows (PostgreSQL); default the page's own."""
    from types import SimpleNamespace

    from lib import ui
    from lib.reporting import analytics, ledger
    from lib.ui.dashboard import preset_range

    page = ui.engine()
    eng = SimpleNamespace(db=db or page.db)
    viewer = analytics.Viewer("bench", "admin")
    today = page.clock.now().date()
    f = analytics.Filters(*preset_range("30 days", today))
    budget = analytics.budget_for(eng.db, viewer)
    rows = {"ledger_rows": 0}
    queries = {
        "facets": lambda: analytics.facets(eng.db, viewer),
        "summary": lambda: rows.update(  # the page takes the ledger's length from here
            ledger_rows=analytics.summary(eng.db, viewer, f).current.ledger_rows),
        "spend_by_day": lambda: analytics.spend_by_day(eng.db, viewer, f, "provider"),
        "budget_for": lambda: analytics.budget_for(eng.db, viewer),
        "cumulative_month": lambda: analytics.cumulative_month(
            eng.db, viewer, f, f.end, today, budget.monthly_usd if budget else None),
        "by_model_and_user": lambda: analytics.breakdowns(eng.db, viewer, f, ("model", "user"),
                                                          times=False),
        "durations": lambda: analytics.durations(eng.db, viewer, f, "provider"),
        "failures": lambda: analytics.failures(eng.db, viewer, f),
        "ledger": lambda: ledger.ledger(eng.db, viewer, f, 0, 50, rows["ledger_rows"]),
    }
    totals, each = [], {name: [] for name in queries}  # type: dict[str, list[float]]
    for _ in range(runs + 1):  # the first pass warms DuckDB's buffers and is dropped
        start = time.perf_counter()
        for name, run in queries.items():
            t = time.perf_counter()
            run()
            each[name].append((time.perf_counter() - t) * 1000)
        totals.append((time.perf_counter() - start) * 1000)
    return totals[1:], {k: round(statistics.median(v[1:]), 1) for k, v in each.items()}


def export_s(fmt: str, runs: int, days: int, db: Any = None) -> tuple[list[float], int, int]:
    """Full-period ledger exports: wall times, rows and the file's size in bytes."""
    from types import SimpleNamespace

    from lib import ui
    from lib.reporting import analytics, report

    page = ui.engine()
    eng = SimpleNamespace(db=db or page.db)
    today = page.clock.now().date()
    f = analytics.Filters(today - timedelta(days=days), today)
    times, rows, size = [], 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            path = Path(tmp) / f"ledger-{i}.{fmt}"
            t = time.perf_counter()
            rows = report.export(eng.db, analytics.Viewer("bench", "admin"), f, fmt, path)
            times.append(time.perf_counter() - t)
            size = path.stat().st_size
            path.unlink()
    return times, rows, size


def cold_render_queries(data_dir: str, at: Any) -> dict[str, Any]:
    """Which queries a cold render runs, and where; then which a change of split runs."""
    from collections import Counter

    import pytest

    from tests.helpers import count_queries

    def short(name: str) -> str:
        return name.rsplit(".", 1)[-1]

    os.environ["PROMPTBOARD_DATA_DIR"] = data_dir
    with pytest.MonkeyPatch.context() as mp:
        ran = count_queries(mp)
        _clear()
        at.run()
        cold = list(ran)
        ran.clear()
        split = next(b for b in at.get("button_group") if b.label == "Split by")
        split.set_value("model").run()
        after = [short(n) for n, _ in ran]
    if at.exception:
        raise RuntimeError([e.value for e in at.exception])
    counts = Counter(short(n) for n, _ in cold)
    return {"calls": len(cold),
            "on_pool": sorted({short(n) for n, t in cold if t.startswith("analytics")}),
            "in_script": sorted({short(n) for n, t in cold if not t.startswith("analytics")}),
            "repeated": sorted(n for n, c in counts.items() if c > 1),
            "after_split_change": sorted(after)}


def on_postgres(runs: int, days: int) -> dict[str, Any]:
    """The default view's queries and the year's exports on PostgreSQL, on the same rows: the
    page's DuckDB database copied (``db copy``'s code) into a private cluster for the run."""
    from lib import ui
    from lib.db import transfer
    from lib.db.database import Database
    from tests import pgserver

    with pgserver.running_postgres(pgserver.find_bindir()) as server:
        pg = Database(server.new_database("bench_analytics"))
        try:
            t = time.perf_counter()
            copied = transfer.copy(ui.engine().db, pg)  # ends with VACUUM (ANALYZE)
            copy_s = time.perf_counter() - t
            query_ms, per_query = default_view_ms(runs, pg)
            csv_s, rows, _ = export_s("csv", 3, days, pg)
            parquet_s, _, _ = export_s("parquet", 3, days, pg)
        finally:
            pg.close()
    return {"query_ms": round(statistics.median(query_ms), 1),
            "query_ms_min_max": [round(min(query_ms), 1), round(max(query_ms), 1)],
            "median_per_query": per_query, "export_csv_s": round(statistics.median(csv_s), 2),
            "export_parquet_s": round(statistics.median(parquet_s), 2), "export_rows": rows,
            "copy_s": round(copy_s, 1), "copied_rows": copied.total,
            "server": "Debian's PostgreSQL 15, private cluster in /dev/shm, fsync off"}


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--db", choices=("duckdb", "both"), default="duckdb",
                    help="both: the queries and exports on PostgreSQL too, same rows, same run")
    args = ap.parse_args()
    os.environ.update(PROMPTBOARD_SANDBOX_LATENCY="0",
                      PROMPTBOARD_LOG_LEVEL="WARNING")
    sys.path.insert(0, str(ROOT))
    load_before = _load()
    with tempfile.TemporaryDirectory() as empty_dir, tempfile.TemporaryDirectory() as full_dir:
        empty, _ = _page(empty_dir, 0, args.days)
        full, made = _page(full_dir, args.images, args.days)
        pages = {"empty": (empty_dir, empty), "full": (full_dir, full)}
        warm = paired_ms(pages, args.runs)
        cold = paired_ms(pages, args.runs, before=_clear)
        empty_ms, full_ms, empty_cold, full_cold = (
            warm["empty"], warm["full"], cold["empty"], cold["full"])
        os.environ["PROMPTBOARD_DATA_DIR"] = full_dir
        query_ms, per_query = default_view_ms(args.runs)
        csv_s, rows, csv_bytes = export_s("csv", 3, args.days)
        parquet_s, _, parquet_bytes = export_s("parquet", 3, args.days)
        spend = next(m.value for m in full.metric if m.label == "Spend")
        queries = cold_render_queries(full_dir, full)
        postgres = on_postgres(args.runs, args.days) if args.db == "both" else None
    out = {
        "analytics_1m_query_ms": round(statistics.median(query_ms), 1),
        "analytics_1m_render_ratio": round(statistics.median(full_ms)
                                           / statistics.median(empty_ms), 3),
        "export_1m_csv_s": round(statistics.median(csv_s), 2),
        "targets": TARGETS,
        **({"postgres": postgres | {
            "query_ratio_to_duckdb": round(postgres["query_ms"]
                                           / statistics.median(query_ms), 2),
            "targets": {"query_ratio_to_duckdb": 2.0, "export_csv_s": 10}}}
           if postgres else {}),
        "query_ms": {"min": round(min(query_ms), 1), "max": round(max(query_ms), 1),
                     "median_per_query": per_query},
        "render_ms_p50": {"empty": round(statistics.median(empty_ms), 1),
                          "full": round(statistics.median(full_ms), 1)},
        "render_ms_cold_p50": {"empty": round(statistics.median(empty_cold), 1),
                               "full": round(statistics.median(full_cold), 1),
                               "ratio": round(statistics.median(full_cold)
                                              / statistics.median(empty_cold), 3)},
        "cold_render_queries": queries,
        "export": {"rows": rows, "csv_mb": round(csv_bytes / 1e6, 1),
                   "parquet_s": round(statistics.median(parquet_s), 2),
                   "parquet_mb": round(parquet_bytes / 1e6, 1)},
        "config": {"images": args.images, "days": args.days, "runs": args.runs,
                   "demo": made,
                   "default_view": "last 30 days, admin, split by provider", "spend": spend,
                   "cpus": os.cpu_count(), "loadavg_before": load_before,
                   "loadavg_after": _load()},
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
