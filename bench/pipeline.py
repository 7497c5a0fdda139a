"""Benchmark of the job pipeline; prints one JSON object.

    python -m bench.pipeline [--runs 3] [--jobs 200] [--size 1024] [--db duckdb|postgres|both]

- ``submit_ms_p50``: submit one job until it is queued (median of many).
- ``overhead_ms_p50_1024``: a provider returns a 1024x1024 PNG instantly -> job succeeded
  (validate, metadata, watermark, thumbnail, local store, rows written); median.
- ``throughput_ratio``: 200 sandbox jobs at 0.5 s latency with 8 workers and a provider cap of 8:
  wall time / ideal (200 x 0.5 / 8 = 12.5 s). Median over runs, after a short warm-up run
  that is not counted.

- ``local_put_ms_p50_1_5mb``: ``LocalStorage.put`` of a 1.5 MB blob (median of 20 a run), no
  target: reported so a slow disk shows beside the overhead it is part of.

Each run uses a fresh temporary data dir. Targets (issue "Core"): <= 5 ms, <= 60 ms, <= 1.15.

- ``scale_ratio``: the scale-out figure (issue #15): 400 sandbox jobs at 0.5 s latency and 16
  provider slots. On PostgreSQL the slots are spread over 2 worker *processes*
  (``python -m lib.cli work --threads 8`` each, started before the jobs are queued); on DuckDB,
  which one process holds, 16 threads in this process. Wall time (first claim to last
  finish, from the jobs' rows) / ideal (400 x 0.5 / 16 = 12.5 s). Images are 256 px: at 32
  jobs/s, 1024 px images would need about 1.9 cores for drawing, encoding and thumbnails
  alone (``overhead_ms_p50_1024``) on a 2-core machine. Target <= 1.15.

``--db postgres`` runs the same measures on PostgreSQL: a private cluster started for the run
(tests/pgserver.py: Debian's PostgreSQL 15 in /dev/shm, fsync off), a fresh database per
measure. ``--db both`` runs DuckDB and PostgreSQL in one run and prints both, keyed by backend.
``throughput_ratio`` keeps its worker threads in this one process on both backends.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from lib import jobs
from lib.core import config
from lib.engine import Engine
from lib.imaging import images as imaging
from lib.jobs.claim import claim
from lib.jobs.pipeline import process
from lib.providers.base import GeneratedImage, GenerationRequest, GenerationResult, JobContext
from lib.providers.sandbox import SandboxProvider
from lib.storage.local import LocalStorage


def _png_1024() -> bytes:
    img = Image.linear_gradient("L").resize((1024, 1024)).convert("RGB")
    draw = ImageDraw.Draw(img)
    for i in range(12):
        draw.ellipse((40 * i, 30 * i, 40 * i + 300, 30 * i + 260), fill=(20 * i, 90, 200 - 10 * i))
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=3)
    return buf.getvalue()


class _Instant(SandboxProvider):
    """Returns a ready 1024x1024 PNG at once, so only our own overhead is measured."""

    png = b""

    def generate(self, req: GenerationRequest, ctx: JobContext) -> GenerationResult:
        return GenerationResult([GeneratedImage(self.png)], {"images": 1.0}, "bench", 1)


DATABASES: Iterator[str] | None = None  # fresh PostgreSQL URLs when the run is on PostgreSQL


def _settings(tmp: str, **env: str) -> config.Settings:
    os.environ.update({"PROMPTBOARD_DATA_DIR": tmp, "PROMPTBOARD_STORAGE": "local", **env})
    os.environ["PROMPTBOARD_DATABASE_URL"] = next(DATABASES) if DATABASES is not None else ""
    return config.load()


def bench_submit(tmp: str, count: int = 300) -> float:
    """Median ms to submit one job (no workers running)."""
    eng = Engine(_settings(tmp))
    try:
        times = []
        for i in range(count):
            t = time.perf_counter()
            jobs.submit(eng, f"u{i % 5}", jobs.JobSpec(prompt=f"bench {i}", width=512, height=512))
            times.append((time.perf_counter() - t) * 1000)
        return statistics.median(times)
    finally:
        eng.close()


def bench_local_put(tmp: str, count: int = 20) -> float:
    """Median ms of LocalStorage.put of a 1.5 MB blob."""
    store = LocalStorage(Path(tmp) / "images")
    blob = os.urandom(1_500_000)
    times = []
    for i in range(count):
        t = time.perf_counter()
        store.put(f"bench/{i}.png", blob, "image/png")
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def bench_overhead(tmp: str, count: int = 40) -> float:
    """Median ms from an instant provider's return to a succeeded job."""
    _Instant.png = _png_1024()
    eng = Engine(_settings(tmp), provider_factory=lambda _p: _Instant(latency=0))
    wm = imaging.WatermarkSpec(text="Promptboard", position="bottom-right", opacity=0.6)
    try:
        times = []
        for i in range(count):
            jobs.submit(eng, "u", jobs.JobSpec(prompt=f"o{i}", width=1024, height=1024,
                                               watermark=wm))
            job = claim(eng, "bench")
            assert job is not None
            t = time.perf_counter()
            assert process(eng, job) == jobs.SUCCEEDED
            times.append((time.perf_counter() - t) * 1000)
        return statistics.median(times[5:])  # the first few warm caches up
    finally:
        eng.close()


def bench_throughput(tmp: str, n_jobs: int, size: int, latency: float = 0.5,
                     workers: int = 8) -> float:
    """Wall time of n_jobs sandbox jobs over the ideal n_jobs*latency/workers."""
    eng = Engine(_settings(tmp, PROMPTBOARD_SANDBOX_LATENCY=str(latency),
                           PROMPTBOARD_WORKERS=str(workers),
                           PROMPTBOARD_PROVIDER_CONCURRENCY=str(workers)))
    try:
        ids = [jobs.submit(eng, f"u{i % 4}", jobs.JobSpec(prompt=f"t{i}", width=size,
                                                          height=size)) for i in range(n_jobs)]
        t = time.perf_counter()
        eng.start_workers()
        while eng.db.scalar("SELECT count(*) FROM jobs WHERE status IN ('queued','running')"):
            time.sleep(0.1)
        wall = time.perf_counter() - t
        bad = [j.id for j in jobs.load(eng, ids) if j.status != jobs.SUCCEEDED]
        if bad:
            raise RuntimeError(f"{len(bad)} jobs did not succeed")
        return wall / (n_jobs * latency / workers)
    finally:
        eng.close()


def bench_scale(tmp: str, n_jobs: int = 400, latency: float = 0.5, slots: int = 16,
                procs: int = 2, size: int = 256) -> float:
    """Wall time / ideal of ``n_jobs`` sandbox jobs over ``slots`` provider slots: on
    PostgreSQL in ``procs`` worker processes, on DuckDB in this process's threads."""
    settings = _settings(tmp, PROMPTBOARD_SANDBOX_LATENCY=str(latency),
                         PROMPTBOARD_PROVIDER_CONCURRENCY=str(slots),
                         PROMPTBOARD_LOG_LEVEL="WARNING")
    eng = Engine(settings)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        if settings.database_url:
            workers = [subprocess.Popen(
                [sys.executable, "-m", "lib.cli", "work", "--threads", str(slots // procs)],
                cwd=Path(__file__).resolve().parent.parent, env=dict(os.environ),
                stdout=subprocess.DEVNULL) for _ in range(procs)]
            while (eng.db.scalar("SELECT count(*) FROM workers") or 0) < procs:
                if any(w.poll() is not None for w in workers):
                    raise RuntimeError("a worker process exited at start")
                time.sleep(0.05)
        else:
            eng.start_workers(threads=slots)
        ids = [jobs.submit(eng, f"u{i % 4}", jobs.JobSpec(prompt=f"s{i}", width=size,
                                                          height=size)) for i in range(n_jobs)]
        while eng.db.scalar("SELECT count(*) FROM jobs WHERE status IN ('queued','running')"):
            time.sleep(0.1)
        bad = [j.id for j in jobs.load(eng, ids) if j.status != jobs.SUCCEEDED]
        if bad:
            raise RuntimeError(f"{len(bad)} jobs did not succeed")
        first, last = eng.db.fetchone("SELECT min(started_at), max(finished_at) FROM jobs")
        return float((last - first).total_seconds()) / (n_jobs * latency / slots)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(timeout=30)
        eng.close()


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every measure ``args.runs`` times on the backend ``_settings`` gives; medians."""
    runs: dict[str, list[float]] = {"submit": [], "overhead": [], "throughput": [],
                                    "local_put": [], "scale": []}
    with tempfile.TemporaryDirectory() as tmp:  # warm-up, not counted: the first run of a
        bench_throughput(tmp, 32, args.size)      # process pays for imports and first calls
    for _ in range(args.runs):
        for name, fn in (("submit", bench_submit), ("overhead", bench_overhead),
                         ("local_put", bench_local_put)):
            with tempfile.TemporaryDirectory() as tmp:
                runs[name].append(fn(tmp))
        with tempfile.TemporaryDirectory() as tmp:
            runs["throughput"].append(bench_throughput(tmp, args.jobs, args.size))
        if not args.no_scale:
            with tempfile.TemporaryDirectory() as tmp:
                runs["scale"].append(bench_scale(tmp))
    return {
        "submit_ms_p50": round(statistics.median(runs["submit"]), 3),
        "overhead_ms_p50_1024": round(statistics.median(runs["overhead"]), 2),
        "throughput_ratio": round(statistics.median(runs["throughput"]), 3),
        "local_put_ms_p50_1_5mb": round(statistics.median(runs["local_put"]), 2),
        "scale_ratio": round(statistics.median(runs["scale"]), 3) if runs["scale"] else None,
        "runs": {k: [round(v, 3) for v in vals] for k, vals in runs.items()},
    }


@contextlib.contextmanager
def _on(backend: str) -> Iterator[None]:
    """Measures inside run on ``backend``: PostgreSQL gets a private cluster for the run."""
    global DATABASES
    if backend == "duckdb":
        yield
        return
    from tests import pgserver

    with pgserver.running_postgres(pgserver.find_bindir()) as server:
        DATABASES = (server.new_database(f"bench_{i}") for i in itertools.count())
        try:
            yield
        finally:
            DATABASES = None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--size", type=int, default=1024, help="side of the sandbox images")
    ap.add_argument("--db", choices=("duckdb", "postgres", "both"), default="duckdb")
    ap.add_argument("--no-scale", action="store_true", help="skip the 400-job scale-out measure")
    args = ap.parse_args()
    backends = ("duckdb", "postgres") if args.db == "both" else (args.db,)
    results: dict[str, Any] = {}
    for backend in backends:
        with _on(backend):
            results[backend] = measure(args)
    out: dict[str, Any] = results[backends[0]] if len(backends) == 1 else dict(results)
    out |= {
        "config": {"jobs": args.jobs, "sandbox_size": args.size, "latency_s": 0.5,
                   "workers": 8, "cpus": os.cpu_count(), "python": sys.version.split()[0],
                   "db": args.db},
        "targets": {"submit_ms_p50": 5, "overhead_ms_p50_1024": 60, "throughput_ratio": 1.15,
                    "scale_ratio": 1.15},
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
