"""The catalog as every page, the API and the workers read it: one ``ModelLine`` per
provider (offered models, default, shutdowns, generically enabled ids), from the database's
``models`` table over the shipped file, cached until the table is written.

``book(db)`` is cheap to call on every rerun. ``Book.caps`` answers what a model takes: an
admin's edit (Admin → Models), else the shipped row of ``capabilities.csv``, else the
provider's conservative generic capabilities for an id an admin enabled from a model check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from lib.catalog import store
from lib.db.database import Database
from lib.providers import registry
from lib.providers.types import GENERIC, Capabilities, ModelLine, Shutdown


@dataclass(frozen=True)
class Book:
    """Each provider's line; providers without rows (configured endpoints) keep their class's."""

    lines: Mapping[str, ModelLine]

    def line(self, provider: str) -> ModelLine:
        """The provider's models (the class's own when the table has none of them)."""
        found = self.lines.get(provider)
        return found if found is not None else registry.get(provider).seed_line()

    def live(self, provider: str, today: date) -> tuple[str, ...]:
        """Models to offer on ``today``."""
        return self.line(provider).live(today)

    def default(self, provider: str, today: date) -> str:
        """The default model, or the first live one when the default is shut down."""
        return self.line(provider).default_on(today)

    def shutdown(self, provider: str, model: str | None) -> Shutdown | None:
        """The model's announced shutdown, if any."""
        return self.line(provider).shutdowns.get(model or "")

    def notice(self, provider: str, model: str, today: date) -> str | None:
        """The shutdown sentence Generate, Compare, Styles and the refusal share."""
        cls = registry.get(provider)
        return self.line(provider).notice(model, today, cls.vendor or cls.label)

    def caps(self, provider: str, model: str) -> Capabilities:
        """What ``model`` takes, listing this catalog's models and default."""
        return registry.get(provider).caps_on(model, self.line(provider))

    def is_generic(self, provider: str, model: str) -> bool:
        """True for an id an admin enabled from a model check (generic capabilities)."""
        return model in self.line(provider).generic


SHIPPED = Book({})  # the shipped catalog alone, for code with no database at hand


def lines_from(rows: list[store.ModelRow]) -> dict[str, ModelLine]:
    """One line per provider of ``rows``; a provider whose rows name no offered default
    falls back to its first offered model."""
    by: dict[str, list[store.ModelRow]] = {}
    for r in rows:
        if r.provider in registry.PROVIDERS:
            by.setdefault(r.provider, []).append(r)
    out: dict[str, ModelLine] = {}
    for pid, mine in by.items():
        offered = tuple(r.model for r in mine if r.enabled)
        default = next((r.model for r in mine if r.is_default and r.enabled),
                       offered[0] if offered else registry.get(pid).caps.default_model)
        shutdowns = {r.model: Shutdown(r.shutdown, r.replacement, offered=r.enabled)
                     for r in mine if r.shutdown is not None}
        generic = frozenset(r.model for r in mine if r.origin == GENERIC)
        disabled = frozenset(r.model for r in mine if not r.enabled)
        caps = {r.model: r.caps for r in mine if r.caps is not None}
        out[pid] = ModelLine(offered, default, shutdowns, generic, disabled, caps)
    return out


def book(db: Database) -> Book:
    """The catalog of ``db``, reloaded after any write to ``models``."""
    return db.cached("catalog.book", lambda: Book(lines_from(store.rows(db))), ("models",))
