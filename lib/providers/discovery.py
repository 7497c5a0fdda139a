"""Check for new models: what a provider's own API lists, set against what Promptboard offers.

Google shut down every Gemini model Promptboard offered before anyone noticed; a check of the
provider's list tells an admin first. It never enables or changes anything by itself::

    new        listed by the provider, unknown to Promptboard (neither offered nor retired):
               a model to consider; open-model providers already take it by id
    gone       offered here, no longer listed (or, by a lookup, unknown to the provider):
               probably shut down; move styles and people off
    deprecated offered or known here, marked deprecated by the provider's lookup (fal)
    retired    Promptboard knows its shutdown (date and replacement): whether it is still listed

Two ways to ask (``Provider.list_models`` and ``Provider.lookup_models``; None: not this way):

- a list: Gemini's and OpenAI's model lists, AUTOMATIC1111's checkpoints. Replicate lists the
  curated ``text-to-image`` collection and fal its active text-to-image models (the model
  search, cut at 500): sources of new ids only, as their catalogues are far too big to list
  whole, so nothing is "gone" for not being in them.
- a lookup, one id at a time, of the ids Promptboard offers or knows (live ones first, then
  the enabled, retired and turned-off ones; at most :data:`MAX_LOOKUPS` per check, the rest
  counted as not looked up): Replicate's ``GET /models/{owner}/{name}`` (404: gone) and fal's
  model search by ``endpoint_id`` (absent: gone; ``deprecated`` said so).

Stability and BFL have neither, and say so; an open-model provider without a lookup
(AUTOMATIC1111) takes any id as typed, so only what it lists matters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from lib.providers.base import Provider
from lib.providers.types import DEPRECATED, LIVE, MISSING, ModelLine

SHOWN = 20  # ids named in a summary; the rest are counted
MAX_LOOKUPS = 50  # ids looked up one by one per check (one call each at Replicate)


@dataclass(frozen=True)
class Retired:
    """A model Promptboard knows the shutdown of, and whether the provider still lists it."""

    model: str
    on: date
    replacement: str
    listed: bool


@dataclass(frozen=True)
class Discovery:
    """The outcome of one check; ``listed`` is None when the provider has neither a list nor
    a lookup. With a lookup, ``listed`` holds the ids it confirmed (and any its list named),
    ``looked_up`` the ids asked and ``skipped`` how many more were not (``MAX_LOOKUPS``)."""

    provider: str
    listed: tuple[str, ...] | None
    new: tuple[str, ...] = ()
    gone: tuple[str, ...] = ()
    retired: tuple[Retired, ...] = ()
    deprecated: tuple[str, ...] = ()
    looked_up: tuple[str, ...] | None = None
    skipped: int = 0
    known: int = 0  # of ``looked_up``, how many the provider has (live or deprecated)

    def summary(self) -> str:
        """One paragraph for an admin."""
        if self.listed is None:
            return "This provider's API has no model list, so there is nothing to compare."
        if self.looked_up is None:
            parts = [f"It lists {len(self.listed)} image model{'s' * (len(self.listed) != 1)}."]
        else:
            asked = len(self.looked_up)
            parts = [f"Looked up {asked} model id{'s' * (asked != 1)} offered or known here "
                     f"(at most {MAX_LOOKUPS} per check): it knows {self.known}."]
            if self.skipped:
                parts.append(f"{self.skipped} more were not looked up.")
            if extra := len(set(self.listed) - set(self.looked_up)):
                parts.append(f"Its curated list names {extra} more.")
        if self.new:
            more = f" and {len(self.new) - SHOWN} more" if len(self.new) > SHOWN else ""
            parts.append(f"New (not offered here): {', '.join(self.new[:SHOWN])}{more}.")
        if self.gone:
            parts.append(f"No longer listed, but offered here: {', '.join(self.gone)} — "
                         "probably shut down; move styles and people off it.")
        if self.deprecated:
            parts.append(f"Deprecated by the provider: {', '.join(self.deprecated)} — it may "
                         "shut down soon; set a shutdown date and replacement.")
        if not self.new and not self.gone and not self.deprecated:
            parts.append("Nothing new, nothing gone.")
        return " ".join(parts)


def lookup_ids(line: ModelLine, today: date) -> tuple[str, ...]:
    """The ids a lookup asks about, most important first: the live offered ones, those an
    admin enabled, the retired ones, the turned-off ones."""
    return tuple(dict.fromkeys((*line.live(today), *sorted(line.generic),
                                *sorted(line.shutdowns), *sorted(line.disabled))))


def check(provider: Provider, today: date) -> Discovery:
    """Ask the provider for its list and its lookup (their errors propagate as
    ProviderError) and compare."""
    line = provider.line  # the database's catalog when an engine made the provider
    found = provider.list_models()
    wanted = lookup_ids(line, today)
    asked = wanted[:MAX_LOOKUPS]
    looked = provider.lookup_models(asked)
    if found is None and looked is None:
        return Discovery(provider.id, None)
    listed = tuple(dict.fromkeys(found or ()))
    offered = set(line.live(today))
    known = set(line.offered) | set(line.shutdowns) | set(line.disabled)
    new = tuple(m for m in listed if m not in known)
    if looked is None:
        gone = tuple(sorted(m for m in offered if m not in listed))
        if provider.caps.open_models:  # any id is taken as typed: only what it lists matters
            new, gone = (), ()
        retired = tuple(Retired(m, s.on, s.replacement, m in listed)
                        for m, s in sorted(line.shutdowns.items(), key=lambda kv: kv[1].on))
        return Discovery(provider.id, listed, new, gone, retired)
    there = {m for m, status in looked.items() if status in (LIVE, DEPRECATED)}
    confirmed = tuple(dict.fromkeys((*(m for m in asked if m in there), *listed)))
    gone = tuple(sorted(m for m in offered if looked.get(m) == MISSING))
    deprecated = tuple(m for m in asked if looked.get(m) == DEPRECATED)
    retired = tuple(Retired(m, s.on, s.replacement, m in there or m in listed)
                    for m, s in sorted(line.shutdowns.items(), key=lambda kv: kv[1].on))
    return Discovery(provider.id, confirmed, new, gone, retired, deprecated, asked,
                     len(wanted) - len(asked), sum(1 for m in asked if m in there))
