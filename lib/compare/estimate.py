"""What a comparison will cost and take before it runs, and how much budget is left.

Cost: each runnable cell is priced like a Generate request (``lib.money.costs.estimate``: the
provider's typical usage x today's price table); a cell whose usage has no price makes the
total a lower bound, and the count of such cells is reported. Duration: the team's median
per provider/model (``lib.jobs.activity``) or the provider's own guess, spread over the worker
threads and each provider's concurrency cap, so it is an "about" figure, labelled so.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from lib import jobs
from lib.catalog import book as catalog
from lib.compare.grid import Cell
from lib.jobs import activity
from lib.money import budgets, costs
from lib.providers import registry

if TYPE_CHECKING:
    from lib.core.context import Services
    from lib.providers.base import Provider


@dataclass(frozen=True)
class GridEstimate:
    """Before a run: images, cost, duration and the budget left."""

    images: int  # cells that will be queued
    blocked: int  # cells of providers that are not set up
    cost_usd: Decimal  # sum of the priced cells
    unpriced: int  # cells whose cost is unknown (not in the sum)
    seconds: float  # about this long on this server's workers
    from_history: bool  # every duration came from the team's history
    budget_left_usd: Decimal | None  # the tightest monthly budget left; None: no budget

    @property
    def over_budget(self) -> bool:
        """True when the priced cost alone is more than the budget left."""
        return self.budget_left_usd is not None and self.cost_usd > self.budget_left_usd


def estimate(engine: Services, user: str, cells: list[Cell]) -> GridEstimate:
    """Cost, duration and budget for the runnable cells of a grid."""
    now = engine.clock.now()
    typical = activity.typical_seconds(engine)
    instances: dict[str, Provider] = {}
    priced: dict[tuple[str, str, str | None, str | None, str | None], Decimal | None] = {}
    per_provider: dict[str, float] = defaultdict(float)
    total, unpriced, images, known = Decimal(0), 0, 0, True
    for cell in cells:
        spec = cell.spec
        if spec is None:
            continue
        images += spec.n
        provider = instances.get(spec.provider)
        if provider is None:
            provider = instances[spec.provider] = registry.bare(
                spec.provider, engine.clock, catalog.book(engine.db).line(spec.provider))
        model = spec.model or provider.line.default
        req = jobs.request_for_spec(spec, model)
        key = (spec.provider, model, req.size, req.aspect_ratio, req.quality)
        if key not in priced:
            priced[key] = costs.estimate(engine.db, spec.provider, provider, req, now)
        cost = priced[key]
        if cost is None:
            unpriced += 1
        else:
            total += cost
        if (spec.provider, model) in typical:
            per_provider[spec.provider] += typical[(spec.provider, model)]
        else:
            known = False
            per_provider[spec.provider] += provider.expected_seconds(req)
    workers = engine.settings.workers
    cap = min(workers, engine.settings.provider_concurrency)
    seconds = max([sum(per_provider.values()) / workers,
                   *(s / cap for s in per_provider.values())], default=0.0)
    with engine.db.cursor() as cur:
        limits = budgets.limits(cur, user, now)
    left = min((lim.left_usd for lim in limits), default=None)
    return GridEstimate(images, sum(1 for c in cells if c.spec is None), total, unpriced,
                        seconds, known, left)
