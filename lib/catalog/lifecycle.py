"""Shutdown warnings: a model within ``WARN_DAYS`` of its maker's shutdown, or past it.

Generate, Compare, Styles and Admin all say it the same way ("OpenAI shuts down gpt-image-1.5
on 2026-12-01; use gpt-image-2 instead."), by the engine clock's date. Past the date a model
is refused at submit (``Provider.refuse_if_shut_down``) while its history stays readable;
this module only decides what to warn about, and what to move a setting to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from lib.catalog import book as catalog
from lib.providers import registry

WARN_DAYS = 30  # warn this many days before a shutdown


@dataclass(frozen=True)
class ShutdownWarning:
    """A model its maker shuts down soon, or has shut down."""

    provider: str
    model: str
    on: date
    replacement: str
    vendor: str

    def past(self, today: date) -> bool:
        """True from the shutdown date on: the model is refused."""
        return today >= self.on

    def text(self, today: date) -> str:
        """One sentence naming the date and the replacement, in the words of Generate's notice
        and of the refusal at submit (``Provider.shutdown_notice``)."""
        verb = "shut down" if self.past(today) else "shuts down"
        return (f"{self.vendor} {verb} {self.model} on {self.on.isoformat()}; "
                f"use {self.replacement} instead.")


def warning(provider_id: str, model: str | None, today: date, days: int = WARN_DAYS,
            book: catalog.Book = catalog.SHIPPED) -> ShutdownWarning | None:
    """The warning for ``provider_id``/``model`` on ``today`` by ``book`` (a database's
    catalog, ``engine.models()``): its shutdown is at most ``days`` away, or has passed.
    None for unknown providers and models with no shutdown."""
    cls = registry.PROVIDERS.get(provider_id)
    if cls is None or not model:
        return None
    ends = book.shutdown(provider_id, model)
    if ends is None or today < ends.on - timedelta(days=days):
        return None
    return ShutdownWarning(cls.id, model, ends.on, ends.replacement, cls.vendor or cls.label)


def coming(today: date, days: int = WARN_DAYS,
           book: catalog.Book = catalog.SHIPPED) -> list[ShutdownWarning]:
    """Every offered model of every provider that shuts down within ``days`` (not yet past),
    soonest first: what an admin should move the team off now."""
    found = [w for pid in registry.PROVIDERS for model in book.line(pid).offered
             if (w := warning(pid, model, today, days, book)) is not None
             and not w.past(today)]
    return sorted(found, key=lambda w: (w.on, w.provider, w.model))
