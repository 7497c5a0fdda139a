"""The load scenario scaled out (issue #15): two dashboard replicas and two worker processes
on one PostgreSQL database, sharing one image folder, with sessions spread over the replicas
as a sticky proxy would place them.

The history to browse is made as on DuckDB (demo data is generated into DuckDB only) and
copied into PostgreSQL with ``db copy``'s code; the replicas run with ``PROMPTBOARD_REPLICA=1``
(their start-up checks pass: shared database, cookie key and image store) and
``PROMPTBOARD_WORKERS=0``, so every job runs in the worker processes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.reliability import _load_helpers as load

COOKIE_KEY = "replica-load-cookie-key-0123456789abcdef"


def seed_postgres(sessions: int, demo_images: int, data_dir: Path, url: str) -> None:
    """Users and a demo history, made in the data dir's DuckDB file, copied to ``url``."""
    from lib.db import transfer

    load.seed(sessions, demo_images)
    source = transfer.open_end(str(data_dir / "promptboard.duckdb"))
    target = transfer.open_end(url)
    try:
        transfer.copy(source, target)
    finally:
        source.close()
        target.close()
    (data_dir / "promptboard.duckdb").rename(data_dir / "seeded-before-copy.duckdb")


def run_replicated_load(data_dir: Path, log_path: Path, url: str, sessions: int,
                        seconds: float, *, demo_images: int, replicas: int = 2,
                        worker_procs: int = 2, threads: int = 2, latency: float = 0.2
                        ) -> tuple[dict[str, Any], dict[str, Any], load.Shared, str]:
    """Seed, serve (replicas + workers), load, drain, stop, verify."""
    from tests.browser import harness
    from tests.helpers import ROOT

    seed_postgres(sessions, demo_images, data_dir, url)
    env = harness.clean_env(data_dir, PROMPTBOARD_SANDBOX_LATENCY=str(latency),
                            PROMPTBOARD_DATABASE_URL=url, PROMPTBOARD_COOKIE_KEY=COOKIE_KEY,
                            PROMPTBOARD_REPLICA="1", PROMPTBOARD_WORKERS="0")
    servers: list[harness.AppServer] = []
    workers: list[subprocess.Popen[bytes]] = []
    shared = load.Shared()
    try:
        for i in range(replicas):
            servers.append(harness.AppServer(f"replica{i}", data_dir, log_path, env=env).start())
        with log_path.open("ab") as log:
            workers = [subprocess.Popen(
                [sys.executable, "-m", "lib.cli", "work", "--threads", str(threads)],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
                for _ in range(worker_procs)]
        urls = [s.base_url for s in servers]
        load_s = load.run_sessions(urls, sessions, seconds, shared)
        drain_s = load.drain(urls[-1], load.DRAIN_BOUND, shared)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=30)
        for s in servers:
            s.stop()
    log_text = log_path.read_text(errors="replace")[-200_000:]
    found = load.verify(data_dir, shared, database_url=url)
    rep = load.report(shared, found["jobs"], load_s, drain_s, sessions)
    rep["settings"] = {"sandbox_latency_s": latency, "replicas": replicas,
                       "worker_processes": worker_procs, "threads_per_worker": threads,
                       "demo_images": demo_images, "database": "postgresql"}
    rep["worker_exit_codes"] = [w.returncode for w in workers]
    return rep, found, shared, log_text
