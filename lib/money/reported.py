"""Where a provider's own figure for a job (``jobs.provider_cost_usd``: BFL's credits, a
gateway's cost header) differs from the cost Promptboard computed from usage and the dated
prices (``jobs.cost_usd``). Neither is chosen silently: admins see the difference on Admin →
Prices, and either a price row or the provider's figure needs a look."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from lib.db.database import Database

TOLERANCE = Decimal("0.001")  # a tenth of a cent per job: rounding, not a wrong price


@dataclass(frozen=True)
class Mismatch:
    """One job whose two costs differ."""

    job_id: str
    provider: str
    model: str
    created_at: datetime
    computed: Decimal
    reported: Decimal

    @property
    def difference(self) -> Decimal:
        """Reported minus computed: positive when the provider charged more than we think."""
        return self.reported - self.computed


def mismatches(db: Database, tolerance: Decimal = TOLERANCE, limit: int = 200
               ) -> list[Mismatch]:
    """Jobs, newest first, whose reported and computed costs differ by more than
    ``tolerance``; a job with either figure unknown is not compared."""
    rows = db.fetchall(
        "SELECT id, provider, model, created_at, cost_usd, provider_cost_usd FROM jobs "
        "WHERE provider_cost_usd IS NOT NULL AND cost_usd IS NOT NULL "
        "AND abs(provider_cost_usd - cost_usd) > ? ORDER BY created_at DESC, id LIMIT ?",
        [tolerance, limit])
    return [Mismatch(*r) for r in rows]


def compared(db: Database) -> int:
    """How many jobs carry both figures."""
    return int(db.scalar("SELECT count(*) FROM jobs WHERE provider_cost_usd IS NOT NULL "
                         "AND cost_usd IS NOT NULL") or 0)
