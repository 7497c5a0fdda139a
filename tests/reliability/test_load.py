"""Load (issue #7): twenty signed-in sessions submit, browse and filter at once.

One real ``streamlit run`` server (one DuckDB process, its worker pool, sandbox latency
0.2 s); the sessions speak Streamlit's websocket protocol from threads of the test process
(see ``_wsclient.py`` for why not AppTest threads or twenty Chromium tabs). What must hold:

* no render shows an exception, and no error a person sees mentions a lock, a conflict, a
  transaction or the database; the server log has no traceback;
* every submit the UI acknowledged ("Queued.") is exactly one job in the database, finished,
  with its image; every favourite set is a row (no row lost, none doubled);
* the worker keeps up: the queue is empty within a bound after the load stops.

Throughput, queue wait and render times are reported (``artifacts/load/*.json`` and the
terminal), not asserted: speed lives in ``bench/``. The short variant always runs (~50 s);
``PROMPTBOARD_SOAK=1`` runs the same for three minutes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.browser import harness
from tests.reliability import _load_helpers as load
from tests.reliability._replica_load import run_replicated_load

SESSIONS = 20
DEMO_IMAGES = 1000
SHORT_SECONDS = 15.0
SOAK_SECONDS = 180.0
ARTIFACTS = harness.ARTIFACTS / "load"


def _data_dir() -> Path:
    return Path(os.environ["PROMPTBOARD_DATA_DIR"])  # the conftest's per-test dir


def check_and_report(name: str, rep: dict[str, Any], found: dict[str, Any],
                     shared: load.Shared, log: str, capsys: pytest.CaptureFixture[str]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(rep, indent=2, default=str))
    with capsys.disabled():
        print("\n" + "\n".join(load.summary_lines(rep)))

    assert not shared.failures, "sessions broke off:\n" + "\n".join(shared.failures)
    shown = [(r.page, r.action, e) for r in shared.renders for e in r.exceptions]
    assert not shown, f"exceptions on screen: {shown[:10]}"
    db_errors = [(r.page, r.action, e) for r in shared.renders for e in r.errors
                 if load.DB_TROUBLE.search(e)]
    assert not db_errors, f"database errors reached people: {db_errors[:10]}"
    assert not shared.refused, f"submits not queued: {shared.refused[:10]}"
    troubles = [line for line in log.splitlines() if load.LOG_TROUBLE.search(line)]
    assert not troubles, "server log:\n" + "\n".join(troubles[:20])

    jobs = found["jobs"]
    prompts = sorted(j["prompt"] for j in jobs)
    assert prompts == sorted(shared.submitted), "jobs in the DB differ from acknowledged submits"
    assert rep["drain_seconds_after_load"] is not None, (
        f"the queue was not empty {load.DRAIN_BOUND:.0f} s after the load stopped")
    unfinished = [(j["id"], j["status"], j["error_message"]) for j in jobs
                  if j["status"] != "succeeded" or j["images"] != j["n"]]
    assert not unfinished, f"jobs that did not finish with their images: {unfinished[:10]}"
    lost = shared.favourites - found["favourites"]
    assert not lost, f"favourites acknowledged but not stored: {sorted(lost)[:10]}"
    # A floor, not a speed target: a run that barely submitted proves nothing about losses.
    assert rep["submitted"] >= 5, "the load hardly submitted anything"


def test_twenty_sessions_at_once_lose_nothing_and_show_no_database_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rep, found, shared, log = load.run_load(_data_dir(), tmp_path / "server.log", SESSIONS,
                                            SHORT_SECONDS, demo_images=DEMO_IMAGES)
    check_and_report("short", rep, found, shared, log, capsys)


def test_two_replicas_and_two_workers_on_postgresql_forty_sessions(
        tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue #15's load test: 40 websocket sessions over two dashboard replicas, every job
    run by two worker processes; the same checks as one server's."""
    rep, found, shared, log = run_replicated_load(
        _data_dir(), tmp_path / "servers.log", postgres_url, 40, SHORT_SECONDS,
        demo_images=DEMO_IMAGES)
    check_and_report("replicas", rep, found, shared, log, capsys)
    assert rep["worker_exit_codes"] == [0, 0]  # SIGTERM: leases let go, a clean exit


@pytest.mark.soak
@pytest.mark.skipif(os.environ.get("PROMPTBOARD_SOAK") != "1",
                    reason="three minutes of load: set PROMPTBOARD_SOAK=1")
def test_twenty_sessions_for_three_minutes(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    rep, found, shared, log = load.run_load(_data_dir(), tmp_path / "server.log", SESSIONS,
                                            SOAK_SECONDS, demo_images=DEMO_IMAGES)
    check_and_report("soak", rep, found, shared, log, capsys)
