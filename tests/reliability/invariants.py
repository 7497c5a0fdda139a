"""What must hold after any crash or fault: the checks the reliability tests share.

:func:`check` reads a closed-down engine's database and storage and asserts that

- every submitted job exists once and ended in exactly one terminal state (one terminal
  event, the row's status is the last event's status, nothing queued or running);
- no job was invented and no image row is duplicated (``(job_id, idx)`` unique);
- a succeeded job has exactly ``n`` images, any other job none, and ``jobs.images`` (the
  count analytics read) says so;
- every image row points at stored bytes (original, watermarked, thumbnail) and every
  stored object under ``img/`` belongs to an image row (nothing orphaned);
- the cost ledger matches the images: per succeeded job, ``jobs.cost_usd`` equals the sum
  of its images' ``cost_usd`` (both unknown is fine, one unknown is not).

It returns the figures it saw so a test can report them.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lib.jobs.model import SUCCEEDED, TERMINAL

if TYPE_CHECKING:
    from collections.abc import Sequence

    from lib.engine import Engine


def check(engine: Engine, job_ids: Sequence[str]) -> dict[str, Any]:
    """Assert the invariants above for ``job_ids`` (all the jobs there are); return figures."""
    db = engine.db
    rows = db.fetchall("SELECT id, status, n, cost_usd, attempts FROM jobs")
    counted = dict(db.fetchall("SELECT id, images FROM jobs"))
    by_id = {r[0]: r for r in rows}
    assert len(by_id) == len(rows)
    missing = set(job_ids) - set(by_id)
    extra = set(by_id) - set(job_ids)
    assert not missing, f"jobs lost: {sorted(missing)}"
    assert not extra, f"jobs nobody submitted: {sorted(extra)}"

    ends = Counter(r[0] for r in db.fetchall(
        f"SELECT job_id FROM job_events WHERE to_status IN ({_marks(TERMINAL)})",
        list(TERMINAL)))
    last = dict(db.fetchall(  # each job's newest event: SQL that PostgreSQL runs too
        "SELECT DISTINCT ON (job_id) job_id, to_status FROM job_events ORDER BY job_id, id DESC"))
    for job_id, status, *_ in rows:
        assert status in TERMINAL, f"job {job_id} ended {status!r}, not in a terminal state"
        assert ends[job_id] == 1, f"job {job_id} has {ends[job_id]} terminal events"
        assert last.get(job_id) == status, f"job {job_id}: row {status}, events {last.get(job_id)}"

    images = db.fetchall(
        "SELECT job_id, idx, original_key, watermarked_key, thumb_key, cost_usd FROM images")
    dupes = [k for k, c in Counter((i[0], i[1]) for i in images).items() if c > 1]
    assert not dupes, f"duplicate image rows (job_id, idx): {dupes}"
    per_job = Counter(i[0] for i in images)
    for job_id, status, n, *_ in rows:
        want = n if status == SUCCEEDED else 0
        assert per_job[job_id] == want, f"job {job_id} ({status}) has {per_job[job_id]} images"
        assert counted[job_id] == want, f"job {job_id}: jobs.images {counted[job_id]}, {want} rows"
    assert not set(per_job) - set(by_id), "image rows of a job that does not exist"

    referenced = {k for i in images for k in i[2:5] if k}
    absent = sorted(k for k in referenced if not engine.storage.exists(k))
    assert not absent, f"image rows pointing at missing bytes: {absent[:5]}"
    orphans = sorted(set(engine.storage.list_keys("img/")) - referenced)
    assert not orphans, f"stored objects without an image row: {orphans[:5]}"

    image_cost: dict[str, Decimal | None] = {}
    for job_id, _idx, *_keys, cost in images:
        if job_id in image_cost and image_cost[job_id] is None:
            continue
        image_cost[job_id] = None if cost is None else image_cost.get(job_id, Decimal(0)) + cost
    ledger_jobs = ledger_images = Decimal(0)
    for job_id, status, _n, cost, _attempts in rows:
        if status != SUCCEEDED:
            continue
        assert cost == image_cost.get(job_id), (
            f"job {job_id} cost {cost} but its images add up to {image_cost.get(job_id)}")
        ledger_jobs += cost or 0
        ledger_images += image_cost.get(job_id) or 0
    assert ledger_jobs == ledger_images

    statuses = Counter(r[1] for r in rows)
    attempts = [r[4] for r in rows]
    return {
        "jobs": len(rows), **{f"jobs_{s}": statuses[s] for s in sorted(statuses)},
        "images": len(images), "objects": len(referenced),
        "max_attempts_used": max(attempts, default=0),
        "ledger_usd": str(ledger_jobs.normalize()) if ledger_jobs else "0",
    }


def _marks(values: Sequence[str] | frozenset[str] | tuple[str, ...]) -> str:
    return ",".join("?" * len(values))
