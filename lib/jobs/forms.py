"""The Generate form, as data: which fields a provider's model offers, and what a run costs.

The page renders these options and calls :func:`estimate` on every change, so the
user sees the price and the usual duration before pressing Generate. The request's
own content makes its :func:`client_token`, so a double click within
``jobs.DEDUPE_WINDOW_S`` is one job.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from lib import jobs
from lib.catalog import book as catalog
from lib.core.context import Services
from lib.core.fmt import money, plural
from lib.jobs import activity
from lib.money import costs
from lib.providers import registry

SIZE_LABELS = {"1024x1024": "1024×1024 (square)"}


@dataclass(frozen=True)
class FormOptions:
    """The fields one provider's model offers, with their defaults."""

    models: tuple[str, ...]
    open_models: bool
    sizes: tuple[str, ...]
    default_size: str | None
    aspect_ratios: tuple[str, ...]
    qualities: tuple[str, ...]
    default_quality: str | None
    max_n: int
    seed: bool
    negative_prompt: bool
    max_reference_images: int
    style_presets: tuple[str, ...]
    max_prompt_chars: int
    notices: tuple[str, ...] = field(default_factory=tuple)


def options(provider_id: str, model: str | None, today: date,
            book: catalog.Book | None = None) -> FormOptions:
    """What the form shows for a provider (and one of its models) on ``today``.

    ``today`` comes from the engine's clock: models shut down by then are not offered (their
    history stays readable), and it decides what a model's shutdown notice says. ``book`` is
    the database's catalog (``engine.models()``); without one, the shipped catalog.
    """
    book = book or catalog.SHIPPED
    model = model or book.default(provider_id, today)
    caps = book.caps(provider_id, model)
    notices: list[str] = []
    if text := book.notice(provider_id, model, today):
        notices.append(text)
    if book.is_generic(provider_id, model):
        notices.append(f"{model} was enabled from the provider's model list: it runs with "
                       "basic settings only, and its cost is unknown until an admin adds a "
                       "price.")
    return FormOptions(
        models=book.live(provider_id, today), open_models=caps.open_models, sizes=caps.sizes,
        default_size=caps.default_size, aspect_ratios=caps.aspect_ratios,
        qualities=caps.qualities, default_quality=caps.default_quality, max_n=caps.max_n,
        seed=caps.seed, negative_prompt=caps.negative_prompt,
        max_reference_images=caps.max_reference_images, style_presets=caps.style_presets,
        max_prompt_chars=min(caps.max_prompt_chars, jobs.HARD_PROMPT_LIMIT),
        notices=tuple(notices),
    )


def default_index(values: tuple[str, ...], wanted: str | None) -> int:
    """Index of the default value, or 0."""
    return values.index(wanted) if wanted in values else 0


def client_token(user: str, spec: jobs.JobSpec) -> str:
    """A token from the request's content: the same request twice in a moment is one job."""
    parts = {
        "user": user, "provider": spec.provider, "model": spec.model, "prompt": spec.prompt,
        "negative": spec.negative_prompt, "style": spec.style, "w": spec.width,
        "h": spec.height, "aspect": spec.aspect_ratio, "quality": spec.quality,
        "seed": spec.seed, "n": spec.n, "params": spec.params,
        "ref": hashlib.sha256(spec.reference).hexdigest() if spec.reference else None,
        "wm": spec.watermark.to_dict() if spec.watermark else None,
    }
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def with_token(user: str, spec: jobs.JobSpec) -> jobs.JobSpec:
    """The spec carrying its content token."""
    return replace(spec, client_token=client_token(user, spec))


@dataclass(frozen=True)
class Estimate:
    """What a request will probably cost and take, before it runs."""

    cost_usd: Decimal | None  # None: some usage unit has no price
    seconds: float
    from_history: bool  # False: no finished jobs of this model yet, a default guess


def estimate(engine: Services, spec: jobs.JobSpec) -> Estimate:
    """Cost from today's prices and the provider's typical usage; time from team history."""
    cls = registry.get(spec.provider)
    provider = cls()
    model = spec.model or catalog.book(engine.db).default(cls.id, engine.clock.now().date())
    req = jobs.request_for_spec(spec, model)
    cost = costs.estimate(engine.db, cls.id, provider, req, engine.clock.now())
    typical = activity.typical_seconds(engine)
    known = (cls.id, model) in typical
    per_job = typical[(cls.id, model)] if known else provider.expected_seconds(req)
    return Estimate(cost, per_job, known)


def batch_note(est: Estimate | None, spec: jobs.JobSpec, variations: int, seeded: bool) -> str:
    """What a batch of ``variations`` jobs like ``spec`` will cost, and how its seeds work."""
    cost = None if est is None or est.cost_usd is None else est.cost_usd * variations
    total = money(cost)
    seeds = ("" if seeded else " This model takes no seed: each variation is an "
             "independent run.")
    return (f"A batch of {variations} jobs × {plural(spec.n, 'image')}: about **{total}** in all, "
            f"queued together and shown as one group in the Gallery.{seeds}")
