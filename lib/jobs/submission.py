"""Submitting jobs: validation, the reference image, budgets, and the one INSERT.

:func:`submit` refuses what cannot run (an unknown or unconfigured provider, a bad field,
a size over the limits, a shut-down model, a role that may not generate, a model the
user's allow-list lacks, a daily image cap or a budget it would break) with a
:class:`SubmitError` that says how to fix it, stores the reference image, and queues the
job through ``jobs.store``. The same client token within a few seconds is one job (double
clicks). :func:`submit_all` queues a batch as a whole, and :func:`resubmit` queues a copy
of an old job. The provider request a job or a spec describes is built here too
(:func:`request_for_spec`; a job's is ``jobs.requests``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from lib.auth import accounts as auth
from lib.catalog import book as catalog
from lib.core.context import Services
from lib.db.database import DRIVER_ERRORS, Cursor, Database
from lib.grants import caps as daily
from lib.grants import rules
from lib.imaging import images as imaging
from lib.jobs import store
from lib.jobs.cancels import cancel
from lib.jobs.model import (
    DEDUPE_WINDOW_S,
    HARD_PROMPT_LIMIT,
    QUEUED,
    REQUEST_KEY_WINDOW_S,
    SUBMITTED,
    Job,
    JobSpec,
    NotAllowed,
    OverBudget,
    SubmitError,
    check_fields,
    new_id,
)
from lib.jobs.reads import get
from lib.jobs.requests import request_from
from lib.money import budgets, costs
from lib.providers import registry
from lib.providers.base import Provider
from lib.providers.errors import ProviderError
from lib.providers.types import GenerationRequest
from lib.storage.base import StorageError
from lib.styles import library as styles


def _validate(db: Database, spec: JobSpec, today: date) -> tuple[type[Provider], str]:
    try:
        cls = registry.get(spec.provider)
    except registry.UnknownProvider as exc:
        raise SubmitError(str(exc)) from None
    if not registry.is_configured(cls):
        raise SubmitError(f"{cls.label} is not configured. {cls.configure_hint()}")
    check_fields(spec)
    line = catalog.book(db).line(cls.id)
    model = spec.model or line.default
    caps = catalog.book(db).caps(cls.id, model)
    prompt = spec.prompt.strip() if spec.prompt else ""
    if not prompt:
        raise SubmitError("The prompt is empty. Describe the image you want.")
    limit = min(caps.max_prompt_chars, HARD_PROMPT_LIMIT)
    if len(spec.prompt) > limit:
        raise SubmitError(
            f"The prompt has {len(spec.prompt):,} characters; {cls.label} accepts at most "
            f"{limit:,}. Shorten it."
        )
    if spec.negative_prompt and len(spec.negative_prompt) > limit:
        raise SubmitError(
            f"The negative prompt has {len(spec.negative_prompt):,} characters; at most "
            f"{limit:,} fit. Shorten it."
        )
    if not 1 <= spec.n <= caps.max_n:
        raise SubmitError(f"{cls.label} makes 1 to {caps.max_n} images per request.")
    if model in line.disabled and not line.shutdowns.get(model):
        raise SubmitError(f"{model} is turned off here (Admin → Models); choose one of "
                          f"{', '.join(line.live(today))}.")
    if caps.models and not line.known(model) and not caps.open_models:
        # a shut-down model is refused by date in submit, naming its replacement
        raise SubmitError(
            f"{cls.label} has no model {model!r}; choose one of {', '.join(line.live(today))}."
        )
    if spec.reference is not None and caps.max_reference_images < 1:
        raise SubmitError(f"{cls.label} does not take a reference image.")
    for side in (spec.width, spec.height):
        if side is not None and not 64 <= side <= 8192:
            raise SubmitError("Image sides must be between 64 and 8192 pixels.")
    return cls, model


def submit(engine: Services, user: str, spec: JobSpec) -> str:
    """Validate, store the reference image, queue the job; returns its id at once."""
    cls, model = _validate(engine.db, spec, engine.clock.now().date())
    cap = engine.settings.max_output_pixels
    if spec.width and spec.height and spec.width * spec.height > cap:
        raise SubmitError(  # the image would be refused after it was generated (and paid for)
            f"{spec.width}×{spec.height} is over the {cap / 1e6:g} MP limit for generated "
            "images. Choose a smaller size; an admin can raise PROMPTBOARD_MAX_OUTPUT_PIXELS.")
    _check_may_generate(engine, user)
    _check_granted(engine, user, cls.id, model)
    now = engine.clock.now()
    try:
        registry.bare(cls.id, engine.clock, catalog.book(engine.db).line(cls.id)
                      ).refuse_if_shut_down(model, now.date())  # before anything is kept
    except ProviderError as exc:
        raise SubmitError(str(exc)) from None
    dedupe_since = now - timedelta(seconds=spec.token_window_s)
    job_id = new_id()
    reference_key = None
    if spec.reference is not None:
        s = engine.settings
        try:
            png, _ = imaging.prepare_reference(
                spec.reference, max_bytes=s.max_upload_bytes, max_pixels=s.max_pixels
            )
        except imaging.ImageError as exc:
            raise SubmitError(f"The reference image was refused: {exc}") from None
        reference_key = f"refs/{job_id}.png"
        try:
            engine.storage.put(reference_key, png, "image/png")
        except StorageError as exc:
            raise SubmitError(f"The reference image could not be stored: {exc}") from None
    style = styles.get(spec.style, engine.db)
    params = dict(spec.params)
    params["styled_prompt"] = style.apply(spec.prompt)
    negative = spec.negative_prompt or (style.negative or None)
    request = request_from(
        spec.prompt, params, model, spec.width, spec.height, spec.aspect_ratio,
        spec.quality, spec.n, spec.seed, negative, spec.style, (),
    )
    provider = registry.bare(spec.provider, engine.clock,  # shutdowns by the engine clock
                             catalog.book(engine.db).line(spec.provider))
    try:
        provider.preflight(request)
    except ProviderError as exc:
        raise SubmitError(str(exc)) from None
    estimate = costs.estimate(engine.db, cls.id, provider, request, now)
    try:
        with engine.db.write() as cur:
            if spec.client_token:
                dup = cur.execute(
                    "SELECT id FROM jobs WHERE user_id = ? AND client_token = ? "
                    "AND created_at >= ?",
                    [user, spec.client_token, dedupe_since],
                ).fetchone()
                if dup:
                    if reference_key:
                        engine.storage.delete([reference_key])
                    return str(dup[0])
            daily.check(cur, user, spec.n, now)
            detail = _check_budget(engine.db, cur, user, estimate, now, spec.override_budget)
            store.insert(cur, Job(
                job_id, spec.batch_id, user, cls.id, model, spec.prompt, negative, spec.style,
                spec.width, spec.height, spec.aspect_ratio, spec.quality, spec.seed, spec.n,
                reference_key,
                json.dumps(spec.watermark.to_dict()) if spec.watermark else None,
                json.dumps(params), spec.client_token, None, None, QUEUED, 0,
                engine.settings.max_attempts, now, False, None, None, None, None, None,
                None, estimate, None, None, now, None, None, False, now, None,
            ), None if detail == SUBMITTED else detail)  # a plain submit's record is its row
    except budgets.BudgetExceeded as exc:
        if reference_key:
            engine.storage.delete([reference_key])
        raise OverBudget(str(exc)) from None
    except daily.CapReached as exc:
        if reference_key:
            engine.storage.delete([reference_key])
        raise SubmitError(str(exc)) from None
    except DRIVER_ERRORS as exc:
        if reference_key:
            engine.storage.delete([reference_key])
        raise SubmitError(
            "Promptboard could not record the job (the database refused the write: "
            f"{type(exc).__name__}). Check free disk space on the server, then try again."
        ) from exc
    engine.wake_workers()
    return job_id


def submit_all(engine: Services, user: str, specs: Sequence[JobSpec]) -> list[str]:
    """Queue several jobs as one batch: all of them, or none when the batch is refused.

    Every spec is validated and the budgets are checked for the batch's total before the
    first job is queued, under the write lock that each job's own check takes again, so no
    other submit can slip in between (see :func:`check_batch`). Should a job still fail
    after that (the disk full, say), the ones queued before it are cancelled and the error
    says so.
    """
    ids: list[str] = []
    with engine.db.exclusive():
        check_batch(engine, user, specs)
        try:
            for spec in specs:
                ids.append(submit(engine, user, spec))
        except SubmitError as exc:
            for job_id in ids:
                cancel(engine, job_id, user)
            done = (f" The {len(ids)} {'job' if len(ids) == 1 else 'jobs'} of this batch "
                    "already queued were cancelled." if ids else "")
            raise type(exc)(f"{exc}{done}") from None
    return ids


def check_batch(engine: Services, user: str, specs: Sequence[JobSpec], *,
                skip_invalid: bool = False) -> None:
    """Refuse a batch as a whole: a setting no job of it may have (SubmitError) or a total
    over a budget (OverBudget). Hold ``engine.db.exclusive()`` from this check until the
    jobs are queued. Jobs of the batch already queued (a double click) are not counted, nor,
    with ``skip_invalid``, jobs whose settings will be refused on their own."""
    if not specs:
        return
    now = engine.clock.now()
    estimates: list[tuple[JobSpec, Decimal | None]] = []
    for spec in specs:
        try:
            cls, model = _validate(engine.db, spec, engine.clock.now().date())
            provider = registry.bare(cls.id, engine.clock, catalog.book(engine.db).line(cls.id))
            request = request_for_spec(spec, model)
            try:
                provider.preflight(request)
            except ProviderError as exc:
                raise SubmitError(str(exc)) from None
        except SubmitError:
            if skip_invalid:
                continue
            raise
        _check_granted(engine, user, cls.id, model)
        estimates.append((spec, costs.estimate(engine.db, cls.id, provider, request, now)))
    _check_may_generate(engine, user)
    since = now - timedelta(seconds=max(spec.token_window_s for spec in specs))
    with engine.db.cursor() as cur:
        queued = {r[0] for r in cur.execute(
            "SELECT client_token FROM jobs WHERE user_id = ? AND created_at >= ? "
            "AND client_token IS NOT NULL", [user, since]).fetchall()}
        fresh = [est for spec, est in estimates if spec.client_token not in queued]
        if not fresh:
            return
        try:
            daily.check(cur, user, sum(spec.n for spec, _ in estimates
                                       if spec.client_token not in queued), now)
        except daily.CapReached as exc:
            raise SubmitError(str(exc)) from None
        total = sum((est or Decimal(0) for est in fresh), Decimal(0))
        try:
            _check_budget(engine.db, cur, user, total, now, specs[0].override_budget,
                          count=len(fresh))
        except budgets.BudgetExceeded as exc:
            raise OverBudget(str(exc)) from None


def _check_may_generate(engine: Services, user: str) -> None:
    """Refuse accounts whose role may not generate, or that are disabled (defence in depth:
    the pages check too). Names without an account (the CLI's default user) may generate."""
    account = auth.get_user(engine.db, user)
    if account is not None and (account.disabled or not auth.can(account.role, "generate")):
        raise SubmitError(f"Your account ({user}, {account.role}) may not generate images. "
                          "Ask an admin for the member role.")


def _check_granted(engine: Services, user: str, provider: str, model: str) -> None:
    """Refuse a model the user's allow-list (or their role's) does not include."""
    account = auth.get_user(engine.db, user)
    grant = rules.grant_for(engine.db, user, account.role if account else "")
    if not grant.allows(provider, model):
        raise NotAllowed(grant.refusal(provider, model))


def _check_budget(db: Database, cur: Cursor, user: str, estimate: Decimal | None,
                  now: datetime, override: bool, count: int = 1) -> str:
    """Enforce the budgets under the write lock; returns the event detail for the job."""
    # Under the write lock db.version is current, so the cached answer cannot be stale.
    if not override and not db.cached("budgets.any", lambda: bool(
            db.fetchone("SELECT 1 FROM budgets LIMIT 1")), ("budgets",)):
        return SUBMITTED  # no budgets at all: nothing to check
    admins = [r[0] for r in cur.execute(
        "SELECT username FROM users WHERE role = 'admin' AND NOT disabled ORDER BY username"
    ).fetchall()]
    if override and user in admins:
        return f"submitted; budget check overridden by admin {user}"
    budgets.enforce(cur, user, estimate, now, admins, count)
    return SUBMITTED


def request_for_spec(spec: JobSpec, model: str) -> GenerationRequest:
    """The provider request a spec describes (no reference bytes), for estimates."""
    params = dict(spec.params)
    params["styled_prompt"] = styles.get(spec.style).apply(spec.prompt or "")
    return request_from(
        spec.prompt, params, model, spec.width, spec.height, spec.aspect_ratio, spec.quality,
        spec.n, spec.seed, spec.negative_prompt, spec.style, (),
    )


def resubmit(engine: Services, user: str, job_id: str, *, admin: bool = False,
             request_key: str | None = None) -> str:
    """Queue a new job with the same settings (a retry of a failed or cancelled one); with a
    ``request_key``, the job already queued under it, if any (an API retry sent twice)."""
    auth.require_active(engine.db, user, "admin" if admin else None, error=SubmitError)
    old = get(engine, job_id)
    if old is None or (old.user_id != user and not admin):
        raise SubmitError("No such job of yours.")
    reference = engine.storage.get(old.reference_key) if old.reference_key else None
    params = {k: v for k, v in old.params_dict.items() if k != "styled_prompt"}
    wm = imaging.WatermarkSpec.from_dict(json.loads(old.watermark)) if old.watermark else None
    return submit(engine, user, JobSpec(
        prompt=old.prompt, provider=old.provider, model=old.model,
        negative_prompt=old.negative_prompt, style=old.style, width=old.width, height=old.height,
        aspect_ratio=old.aspect_ratio, quality=old.quality, seed=old.seed, n=old.n,
        reference=reference, watermark=wm, params=params, batch_id=old.batch_id,
        client_token=request_key, token_window_s=(REQUEST_KEY_WINDOW_S if request_key
                                                  else DEDUPE_WINDOW_S),
    ))
