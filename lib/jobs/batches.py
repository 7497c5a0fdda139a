"""Batches: N variations of one request, each a job with its own recorded seed.

A batch is N jobs sharing one ``batch_id``. Each job carries its seed, so any one of them
can be made again exactly. Seeds are either consecutive from a base seed or random::

    consecutive, base 100, 3 variations of 2 images:  job seeds 100, 102, 104
    (image i of a job uses seed + i on providers that number images, so no seed repeats)
    random:  each job gets a fresh seed in 1 .. MAX_SEED, recorded on its row

Every job seed stays within ``jobmodel.MAX_SEED`` (2**32 - 1), the limit ``jobs.submit``
checks: the last job's seed is the base plus ``(count - 1) * step``. Images past the job
seed (seed + i) are the provider's to number, as for any single job.

A batch is all or nothing: its settings and its total cost are checked against the
budgets before any job is queued (``jobs.submit_all``), so a refused batch leaves no
cancelled jobs behind. A count outside 1 .. MAX_VARIATIONS is refused, never changed.
A double click is one batch: job i's client token is the request's content token plus i,
and ``jobs.submit`` returns the existing job for a token seen within ``jobs.DEDUPE_WINDOW_S``.
A caller's own request key (the API's Idempotency-Key) takes the content token's place for
``jobs.REQUEST_KEY_WINDOW_S``: the same key again, a day later, is still the same jobs.

Errors: ``jobs.SubmitError`` (and ``jobs.OverBudget``), their message shown to a person.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import replace

from lib import jobs
from lib.auth import accounts as auth
from lib.catalog import book as catalog
from lib.core.context import Services
from lib.jobs import forms
from lib.jobs.model import MAX_SEED
from lib.providers import registry

CONSECUTIVE, RANDOM = "consecutive", "random"
SEED_MODES = (CONSECUTIVE, RANDOM)
MAX_VARIATIONS = 16


def seeds(count: int, mode: str, base: int | None, step: int = 1,
          rng: random.Random | None = None) -> list[int]:
    """``count`` seeds: ``base, base+step, ...`` (a random base when none), or all random."""
    if mode not in SEED_MODES:
        raise jobs.SubmitError(f"Seeds are {' or '.join(SEED_MODES)}, not {mode!r}.")
    if not 1 <= count <= MAX_VARIATIONS:
        raise jobs.SubmitError(f"A batch has 1 to {MAX_VARIATIONS} variations.")
    pick = rng or random.SystemRandom()
    if mode == RANDOM:
        return [pick.randint(1, MAX_SEED) for _ in range(count)]
    highest = MAX_SEED - (count - 1) * step  # the highest base whose last job seed still fits
    if highest < 1:
        raise jobs.SubmitError(f"{count} variations counting up by {step} do not fit in seeds "
                               f"up to {MAX_SEED:,}: ask for fewer variations or images.")
    start = base if base else pick.randint(1, highest)
    if start > highest:
        raise jobs.SubmitError(f"Seeds go up to {MAX_SEED:,}: for {count} variations counting "
                               f"up by {step}, start at {highest:,} or lower (not {start:,}).")
    return [start + k * step for k in range(count)]


def batch_token(user: str, spec: jobs.JobSpec, count: int, mode: str) -> str:
    """The content token of the whole batch (the seed counts only when it is consecutive)."""
    base = replace(spec, seed=spec.seed if mode == CONSECUTIVE else None)
    raw = f"{forms.client_token(user, base)}|{count}|{mode}"
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def submit_batch(engine: Services, user: str, spec: jobs.JobSpec, count: int,
                 mode: str = RANDOM, *, rng: random.Random | None = None,
                 request_key: str | None = None) -> list[str]:
    """Queue ``count`` jobs like ``spec`` with their own seeds; returns their ids as queued.

    One variation is an ordinary job (no batch id) with the seed as given. A model that takes
    no seed gets none (its variations are independent runs, recorded as such). With a
    ``request_key``, the jobs already queued under it are the answer (see the module's note).
    """
    if type(count) is not int or not 1 <= count <= MAX_VARIATIONS:  # seeded or not
        raise jobs.SubmitError(f"A batch has 1 to {MAX_VARIATIONS} variations.")
    auth.require_active(engine.db, user, error=jobs.SubmitError)
    if request_key is not None:
        spec = replace(spec, token_window_s=jobs.REQUEST_KEY_WINDOW_S)
    if count == 1:
        return [jobs.submit(engine, user, replace(spec, client_token=f"{request_key}-0")
                            if request_key is not None else forms.with_token(user, spec))]
    cls = registry.get(spec.provider)
    book = catalog.book(engine.db)
    seeded = book.caps(cls.id, spec.model or book.line(cls.id).default).seed
    chosen: list[int | None] = (list(seeds(count, mode, spec.seed, max(1, spec.n), rng))
                                if seeded else [None] * count)
    token = request_key if request_key is not None else batch_token(user, spec, count, mode)
    batch_id = uuid.uuid4().hex[:16]
    return jobs.submit_all(engine, user, [
        replace(spec, seed=seed, batch_id=batch_id, client_token=f"{token}-{k}")
        for k, seed in enumerate(chosen)])


def batch_of(engine: Services, job_id: str) -> str | None:
    """The batch a job belongs to, or None."""
    found = engine.db.scalar("SELECT batch_id FROM jobs WHERE id = ?", [job_id])
    return str(found) if found else None
