"""The worker pool: threads that claim jobs and run them, in two steps, until stopped.

One pool per process (the dashboard starts it once; the CLI starts its own). A worker
thread claims a job fairly (``jobs.claim``) and calls its provider
(``pipeline.call_provider``); once the provider has answered, the job goes to one of a
few *storer* threads, which store its images and finish it (``pipeline.store_images``),
while the worker claims its next job. A job's images are written to storage *before* the
database rows that point at them; rows and the ``succeeded`` transition commit in one
transaction, so a crash at any point leaves either a finished job or a ``running`` one
that ``claim.recover`` requeues on the next start (deleting any objects it left).

A heartbeat thread renews the leases of the pool's running jobs and takes back other
processes' jobs whose lease ran out (``jobs.leases``). On PostgreSQL the pool also wakes
when another process commits a write to ``jobs`` (a submit, a retry, a cancel), so a job
queued on one replica starts on another's workers without waiting for the idle poll.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from lib.core.context import Services
from lib.jobs import cleanup, leases, pipeline
from lib.jobs.claim import claim
from lib.jobs.model import Job

log = logging.getLogger(__name__)

T = TypeVar("T")
_Outcome = pipeline.Generated | pipeline.Finished


class WorkerPool:
    """Threads that claim and run jobs until stopped. Workers never touch Streamlit.

    A worker thread holds a provider slot only while the provider works: when the provider
    has answered, the job's post-processing (validate, watermark, thumbnail, store, rows)
    is queued for a few *storer* threads and the worker claims its next job. That queue
    is bounded, so a slow disk or S3 slows claiming instead of piling up images.

    An error inside Promptboard fails the job (the worker survives) and is appended to
    ``errors``; once the pool is stopping, the job is left running for the next start.
    """

    def __init__(self, svc: Services, threads: int, only: frozenset[str] | None = None,
                 storers: int | None = None,
                 errors: list[BaseException] | None = None) -> None:
        self.svc = svc
        self.threads = threads
        self.only = only
        # Storing is mostly CPU (decode, thumbnail, watermark): one storer per two cores; more
        # only contend with the providers' own work (bench.pipeline: 1.12 vs 1.14 on 2 cores).
        self.storers = storers or max(1, (os.cpu_count() or 2) // 2)
        self.idle_poll_s = 0.5
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._storer_threads: list[threading.Thread] = []
        self.errors: list[BaseException] = [] if errors is None else errors
        self._to_store: queue.Queue[pipeline.Generated | None] = queue.Queue(
            maxsize=max(1, threads))
        self._storing: set[str] = set()
        self._storing_lock = threading.Lock()
        self.settle_every_s = 300.0  # retry postponed storage clean-ups (jobs.cleanup) this often
        self._settle_lock = threading.Lock()
        self._next_settle = time.monotonic() + self.settle_every_s
        self.id = uuid.uuid4().hex[:12]  # the process's worker id: threads are "<id>-<n>"
        self._beat_thread: threading.Thread | None = None
        self._unhear: Callable[[], None] | None = None

    def start(self) -> WorkerPool:
        """Start the threads (idempotent)."""
        if self._threads:
            return self
        self._beat()  # registered (and other processes' expired jobs taken back) first
        self._beat_thread = self._spawn(self._beat_loop, "heartbeat")
        self._unhear = self.svc.db.on_heard(self._heard)
        for i in range(self.storers):
            self._storer_threads.append(self._spawn(self._store_loop, f"storer-{i}"))
        for i in range(self.threads):
            self._threads.append(self._spawn(self._loop, str(i), f"{self.id}-{i}"))
        return self

    @staticmethod
    def _spawn(target: Callable[..., None], name: str, *args: str) -> threading.Thread:
        t = threading.Thread(target=target, name=f"promptboard-worker-{name}", args=args,
                             daemon=True)
        t.start()
        return t

    def wake(self) -> None:
        """Tell idle threads there may be work."""
        self._wake.set()

    def _heard(self, tables: set[str] | None) -> None:
        """Another process wrote: a new, retried or cancelled job may be waiting."""
        if tables is None or "jobs" in tables:
            self._wake.set()

    def _beat(self) -> None:
        try:
            leases.beat(self.svc, self.id, self.threads)
            if leases.reap(self.svc):
                self._wake.set()
        except Exception:  # noqa: BLE001 - e.g. the database unreachable: try next beat
            if not self._stop.is_set():
                log.exception("worker heartbeat failed; retrying at the next beat")

    def _beat_loop(self) -> None:
        while not self._stop.wait(self.svc.settings.lease_s / 3):
            self._beat()

    def storing(self) -> frozenset[str]:
        """Ids of running jobs whose provider has answered (they hold no provider slot)."""
        with self._storing_lock:
            return frozenset(self._storing)

    def _queue_for_storing(self, gen: pipeline.Generated) -> None:
        """Queue a job's post-processing for a storer thread (blocks while the queue is full)."""
        with self._storing_lock:
            self._storing.add(gen.job.id)
        self._wake.set()  # its provider slot is free now
        self._to_store.put(gen)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop claiming, let storers finish what was handed to them, within ``timeout``.

        Whatever is still running afterwards stays ``running`` in the database and is
        requeued by :func:`~lib.jobs.claim.recover` at the next start.
        """
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout)
        for _ in self._storer_threads:
            self._to_store.put(None)
        for t in self._storer_threads:
            t.join(timeout)
        if self._beat_thread is not None:
            self._beat_thread.join(timeout)
        if self._unhear is not None:
            self._unhear()
        if self._threads:
            try:  # what is still running is taken back by any live worker at its next beat
                leases.release(self.svc, self.id)
            except Exception:  # noqa: BLE001 - the database going away: leases run out anyway
                log.debug("releasing worker leases failed", exc_info=True)
        self._threads.clear()
        self._storer_threads.clear()

    def _loop(self, worker_id: str) -> None:
        while not self._stop.is_set():
            try:
                job = claim(self.svc, worker_id, self.only, self.storing())
            except Exception:  # noqa: BLE001 - e.g. the database closing under us
                if self._stop.is_set():
                    return
                log.exception("claiming a job failed; retrying shortly")
                job = None
            if job is None:
                self._maybe_settle()
                self._wake.wait(self.idle_poll_s)
                self._wake.clear()
                continue
            try:
                step = self._guarded(job, pipeline.call_provider, job)
                if isinstance(step, pipeline.Generated):
                    self._queue_for_storing(step)
            except Exception:  # noqa: BLE001 - e.g. the database closed at shutdown
                if self._stop.is_set():
                    return  # the job stays running; recover() requeues it at the next start
                log.exception("worker loop error after job %s", job.id)
            self._wake.set()  # a slot freed up: let a sibling look for capped work

    def run_one(self, job: Job) -> str:
        """Run both steps of one claimed job in this thread, guarded as the threads run
        them (for tests and tools); returns the state the job ended in."""
        step = self._guarded(job, pipeline.call_provider, job)
        if isinstance(step, pipeline.Generated):
            step = self._guarded(job, pipeline.store_images, step)
        assert isinstance(step, pipeline.Finished)  # store_images always finishes the job
        return step.state

    def _guarded(self, job: Job, step: Callable[[Services, T], _Outcome],
                 arg: T) -> _Outcome:
        """One step of a job that never raises for the job's own errors: an unexpected one
        fails the job with its id. While the pool stops, the error is raised instead and
        the job stays running (it is requeued at the next start)."""
        try:
            return step(self.svc, arg)
        except Exception as exc:  # noqa: BLE001 - a worker must survive anything
            if self._stop.is_set():
                log.info("job %s interrupted by shutdown", job.id)
                raise
            self.errors.append(exc)
            return pipeline.fail_unexpected(self.svc, job, exc)

    def _maybe_settle(self) -> None:
        """An idle worker retries postponed storage clean-ups now and then (one at a time)."""
        if time.monotonic() < self._next_settle or not self._settle_lock.acquire(blocking=False):
            return
        try:
            self._next_settle = time.monotonic() + self.settle_every_s
            cleanup.settle(self.svc)
        except Exception:  # noqa: BLE001 - e.g. the database closing under us
            log.debug("postponed storage clean-up failed", exc_info=True)
        finally:
            self._settle_lock.release()

    def _store_loop(self) -> None:
        while (gen := self._to_store.get()) is not None:
            try:
                self._guarded(gen.job, pipeline.store_images, gen)
            except Exception:  # noqa: BLE001 - e.g. the database closed at shutdown
                log.exception("storing the images of job %s failed", gen.job.id)
            finally:
                with self._storing_lock:
                    self._storing.discard(gen.job.id)
                self._wake.set()
