"""Check for new models: what a provider's own API lists, set against what Promptboard offers.

Google shut down every Gemini model Promptboard offered before anyone noticed; a check of the
provider's list tells an admin first. It never enables or changes anything by itself::

    new        listed by the provider, unknown to Promptboard (neither offered nor retired):
               a model to consider; open-model providers already take it by id
    gone       offered here, no longer listed: probably shut down; move styles and people off
    retired    Promptboard knows its shutdown (date and replacement): whether it is still listed

Providers without a list call say so (``Provider.list_models`` returns None): Stability, BFL
and fal have none in the API Promptboard speaks; Replicate's and fal's catalogues are far too
big to diff, and their ids are taken as typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from lib.providers.base import Provider

SHOWN = 20  # ids named in a summary; the rest are counted


@dataclass(frozen=True)
class Retired:
    """A model Promptboard knows the shutdown of, and whether the provider still lists it."""

    model: str
    on: date
    replacement: str
    listed: bool


@dataclass(frozen=True)
class Discovery:
    """The outcome of one check; ``listed`` is None when the provider has no list."""

    provider: str
    listed: tuple[str, ...] | None
    new: tuple[str, ...] = ()
    gone: tuple[str, ...] = ()
    retired: tuple[Retired, ...] = ()

    def summary(self) -> str:
        """One paragraph for an admin."""
        if self.listed is None:
            return "This provider's API has no model list, so there is nothing to compare."
        parts = [f"It lists {len(self.listed)} image model{'s' * (len(self.listed) != 1)}."]
        if self.new:
            more = f" and {len(self.new) - SHOWN} more" if len(self.new) > SHOWN else ""
            parts.append(f"New (not offered here): {', '.join(self.new[:SHOWN])}{more}.")
        if self.gone:
            parts.append(f"No longer listed, but offered here: {', '.join(self.gone)} — "
                         "probably shut down; move styles and people off it.")
        if not self.new and not self.gone:
            parts.append("Nothing new, nothing gone.")
        return " ".join(parts)


def check(provider: Provider, today: date) -> Discovery:
    """Ask the provider for its list (its errors propagate as ProviderError) and compare."""
    found = provider.list_models()
    if found is None:
        return Discovery(provider.id, None)
    listed = tuple(dict.fromkeys(found))
    line = provider.line  # the database's catalog when an engine made the provider
    offered = set(line.live(today))
    known = set(line.offered) | set(line.shutdowns) | set(line.disabled)
    new = tuple(m for m in listed if m not in known)
    gone = tuple(sorted(m for m in offered if m not in listed))
    if provider.caps.open_models:  # any id is taken as typed: only what it lists matters
        new, gone = (), ()
    retired = tuple(Retired(m, s.on, s.replacement, m in listed)
                    for m, s in sorted(line.shutdowns.items(), key=lambda kv: kv[1].on))
    return Discovery(provider.id, listed, new, gone, retired)
