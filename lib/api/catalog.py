"""``/api/v1/providers``, ``/prices`` and ``/budgets``: what a script needs before it queues.

- Providers are the registry's (``providers.registry.statuses``), each model with the fields
  the Generate form offers for it (``jobs.forms.options``) on the engine's today, so a model
  its maker has shut down is not offered here either, and its notice says what replaces it.
- Prices are the dated rows (``jobs.repricing.list_prices``), the one in effect per provider,
  model, variant and unit: now, or on a given UTC day.
- Budgets follow the pages' rule (``money.budgets.shows_dollars``): admins and analysts see
  every budget in dollars; a member sees their own in dollars and the team's only as a band,
  never its dollars (SECURITY.md).
"""

from __future__ import annotations

import math
from datetime import date, datetime

from pydantic import BaseModel, Field

from lib.api.ops import Call, Op
from lib.api.schemas import Money, Strict, Utc
from lib.catalog import book as catalog
from lib.grants import rules
from lib.jobs import forms
from lib.jobs import repricing as pricing
from lib.money import budgets
from lib.providers import registry


class ModelOut(BaseModel):
    """One model offered today, and what its Generate form takes."""

    id: str
    sizes: list[str] = Field(description="WxH presets; empty when it takes aspect ratios")
    default_size: str | None
    aspect_ratios: list[str]
    qualities: list[str]
    default_quality: str | None
    max_n: int = Field(description="images per job")
    seed: bool = Field(description="takes a seed")
    negative_prompt: bool
    max_reference_images: int
    style_presets: list[str]
    max_prompt_chars: int
    notices: list[str] = Field(description="e.g. its maker's shutdown date and replacement")


class ShutdownOut(BaseModel):
    """A model its maker shuts down (or has shut down) on a date."""

    model: str
    on: date
    replacement: str
    shut_down: bool = Field(description="true from that date on (engine clock): not offered")
    notice: str


class ProviderOut(BaseModel):
    """An image API: configured or how to configure it, and its models live today."""

    id: str
    label: str
    description: str
    configured: bool
    configure_hint: str | None = Field(description="how to configure it (null once it is)")
    default_model: str
    open_models: bool = Field(description="any model id is taken; `models` are presets")
    models: list[ModelOut]
    shutdowns: list[ShutdownOut]


class ProviderList(BaseModel):
    """Every provider, sandbox first; ``today`` is the server's UTC day the models are for."""

    today: date
    providers: list[ProviderOut]


class PriceQuery(Strict):
    """Which prices: one provider's, and in effect when."""

    provider: str | None = Field(None, description="one provider id (see /providers)")
    at: date | None = Field(None, description="in effect on this UTC day (YYYY-MM-DD); "
                            "default: now")


class PriceOut(BaseModel):
    """A dated price: ``usd_per_unit`` USD per ``unit`` of usage, from ``effective_from``."""

    id: int
    provider: str
    model: str = Field(description="* means any model of the provider")
    variant: str = Field(description="WxH/quality, WxH, quality or *")
    unit: str = Field(description="a usage key: images, output_image_tokens, credits, ...")
    usd_per_unit: Money
    effective_from: date
    source: str


class PriceList(BaseModel):
    """The rows in effect ``at`` (the most recent per provider, model, variant and unit)."""

    at: Utc
    prices: list[PriceOut]


class BudgetOut(BaseModel):
    """A monthly budget and where this UTC month stands. Dollar fields are null where the
    caller may not see them (a member looking at the team's budget): ``band`` says it."""

    scope: str = Field(description="user or team")
    subject: str = Field(description="the username, or team")
    dollars_shown: bool
    limit_usd: Money
    spent_usd: Money = Field(description="finished jobs' cost plus the estimates of queued "
                             "and running ones, as the limit is checked")
    left_usd: Money
    fraction: float | None = Field(description="share used (over 1 when over; null when "
                                   "hidden, or the limit is zero)")
    warn_fraction: float | None
    level: str = Field(description="ok, warn (at or past the warning threshold) or over")
    band: str = Field(description="how much is used, coarsely: under half used, 50-60% used, "
                      "..., over the limit")
    summary: str = Field(description="the line the pages show")


class BudgetList(BaseModel):
    """The budgets the caller may see, this UTC month."""

    month_start: Utc
    budgets: list[BudgetOut]


def _model(provider_id: str, model: str, today: date, book: catalog.Book) -> ModelOut:
    o = forms.options(provider_id, model, today, book)
    return ModelOut(
        id=model, sizes=list(o.sizes), default_size=o.default_size,
        aspect_ratios=list(o.aspect_ratios), qualities=list(o.qualities),
        default_quality=o.default_quality, max_n=o.max_n, seed=o.seed,
        negative_prompt=o.negative_prompt, max_reference_images=o.max_reference_images,
        style_presets=list(o.style_presets), max_prompt_chars=o.max_prompt_chars,
        notices=list(o.notices))


def providers(call: Call) -> ProviderList:
    """Every provider the caller may use (their allow-list: Admin → Access), configured or not
    (then how to configure it), with the models it offers them today on the server's clock
    and each model's sizes, aspect ratios, qualities, image count, seed, negative prompt,
    reference images, style presets and prompt length; shutdown notices name the
    replacement."""
    today = call.svc.clock.now().date()
    user = call.who.user
    grant = rules.grant_for(call.svc.db, user.username, user.role)
    book = rules.book_for(catalog.book(call.svc.db), grant)  # only what the caller may use
    out = []
    for status in registry.statuses():
        if not grant.allows_provider(status.id):
            continue
        cls, line = registry.get(status.id), book.line(status.id)
        shutdowns = [ShutdownOut(model=m, on=s.on, replacement=s.replacement,
                                 shut_down=today >= s.on,
                                 notice=book.notice(status.id, m, today) or "")
                     for m, s in sorted(line.shutdowns.items(), key=lambda kv: kv[1].on)]
        out.append(ProviderOut(
            id=status.id, label=status.label, description=cls.description,
            configured=status.configured,
            configure_hint=None if status.configured else status.hint,
            default_model=line.default_on(today), open_models=cls.caps.open_models,
            models=[_model(status.id, m, today, book) for m in line.live(today)],
            shutdowns=shutdowns))
    return ProviderList(today=today, providers=out)


def prices(call: Call) -> PriceList:
    """The price rows in effect now (or on the UTC day ``at``): per provider, model, variant
    and unit the most recent row from that moment, USD as decimal strings. Rows dated later
    are corrections waiting for their day."""
    q: PriceQuery = call.query
    if q.provider is not None:
        registry.get(q.provider)  # an unknown id is a 422 naming the known ones
    at = call.svc.clock.now() if q.at is None else datetime.combine(q.at, datetime.min.time())
    current: dict[tuple[str, str, str, str], pricing.PriceRow] = {}
    for row in pricing.list_prices(call.svc.db):  # newest first within each key
        if row.effective_from > at or (q.provider is not None and row.provider != q.provider):
            continue
        current.setdefault((row.provider, row.model, row.variant, row.unit), row)
    return PriceList(at=at, prices=[
        PriceOut(id=r.id, provider=r.provider, model=r.model, variant=r.variant, unit=r.unit,
                 usd_per_unit=r.usd_per_unit, effective_from=r.effective_from.date(),
                 source=r.source) for r in current.values()])


def _level(lim: budgets.Limit) -> str:
    if lim.used_usd > lim.limit_usd:
        return "over"
    return "warn" if lim.fraction >= lim.warn_fraction else "ok"


def budget_out(lim: budgets.Limit, sees_team: bool) -> BudgetOut:
    """A budget as the caller may see it: the pages' rule for dollars and bands."""
    band, summary = budgets.band(lim.fraction), budgets.summary(lim, sees_team)
    if not budgets.shows_dollars(lim, sees_team):
        return BudgetOut(scope=lim.scope, subject=lim.subject, dollars_shown=False,
                         limit_usd=None, spent_usd=None, left_usd=None, fraction=None,
                         warn_fraction=None, level=_level(lim), band=band, summary=summary)
    fraction = lim.fraction
    return BudgetOut(
        scope=lim.scope, subject=lim.subject, dollars_shown=True, limit_usd=lim.limit_usd,
        spent_usd=lim.used_usd, left_usd=lim.left_usd,
        fraction=round(fraction, 6) if math.isfinite(fraction) else None,
        warn_fraction=lim.warn_fraction, level=_level(lim), band=band, summary=summary)


def budget_list(call: Call) -> BudgetList:
    """This month's budgets: every one for admins and analysts; a member's own in dollars and
    the team's as a band only (its dollars would tell colleagues' spend). Spend counts what
    finished jobs cost and what queued and running ones reserve, as the limit is checked."""
    now = call.svc.clock.now()
    viewer = call.who.viewer
    if viewer.sees_all:
        found = budgets.all_budgets(call.svc.db, now)
    else:
        with call.svc.db.cursor() as cur:
            found = sorted(budgets.limits(cur, viewer.username, now),
                           key=lambda lim: lim.scope != "user")
    return BudgetList(month_start=budgets.month_start(now),
                      budgets=[budget_out(lim, viewer.sees_all) for lim in found])


def ops() -> list[Op]:
    """The catalog routes: read by every role and every credential."""
    return [
        Op("GET", "/providers", "listProviders", "Providers, their models and capabilities",
           providers, out=ProviderList),
        Op("GET", "/prices", "listPrices", "The price rows in effect (now or on a day)",
           prices, out=PriceList, query=PriceQuery, errors=(422,)),
        Op("GET", "/budgets", "listBudgets", "This month's budgets you may see", budget_list,
           out=BudgetList),
    ]

